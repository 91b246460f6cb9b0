// A bounded response writer with name compression (RFC 1035 §4.1.4). Writes go into a caller's buffer up to a
// limit; a write past the limit marks the writer failed (sticky) so the engine can rewind to a mark and decide
// between dropping an additional RRset and setting TC. Compression targets live in a fixed table: no heap. Each
// target keeps a hash of its (lower-cased) name, indexed by a small open-addressed table, so a lookup compares
// only names whose hashes agree: a zone transfer's 64 KiB messages fill the target table, and comparing every name
// against every target was most of a transfer's cost. Names are hashed from the root label up, so one pass over a
// name yields the hash of every suffix (hashing each suffix from its first label made a name cost O(labels²)).
// The last name written is remembered: records of one owner come in a row (an RRset, a transfer's node), and
// repeating it costs one comparison, and stays a pointer or a copy of its encoding when the target table is full or
// the name sits past the 16 KiB pointers reach; so is where its parent is, which its siblings (a transfer's next
// names) point at after hashing their own first label only.
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
    // A record's fixed fields after its owner (RFC 1035 §4.1.3), in one bounds check.
    void rr_fields(uint16_t type, uint16_t klass, uint32_t ttl, uint16_t rdlength) noexcept {
        if (!need(10)) return;
        uint8_t* p = buf_ + pos_;
        p[0] = static_cast<uint8_t>(type >> 8);
        p[1] = static_cast<uint8_t>(type);
        p[2] = static_cast<uint8_t>(klass >> 8);
        p[3] = static_cast<uint8_t>(klass);
        p[4] = static_cast<uint8_t>(ttl >> 24);
        p[5] = static_cast<uint8_t>(ttl >> 16);
        p[6] = static_cast<uint8_t>(ttl >> 8);
        p[7] = static_cast<uint8_t>(ttl);
        p[8] = static_cast<uint8_t>(rdlength >> 8);
        p[9] = static_cast<uint8_t>(rdlength);
        pos_ += 10;
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
    // Hashes of the lower-cased name's suffixes, from the root up: hashes[i] is the hash of the name from its
    // label i on (label offsets in `at`, `n` labels before the root). Of a wire name, or of the packet's name at
    // `off` (pointers followed); both give the same hash for the same name. False when the name is malformed or
    // has more than kMaxLabels labels.
    static constexpr size_t kMaxLabels = 128;
    static bool wire_suffix_hashes(std::string_view wire, uint32_t* at, uint32_t* hashes, size_t* n) noexcept;
    bool packet_suffix_hashes(size_t off, uint32_t* at, uint32_t* hashes, size_t* n) const noexcept;
    // Writes the name again from its last occurrence at last_name_ (the same bytes as last_wire_).
    void repeat_last_name() noexcept;
    // The name just written at `start` is the last one (its encoding ends at pos()).
    void remember(size_t start, std::string_view wire) noexcept;
    // When `wire` differs from the last name in its first label only (a zone's names in order: h1.zone, h2.zone),
    // writes it as that label and a pointer to the tail the last name found, hashing one label instead of all.
    bool sibling_of_last(std::string_view wire) noexcept;
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
    // At most a quarter full: a transfer message keeps the table full, and nearly every owner name in it misses
    // once before its suffix is found, so the probe length of a miss counts (1.4 probes here, 2.5 at half full).
    static constexpr size_t kBuckets = 4 * kMaxTargets;

    uint8_t* buf_;
    size_t cap_;
    size_t limit_;
    size_t pos_ = 0;
    bool err_ = false;
    uint16_t targets_[kMaxTargets];
    uint32_t target_hash_[kMaxTargets];
    uint8_t bucket_[kBuckets] = {}; // target index + 1; 0 = empty
    size_t ntargets_ = 0;
    static constexpr size_t kNoName = SIZE_MAX;
    size_t last_name_ = kNoName; // where the last name() began in the packet, and where it ended
    size_t last_name_end_ = 0;
    size_t last_tail_ = kNoName; // the last name without its first label, in the packet (below 0x4000)
    uint32_t last_tail_hash_ = 0;
    // The last name as it was passed (compared byte for byte: cheaper than walking its encoding in the packet),
    // stored flush with the end of last_wire_: a sibling that follows shares its tail, so remembering it copies only
    // its first label.
    size_t last_wire_len_ = 0;
    uint8_t last_wire_[255];
    const uint8_t* last_wire() const noexcept { return last_wire_ + sizeof last_wire_ - last_wire_len_; }
};

} // namespace dns
