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

void WireWriter::add_target(size_t off) noexcept {
    // Every label of the name is a target of its own.
    unsigned hops = 0;
    while (off < pos_ && off < 0x4000) {
        uint8_t l = buf_[off];
        if (l == 0 || (l & 0xC0) == 0xC0 || ++hops > 128) return;
        if (ntargets_ < kMaxTargets) targets_[ntargets_++] = static_cast<uint16_t>(off);
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
        if (compress) {
            std::string_view suffix = wire.substr(s);
            for (size_t i = 0; i < ntargets_; i++) {
                if (packet_name_equals(targets_[i], suffix)) {
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
        if (!err_ && at < 0x4000 && ntargets_ < kMaxTargets) targets_[ntargets_++] = static_cast<uint16_t>(at);
        s += 1 + l;
    }
}

void WireWriter::rewind(size_t pos) noexcept {
    if (pos > pos_) return;
    pos_ = pos;
    err_ = false;
    while (ntargets_ > 0 && targets_[ntargets_ - 1] >= pos) ntargets_--;
}

} // namespace dns
