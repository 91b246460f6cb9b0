#include <brotli/decode.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "edge/cache/body_buffer.h"
#include "edge/compress/compressor.h"

using namespace edge;

namespace {

std::string gunzip(const std::string& in) {
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
    std::string out;
    char buf[16384];
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int rc;
    do {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
        out.append(buf, sizeof buf - zs.avail_out);
    } while (rc != Z_STREAM_END);
    CHECK(zs.avail_in == 0);
    inflateEnd(&zs);
    return out;
}

std::string unbrotli(const std::string& in) {
    BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    std::string out;
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    size_t avail_in = in.size();
    uint8_t buf[16384];
    BrotliDecoderResult r;
    do {
        uint8_t* next_out = buf;
        size_t avail_out = sizeof buf;
        r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
        REQUIRE(r != BROTLI_DECODER_RESULT_ERROR);
        out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
    } while (r != BROTLI_DECODER_RESULT_SUCCESS);
    CHECK(avail_in == 0);
    BrotliDecoderDestroyInstance(s);
    return out;
}

std::string text_of(size_t n) {
    std::mt19937 rng(42);
    static const char* words[] = {"function", "return", "const", "the", "cache", "edge", "<div class=\"x\">", "\n"};
    std::string s;
    while (s.size() < n) {
        s += words[rng() % 8];
        s += ' ';
    }
    s.resize(n);
    return s;
}

// A body split over several BodyBuffer chunks, as the fill builds it from an unknown length.
void fill(BodyBuffer& b, const std::string& s) {
    for (size_t off = 0; off < s.size(); off += 10000)
        b.append(s.data() + off, std::min<size_t>(10000, s.size() - off));
}

} // namespace

TEST_CASE("gzip and brotli round-trip byte for byte", "[edge][compress]") {
    for (size_t n : {size_t(1000), size_t(16 << 10), size_t(300000), size_t(2 << 20)}) {
        std::string text = text_of(n);
        BodyBuffer body(0);
        fill(body, text);
        for (ContentCoding c : {ContentCoding::gzip, ContentCoding::br}) {
            INFO("size " << n << " coding " << content_coding_name(c));
            std::string out;
            int level = c == ContentCoding::br ? kDefaultBrotliQuality : kDefaultGzipLevel;
            REQUIRE(compress_body(c, level, body, body.size(), &out));
            CHECK(out.size() < text.size() / 2);
            CHECK((c == ContentCoding::gzip ? gunzip(out) : unbrotli(out)) == text);
        }
    }
}

TEST_CASE("every level round-trips", "[edge][compress]") {
    std::string text = text_of(50000);
    BodyBuffer body(text.size());
    body.append(text);
    for (int q = 0; q <= 11; ++q) {
        std::string out;
        REQUIRE(compress_body(ContentCoding::br, q, body, body.size(), &out));
        CHECK(unbrotli(out) == text);
    }
    for (int l = 1; l <= 9; ++l) {
        std::string out;
        REQUIRE(compress_body(ContentCoding::gzip, l, body, body.size(), &out));
        CHECK(gunzip(out) == text);
    }
}

TEST_CASE("incompressible bodies give up at the identity size", "[edge][compress]") {
    std::mt19937 rng(7);
    std::string noise(200000, '\0');
    for (char& ch : noise)
        ch = static_cast<char>(rng());
    BodyBuffer body(noise.size());
    body.append(noise);
    std::string out;
    CHECK_FALSE(compress_body(ContentCoding::gzip, 6, body, body.size(), &out));
    CHECK_FALSE(compress_body(ContentCoding::br, 5, body, body.size(), &out));
    CHECK_FALSE(compress_body(ContentCoding::identity, 5, body, body.size(), &out));
}
