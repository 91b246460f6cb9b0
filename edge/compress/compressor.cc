#include "edge/compress/compressor.h"

#include <brotli/encode.h>
#include <zlib.h>

#include <algorithm>

namespace edge {
namespace {

constexpr size_t kOutStep = 64 << 10;

bool gzip_body(int level, const BodyBuffer& in, uint64_t give_up_at, std::string* out) {
    z_stream zs{};
    // windowBits 15 + 16: gzip framing (header and CRC-32 trailer), which is what "gzip" means on the wire.
    if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    char buf[kOutStep];
    bool ok = true;
    uint64_t off = 0, total = in.size();
    auto drain = [&](int flush) {
        int rc;
        do {
            zs.next_out = reinterpret_cast<Bytef*>(buf);
            zs.avail_out = sizeof buf;
            rc = deflate(&zs, flush);
            if (rc == Z_STREAM_ERROR) return false;
            out->append(buf, sizeof buf - zs.avail_out);
            if (out->size() >= give_up_at) return false;
        } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
        return true;
    };
    while (ok && off < total) {
        BodySlice sl[8];
        size_t n = in.slices(off, total, sl, 8);
        if (n == 0) break;
        for (size_t i = 0; ok && i < n; ++i) {
            zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(sl[i].data));
            zs.avail_in = static_cast<uInt>(sl[i].len);
            ok = drain(Z_NO_FLUSH);
            off += sl[i].len;
        }
    }
    ok = ok && off == total && drain(Z_FINISH);
    deflateEnd(&zs);
    return ok;
}

bool brotli_body(int quality, const BodyBuffer& in, uint64_t give_up_at, std::string* out) {
    BrotliEncoderState* s = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
    if (!s) return false;
    BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(std::clamp(quality, 0, 11)));
    uint64_t total = in.size();
    BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT, static_cast<uint32_t>(std::min<uint64_t>(total, 1u << 30)));
    uint8_t buf[kOutStep];
    bool ok = true;
    auto run = [&](BrotliEncoderOperation op, const uint8_t** next_in, size_t* avail_in) {
        for (;;) {
            size_t avail_out = sizeof buf;
            uint8_t* next_out = buf;
            if (!BrotliEncoderCompressStream(s, op, avail_in, next_in, &avail_out, &next_out, nullptr)) return false;
            out->append(reinterpret_cast<const char*>(buf), sizeof buf - avail_out);
            if (out->size() >= give_up_at) return false;
            bool more = BrotliEncoderHasMoreOutput(s);
            if (op == BROTLI_OPERATION_FINISH) {
                if (BrotliEncoderIsFinished(s) && !more) return true;
            } else if (*avail_in == 0 && !more) {
                return true;
            }
        }
    };
    uint64_t off = 0;
    while (ok && off < total) {
        BodySlice sl[8];
        size_t n = in.slices(off, total, sl, 8);
        if (n == 0) break;
        for (size_t i = 0; ok && i < n; ++i) {
            const uint8_t* next_in = reinterpret_cast<const uint8_t*>(sl[i].data);
            size_t avail_in = sl[i].len;
            ok = run(BROTLI_OPERATION_PROCESS, &next_in, &avail_in);
            off += sl[i].len;
        }
    }
    if (ok && off == total) {
        const uint8_t* next_in = nullptr;
        size_t avail_in = 0;
        ok = run(BROTLI_OPERATION_FINISH, &next_in, &avail_in);
    } else {
        ok = false;
    }
    BrotliEncoderDestroyInstance(s);
    return ok;
}

} // namespace

bool compress_body(ContentCoding c, int level, const BodyBuffer& in, uint64_t give_up_at, std::string* out) {
    out->clear();
    out->reserve(static_cast<size_t>(std::min<uint64_t>(in.size() / 2 + 1024, give_up_at)));
    switch (c) {
    case ContentCoding::gzip:
        return gzip_body(level, in, give_up_at, out);
    case ContentCoding::br:
        return brotli_body(level, in, give_up_at, out);
    case ContentCoding::identity:
        break;
    }
    return false;
}

} // namespace edge
