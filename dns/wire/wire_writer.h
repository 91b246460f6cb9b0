// A bounded response writer with name compression (RFC 1035 §4.1.4). Writes go into a caller's buffer up to a
// limit; a write past the limit marks the writer failed (sticky) so the engine can rewind to a mark and decide
// between dropping an additional RRset and setting TC. Compression targets live in a fixed table: no heap. Each
// target keeps a hash of its (lower-cased) name, indexed by a small open-addressed table, so a lookup compares
// only names whose hashes agree: a zone transfer's 64 KiB messages fill the target table, and comparing every name
// against every target was most of a transfer's cost.
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
    // Hash of the lower-cased uncompressed name: of a wire name, or of the packet's name at `off` (pointers
    // followed); both hash the same bytes for the same name. False when the packet name is malformed.
    static uint32_t name_hash(std::string_view wire) noexcept;
    bool packet_name_hash(size_t off, uint32_t* hash) const noexcept;
    void push_target(size_t off, uint32_t hash) noexcept {
        if (ntargets_ < kMaxTargets) {
            targets_[ntargets_] = static_cast<uint16_t>(off);
            target_hash_[ntargets_++] = hash;
            index_target(ntargets_ - 1);
        }
    }
    // Linear probing from the hash's bucket; targets of one hash sit in insertion order along the probe sequence,
    // so the first match is the earliest target, as a scan in order would find.
    void index_target(size_t i) noexcept {
        size_t b = target_hash_[i] & (kBuckets - 1);
        while (bucket_[b])
            b = (b + 1) & (kBuckets - 1);
        bucket_[b] = static_cast<uint8_t>(i + 1);
    }
    static constexpr size_t kBuckets = 2 * kMaxTargets; // at most half full

    uint8_t* buf_;
    size_t cap_;
    size_t limit_;
    size_t pos_ = 0;
    bool err_ = false;
    uint16_t targets_[kMaxTargets];
    uint32_t target_hash_[kMaxTargets];
    uint8_t bucket_[kBuckets] = {}; // target index + 1; 0 = empty
    size_t ntargets_ = 0;
};

} // namespace dns
