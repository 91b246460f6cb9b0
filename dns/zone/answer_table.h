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
    // Adds the record of one name (lower-case wire, hash = name_hash(name)); names must be distinct.
    void add(std::string_view name, uint64_t hash, const std::vector<Answer>& answers);

    struct Hit {
        const uint8_t* bytes = nullptr;
        uint16_t len = 0, an = 0, ar = 0; // an == 0: a steered name's address type
    };
    bool find(std::string_view name, uint64_t hash, uint16_t qtype, Hit* hit) const noexcept;

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
    // Record: [u8 name_len][name][u8 count] then count × [u16 type][u16 an][u16 ar][u16 len], then the bytes in order.
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t used_ = 0;
    std::string arena_;
};

} // namespace dns
