// A bounded heavy-hitters sketch (Space-Saving, Metwally, Agrawal and El Abbadi 2005): the keys seen most often (or
// with the most weight, e.g. bytes) in a stream of any number of distinct keys, in fixed memory. It keeps
// `capacity` counters; a key not among them takes the smallest counter's place and inherits its count as its
// possible overcount (`error`). Every key whose true weight exceeds total/capacity is kept, and a kept key's
// count is at most `error` above its true weight. add() makes no allocation: keys are copied into fixed slots
// (truncated to kKeyMax bytes) and found through an open-addressing index allocated at construction.
// Not thread-safe: one per writer (the edge keeps one per worker, edge/console/top_urls.h) and merge() on a reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shared {

class HeavyHitters {
  public:
    static constexpr size_t kKeyMax = 120;

    struct Item {
        std::string key;
        uint64_t count = 0; // an upper bound of the key's true weight
        uint64_t error = 0; // count - error is a lower bound
    };

    explicit HeavyHitters(size_t capacity);
    HeavyHitters(const HeavyHitters&) = delete;
    HeavyHitters& operator=(const HeavyHitters&) = delete;

    void add(std::string_view key, uint64_t weight = 1) noexcept { add(key, hash(key), weight); }
    // The same with the key's hash(), for a caller that adds one key to several sketches.
    void add(std::string_view key, uint64_t key_hash, uint64_t weight) noexcept;
    static uint64_t hash(std::string_view key) noexcept;
    // Every kept key, heaviest first (ties by key).
    std::vector<Item> items() const;
    size_t capacity() const { return capacity_; }
    size_t size() const { return used_; }
    uint64_t total() const { return total_; } // weight added so far
    void clear() noexcept;

    // Sums the items of several sketches (e.g. one per worker) by key and returns the `n` heaviest. A key missing
    // from a sketch counts 0 there, so a merged count is a lower bound of the sum of the sketches' upper bounds and
    // the order of keys with weights well above total/capacity in each stream is kept.
    static std::vector<Item> merge(const std::vector<std::vector<Item>>& parts, size_t n);

  private:
    struct Slot {
        uint64_t hash = 0;
        uint64_t error = 0;
        uint8_t len = 0;
        char key[kKeyMax];
    };
    uint32_t smallest() noexcept;                                    // a slot with the smallest count
    size_t find(std::string_view key, uint64_t hash) const noexcept; // slot index or capacity_
    void index_insert(uint32_t slot) noexcept;
    void index_erase(uint32_t slot) noexcept;

    size_t capacity_;
    size_t used_ = 0;
    uint64_t total_ = 0;
    std::unique_ptr<Slot[]> slots_;
    // Counts apart from the slots, so the search for the smallest reads 8 bytes a slot, not a 150-byte slot each.
    std::unique_ptr<uint64_t[]> counts_;
    // Counts only grow, so a count equal to a minimum seen before is the minimum now: the search stops at the first
    // such slot from where the last one ended. A stream of new keys (a miss-heavy or long-tail mix) then finds one
    // at once, where a full scan of every counter cost each such request hundreds of instructions per sketch.
    uint64_t min_hint_ = 0;
    uint32_t cursor_ = 0;
    std::unique_ptr<uint32_t[]> index_; // slot + 1, 0 = empty; linear probing, 2-4x capacity
    size_t mask_ = 0;
};

} // namespace shared
