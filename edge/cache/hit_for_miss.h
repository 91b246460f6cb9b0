// Varnish's hit-for-miss memory for one MissCoalescer shard: keys whose last answer was uncacheable (no-store,
// private, Set-Cookie, too large...), each remembered until an expiry, so later misses for them skip collapsing.
//
// Clients choose the keys (every unique URL on a no-store path adds one), so the table lives inside a byte budget:
// each entry is charged its key plus kEntryOverhead (list node, index node, bucket, string header), and remembering a
// key past the budget evicts the least recently used entries. Forgetting a key too early only costs one collapsed
// miss, so eviction is always safe. Lookups allocate nothing (the index is keyed by string_view + the caller's
// keyed hash, see hash_cache_key).
// Not thread-safe: the owning coalescer shard's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edge {

class HitForMissTable {
public:
    // Bytes charged per entry on top of its key: measured with glibc malloc on x86-64 (list node 80, index node 64,
    // bucket 8, the key's own heap block header and rounding 24); see the unit test that checks it.
    static constexpr uint64_t kEntryOverhead = 176;
    static constexpr uint64_t charge(size_t key_len) { return key_len + kEntryOverhead; }

    explicit HitForMissTable(uint64_t budget_bytes = 0) : budget_(budget_bytes) {}
    HitForMissTable(const HitForMissTable&) = delete;
    HitForMissTable& operator=(const HitForMissTable&) = delete;

    // True when `key` (hash = hash_cache_key(key)) is remembered until after now_ms; it becomes the most recently
    // used entry. An expired entry is dropped and reads as false.
    bool check(std::string_view key, uint64_t hash, uint64_t now_ms);
    // Remembers `key` until `until_ms` (a known key gets the new expiry and moves to the front), then evicts least
    // recently used entries until the table is within its budget. A key whose charge alone exceeds the budget is not
    // remembered (nor is anything with a budget of 0).
    void remember(std::string_view key, uint64_t hash, uint64_t until_ms);
    // Removes `key`; returns whether it was there.
    bool forget(std::string_view key, uint64_t hash);
    // New budget (SIGHUP); evicts down to it at once.
    void set_budget(uint64_t bytes);

    size_t entries() const { return index_.size(); }
    uint64_t bytes() const { return bytes_; }
    uint64_t budget() const { return budget_; }
    uint64_t evictions() const { return evictions_; } // entries dropped to stay within the budget

private:
    struct Entry {
        std::string key;
        uint64_t hash;
        uint64_t until_ms;
    };
    using List = std::list<Entry>;
    // Index key: a view of Entry::key (list nodes never move) plus its hash, so lookups need no std::string.
    struct KeyRef {
        std::string_view key;
        uint64_t hash;
    };
    struct KeyRefHash {
        size_t operator()(const KeyRef& k) const noexcept { return static_cast<size_t>(k.hash); }
    };
    struct KeyRefEq {
        bool operator()(const KeyRef& a, const KeyRef& b) const noexcept { return a.hash == b.hash && a.key == b.key; }
    };

    void erase(List::iterator it);
    void evict_to(uint64_t target);

    List lru_; // front = most recently used
    std::unordered_map<KeyRef, List::iterator, KeyRefHash, KeyRefEq> index_;
    uint64_t budget_;
    uint64_t bytes_ = 0;
    uint64_t evictions_ = 0;
};

} // namespace edge
