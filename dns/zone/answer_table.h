// A zone's pre-rendered exact-match answers, laid out for the query path's memory access rather than for building:
// one open-addressing table of 8-byte slots (hash tag, record offset) and one byte arena where each name's record
// holds the name, its answerable types and their answer bytes together. A hit reads one slot and one record (a cache
// line or two), where the node graph costs a slot, a node, its name string, its RRset array and the bytes, a miss
// each. The server prefetches the slots of a whole batch of queries before answering any (prefetch()).
//
// Filled once by dns/engine/answer_compiler.h, then read-only: any thread may find().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dns {

class AnswerTable {
  public:
    struct Answer {
        uint16_t type;
        uint16_t an; // answer records; 0 = steered: the engine asks the steering hook (no bytes)
        uint16_t ar; // additional records
        std::string_view bytes;
    };
    // Room for `names` records without re-hashing (the compiler knows the zone's size).
    void reserve(size_t names);
    // Adds the record of one name (lower-case wire, hash = name_hash(name)); names must be distinct. `complete`: the
    // answers cover every type the name holds, so a type not among them is NODATA. `nodata` (complete names only):
    // what follows negative() in the name's NODATA answer, whatever type was asked (a signed zone's NSEC at the name
    // and its RRSIG), with `an` holding its authority record count.
    void add(std::string_view name, uint64_t hash, const std::vector<Answer>& answers, bool complete,
             const Answer* nodata = nullptr);

    struct Hit {
        const uint8_t* bytes = nullptr;
        uint16_t len = 0, an = 0, ar = 0; // an == 0: a steered name's address type
        uint16_t ns = 0;                  // Match::nodata with len > 0: the authority records of bytes
    };
    enum class Match : uint8_t {
        none,   // not a name of the table (the engine decides)
        answer, // *hit is the answer
        nodata, // the name holds no data of this type (its record is complete); *hit is its `nodata` bytes, if any
    };
    Match find(std::string_view name, uint64_t hash, uint16_t qtype, Hit* hit) const noexcept;

    // The zone's negative answer authority (its SOA with the RFC 2308 TTL, and in a DO=1 table the SOA's RRSIG:
    // `count` records), rendered after a question of the apex alone. Every compression pointer in it lands either in
    // the question's apex or inside these bytes, so after a longer question it only shifts: relocate_negative() adds
    // (question name length - apex length) to each pointer listed in `pointers` (offsets into `bytes`).
    void set_negative(std::string bytes, std::vector<uint16_t> pointers, size_t apex_len, uint16_t count = 1);
    std::string_view negative() const noexcept { return negative_; }
    uint16_t negative_count() const noexcept { return negative_count_; }
    // Fixes the pointers of a copy of negative() at `at`, for a question name of `qname_len` bytes.
    void relocate_negative(uint8_t* at, size_t qname_len) const noexcept;

    // Query-batch pipeline: first the slot, then (once it is cached) the record it names.
    void prefetch_slot(uint64_t hash) const noexcept {
        if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
    }
    void prefetch_record(uint64_t hash) const noexcept;

    size_t names() const noexcept { return used_; }
    size_t memory_bytes() const noexcept { return slots_.capacity() * sizeof(Slot) + arena_.capacity(); }
    void shrink() { arena_.shrink_to_fit(); }

  private:
    void grow();
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
    struct Slot {
        uint32_t tag = 0;
        uint32_t off = kEmpty;
    };
    // Record: [u8 name_len][name][u8 count][u8 kind] then count × [u16 type][u16 an][u16 ar][u16 len], then the
    // bytes in order. kind: 0 = incomplete, 1 = complete, 2 = complete and the last entry is the `nodata` one.
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t used_ = 0;
    std::string arena_;
    std::string negative_;
    std::vector<uint16_t> negative_ptrs_;
    size_t apex_len_ = 0;
    uint16_t negative_count_ = 0;
};

} // namespace dns
