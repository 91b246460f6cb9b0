#include "dns/wire/wire_writer.h"

#include "dns/wire/dns_name.h"

namespace dns {

bool WireWriter::packet_name_equals(size_t off, std::string_view suffix) const noexcept {
    size_t s = 0;
    unsigned hops = 0;
    while (off < pos_) {
        uint8_t l = buf_[off];
        if ((l & 0xC0) == 0xC0) {
            if (off + 1 >= pos_ || ++hops > 64) return false;
            off = static_cast<size_t>(((l & 0x3F) << 8) | buf_[off + 1]);
            continue;
        }
        if (s >= suffix.size() || static_cast<uint8_t>(suffix[s]) != l) return false;
        if (l == 0) return true;
        if (off + 1 + l > pos_) return false;
        for (size_t i = 1; i <= l; i++) {
            if (ascii_lower(buf_[off + i]) != ascii_lower(static_cast<uint8_t>(suffix[s + i]))) return false;
        }
        off += 1 + l;
        s += 1 + l;
    }
    return false;
}

namespace {
constexpr uint32_t kFnvBasis = 2166136261u;
inline uint32_t fnv(uint32_t h, uint8_t c) noexcept {
    return (h ^ c) * 16777619u;
}
} // namespace

uint32_t WireWriter::name_hash(std::string_view wire) noexcept {
    // Up to the root label: the same bytes packet_name_hash sees, whatever follows in `wire`.
    uint32_t h = kFnvBasis;
    size_t s = 0;
    while (s < wire.size()) {
        uint8_t l = static_cast<uint8_t>(wire[s]);
        h = fnv(h, l);
        if (l == 0) break;
        for (size_t i = 1; i <= l && s + i < wire.size(); i++)
            h = fnv(h, ascii_lower(static_cast<uint8_t>(wire[s + i])));
        s += 1 + l;
    }
    return h;
}

bool WireWriter::packet_name_hash(size_t off, uint32_t* hash) const noexcept {
    uint32_t h = kFnvBasis;
    unsigned hops = 0;
    while (off < pos_) {
        uint8_t l = buf_[off];
        if ((l & 0xC0) == 0xC0) {
            if (off + 1 >= pos_ || ++hops > 64) return false;
            off = static_cast<size_t>(((l & 0x3F) << 8) | buf_[off + 1]);
            continue;
        }
        if (l & 0xC0) return false;
        h = fnv(h, l);
        if (l == 0) {
            *hash = h;
            return true;
        }
        if (off + 1 + l > pos_) return false;
        for (size_t i = 1; i <= l; i++)
            h = fnv(h, ascii_lower(buf_[off + i]));
        off += 1 + l;
    }
    return false;
}

void WireWriter::add_target(size_t off) noexcept {
    // Every label of the name is a target of its own.
    unsigned hops = 0;
    while (off < pos_ && off < 0x4000) {
        uint8_t l = buf_[off];
        if (l == 0 || (l & 0xC0) == 0xC0 || ++hops > 128) return;
        uint32_t h;
        if (!packet_name_hash(off, &h)) return;
        push_target(off, h);
        off += 1 + l;
    }
}

void WireWriter::name(std::string_view wire, bool compress) noexcept {
    size_t s = 0;
    while (s < wire.size()) {
        uint8_t l = static_cast<uint8_t>(wire[s]);
        if (l == 0) {
            u8(0);
            return;
        }
        std::string_view suffix = wire.substr(s);
        const uint32_t h = name_hash(suffix);
        if (compress) {
            for (size_t b = h & (kBuckets - 1); bucket_[b]; b = (b + 1) & (kBuckets - 1)) {
                size_t i = bucket_[b] - 1u;
                if (target_hash_[i] == h && packet_name_equals(targets_[i], suffix)) {
                    u16(static_cast<uint16_t>(0xC000 | targets_[i]));
                    return;
                }
            }
        }
        size_t at = pos_;
        if (s + 1 + l > wire.size()) {
            err_ = true;
            return;
        }
        bytes(wire.data() + s, 1 + l);
        if (!err_ && at < 0x4000) push_target(at, h);
        s += 1 + l;
    }
}

void WireWriter::rewind(size_t pos) noexcept {
    if (pos > pos_) return;
    pos_ = pos;
    err_ = false;
    size_t before = ntargets_;
    while (ntargets_ > 0 && targets_[ntargets_ - 1] >= pos)
        ntargets_--;
    if (ntargets_ == before) return;
    std::memset(bucket_, 0, sizeof bucket_);
    for (size_t i = 0; i < ntargets_; i++)
        index_target(i);
}

} // namespace dns
