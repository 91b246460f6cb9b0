// Request collapsing across all worker threads: at most one origin fetch (Fill) per cache key at a time, plus
// Varnish-style hit-for-miss memory for keys whose answer was uncacheable.
//
// Use: on the hit path call ObjectCache::find only. On a miss (or stale), call begin(), which decides under the
// key's shard lock — re-checking the cache, so an object stored by a fill that just finished is not fetched again:
//   hit    → serve `object` (it became fresh meanwhile);
//   lead   → fetch from the origin and drive `fill` (see fill.h); `fill->stale()` holds the object to revalidate;
//   join   → subscribe to `fill` and stream from it; if its headers do not come within collapse_timeout_ms
//            (your own timer), unsubscribe and fetch for yourself (pass);
//   pass   → fetch for yourself without collapsing (hit-for-miss: the last answer for this key was uncacheable).
// Both per-key tables live inside byte budgets, split evenly over the shards, because clients choose the keys: the
// hit-for-miss table evicts its least recently used keys (see hit_for_miss.h); the table of fills in flight, when
// full, lets a new miss lead a fill that nobody can join (it is fetched and stored as usual, just not collapsed).
// Any thread. Lock order: fill → coalescer shard → cache shard.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "edge/cache/fill.h"
#include "edge/cache/object_cache.h"
#include "edge/cache/ref.h"

namespace edge {

struct CoalescerStats {
    uint64_t fills = 0;        // fills started (leaders)
    uint64_t joins = 0;        // requests that joined a fill
    uint64_t hit_for_miss = 0; // begin() answered pass because of a remembered uncacheable answer
    uint64_t in_flight = 0;    // fills now running (joinable: in the table)
    uint64_t fill_bytes = 0;   // charged bytes of the fills table
    uint64_t uncollapsed = 0;  // misses that led a fill outside the table because it was at its budget
    uint64_t hfm_entries = 0;  // keys remembered as hit-for-miss
    uint64_t hfm_bytes = 0;    // their charged bytes
    uint64_t hfm_evictions = 0; // hit-for-miss keys evicted to stay within the budget
};

class MissCoalescer {
public:
    // `cache` must outlive this, and every Fill must be resolved (or its FillLeader destroyed) before this is.
    // shards >= 1 (rounded up to a power of two).
    // hit_for_miss_max_bytes and collapse_max_bytes are the two tables' budgets over all shards (config
    // cache.hit_for_miss_max_bytes, cache.collapse_max_bytes).
    static constexpr uint64_t kDefaultTableBytes = 16ull << 20;
    MissCoalescer(ObjectCache* cache, uint32_t shards, uint64_t max_object_bytes, uint64_t hit_for_miss_ttl_ms,
                  uint64_t hit_for_miss_max_bytes = kDefaultTableBytes,
                  uint64_t collapse_max_bytes = kDefaultTableBytes);
    ~MissCoalescer();
    MissCoalescer(const MissCoalescer&) = delete;
    MissCoalescer& operator=(const MissCoalescer&) = delete;

    enum class Role : uint8_t { hit, lead, join, pass };
    struct Begin {
        Role role = Role::pass;
        Ref<CachedObject> object; // Role::hit
        Ref<Fill> fill;           // Role::lead, Role::join
        FillLeader leader;        // Role::lead: drive the fill through this (fails it if dropped unresolved)
    };
    // `hash` = hash_cache_key(key). Allocates only when it starts a fill.
    Begin begin(std::string_view key, uint64_t hash, uint64_t now_ms);
    Begin begin(std::string_view key, uint64_t now_ms);

    // Forgets hit-for-miss for `key` (e.g. after an admin purge).
    void forget(std::string_view key);
    // SIGHUP. A smaller hit-for-miss budget evicts down to it at once; a smaller collapse budget applies to new fills.
    void set_limits(uint64_t max_object_bytes, uint64_t hit_for_miss_ttl_ms,
                    uint64_t hit_for_miss_max_bytes = kDefaultTableBytes,
                    uint64_t collapse_max_bytes = kDefaultTableBytes);
    // Bytes charged for one entry of the fills table with a key of key_len bytes (its map node, bucket, key copy and
    // the Fill itself).
    static uint64_t fill_charge(size_t key_len);
    uint64_t max_object_bytes() const { return max_object_bytes_; }
    CoalescerStats stats() const;

private:
    friend class Fill;
    struct Shard;
    Shard& shard_for(uint64_t hash);
    // Called by Fill when it resolves: removes it, stores the object / remembers hit-for-miss.
    bool on_fill_done(Fill* f, FillState s, const Ref<CachedObject>& obj, uint64_t now_ms);

    ObjectCache* cache_;
    std::unique_ptr<Shard[]> shards_;
    uint32_t shard_count_;
    std::atomic<uint64_t> max_object_bytes_;
    std::atomic<uint64_t> hit_for_miss_ttl_ms_;
    std::atomic<uint64_t> collapse_shard_budget_;
};

} // namespace edge
