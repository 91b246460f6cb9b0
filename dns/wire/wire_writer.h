// A bounded response writer with name compression (RFC 1035 §4.1.4). Writes go into a caller's buffer up to a
// limit; a write past the limit marks the writer failed (sticky) so the engine can rewind to a mark and decide
// between dropping an additional RRset and setting TC. Compression targets live in a fixed table: no heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace dns {

class WireWriter {
public:
    WireWriter(uint8_t* buf, size_t cap) noexcept : buf_(buf), cap_(cap), limit_(cap) {}

    void set_limit(size_t limit) noexcept { limit_ = limit < cap_ ? limit : cap_; }
    size_t limit() const noexcept { return limit_; }
    size_t pos() const noexcept { return pos_; }
    bool ok() const noexcept { return !err_; }
    uint8_t* data() noexcept { return buf_; }

    void u8(uint8_t v) noexcept {
        if (need(1)) buf_[pos_++] = v;
    }
    void u16(uint16_t v) noexcept {
        if (!need(2)) return;
        buf_[pos_] = static_cast<uint8_t>(v >> 8);
        buf_[pos_ + 1] = static_cast<uint8_t>(v);
        pos_ += 2;
    }
    void u32(uint32_t v) noexcept {
        if (!need(4)) return;
        buf_[pos_] = static_cast<uint8_t>(v >> 24);
        buf_[pos_ + 1] = static_cast<uint8_t>(v >> 16);
        buf_[pos_ + 2] = static_cast<uint8_t>(v >> 8);
        buf_[pos_ + 3] = static_cast<uint8_t>(v);
        pos_ += 4;
    }
    void bytes(const void* p, size_t n) noexcept {
        if (!need(n)) return;
        std::memcpy(buf_ + pos_, p, n);
        pos_ += n;
    }
    void patch_u16(size_t off, uint16_t v) noexcept {
        if (off + 2 > pos_) return;
        buf_[off] = static_cast<uint8_t>(v >> 8);
        buf_[off + 1] = static_cast<uint8_t>(v);
    }

    // Writes an uncompressed wire name (any letter case). With `compress`, its longest suffix already in the packet
    // becomes a pointer; either way the newly written labels become targets for later names.
    void name(std::string_view wire, bool compress = true) noexcept;
    // Registers a name already in the packet at `off` (the question) as a compression target.
    void add_target(size_t off) noexcept;

    // Back to an earlier pos(): clears the error and forgets compression targets written after it.
    void rewind(size_t pos) noexcept;

    static constexpr size_t kMaxTargets = 128;

private:
    bool need(size_t n) noexcept {
        if (err_ || limit_ - pos_ < n) err_ = true;
        return !err_;
    }
    // Does the packet name starting at `off` equal `suffix` (case-insensitively)?
    bool packet_name_equals(size_t off, std::string_view suffix) const noexcept;

    uint8_t* buf_;
    size_t cap_;
    size_t limit_;
    size_t pos_ = 0;
    bool err_ = false;
    uint16_t targets_[kMaxTargets];
    size_t ntargets_ = 0;
};

} // namespace dns
