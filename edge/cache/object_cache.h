// The in-memory object cache shared by all worker threads.
//
// N shards, chosen by the key's hash; each has its own mutex, open-addressing table and LRU list, and a byte budget
// of max_bytes / N. A hit takes only its shard's lock (no global lock, no allocation): look up, move to the LRU
// front, add a reference. Eviction drops the cache's reference only, so an object still being sent lives on until
// its last Ref goes. Any thread may call any method.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cached_object.h"
#include "edge/cache/ref.h"

namespace edge {

struct CacheStats {
    uint64_t bytes = 0; // charged bytes currently stored
    uint64_t objects = 0;
    uint64_t evictions = 0; // LRU evictions (not replacements or erases)
    uint64_t inserts = 0;
    uint64_t rejected = 0; // inserts refused (body larger than a shard's budget)
};

class ObjectCache {
  public:
    // shards >= 1 (rounded up to a power of two).
    ObjectCache(uint64_t max_bytes, uint32_t shards);
    ~ObjectCache();
    ObjectCache(const ObjectCache&) = delete;
    ObjectCache& operator=(const ObjectCache&) = delete;

    enum class Lookup : uint8_t {
        miss,  // nothing usable
        fresh, // serve it (X-Cache: Hit)
        stale, // expired but has validators (revalidate with If-None-Match / If-Modified-Since, then RefreshHit) or
               // is within its stale-while-revalidate / stale-if-error window
    };
    // The object for `key` (hash = hash_cache_key(key)). Expired objects without validators (and not kept for
    // errors, CachedObject::keep_stale) are erased and read as a miss once past their stale windows. A fresh or stale
    // object moves to the LRU front. Allocation-free.
    Lookup find(std::string_view key, uint64_t hash, uint64_t now_ms, Ref<CachedObject>* out);
    Lookup find(std::string_view key, uint64_t now_ms, Ref<CachedObject>* out);

    // The object stored under `key`, whatever its freshness, or null: for the admin's reports (edge/explain), which
    // must not disturb what they look at, so no LRU move, no erase of an expired object, no counter.
    Ref<CachedObject> peek(std::string_view key) const;
    // Every stored object whose key starts with `prefix`, read like peek(); each shard lock is held for at most
    // kInvalidateSlice slots at a time (like invalidate(), so a scan never holds up hits), so an object that moves
    // while the scan runs may be missed or listed twice. At most `limit` objects.
    std::vector<Ref<CachedObject>> peek_prefix(std::string_view prefix, size_t limit) const;

    // Stores a complete object, replacing any object with the same key, then evicts least recently used objects
    // until the shard is within budget (never the one just inserted). Returns false (and stores nothing) when the
    // object's body alone is larger than a shard's budget; a body that fits but whose key and headers do not is
    // stored alone in its shard.
    bool insert(Ref<CachedObject> obj);
    // Removes `key` if present (and only if it is `expected` when given). Returns whether something was removed.
    bool erase(std::string_view key, const CachedObject* expected = nullptr);

    // SIGHUP: new total budget (shard count stays). Evicts down to it at once.
    void set_max_bytes(uint64_t max_bytes);
    uint64_t max_bytes() const { return max_bytes_; }
    uint64_t shard_budget() const;
    uint32_t shard_count() const { return shard_count_; }
    uint32_t shard_of(uint64_t hash) const { return static_cast<uint32_t>(hash >> 32) & (shard_count_ - 1); }

    CacheStats stats() const; // sums the shards (takes each shard lock in turn)
    // Keys of shard `shard` from most to least recently used (tests).
    std::vector<std::string> lru_keys(uint32_t shard) const;

    // Invalidation (the admin API): every stored object `match` accepts is removed or, with `soft`, made stale at
    // now_ms (kept for revalidation and stale-if-error). A shard's lock is held for at most kInvalidateSlice slots at
    // a time, so a hit waits microseconds, never the whole scan; `match` runs under that lock, the removed objects are
    // released (freed) after it. Each slice first scans again the probe run just behind it, where removals by other
    // threads between slices may have shifted a member (up to a slice of it: only a run longer than that, far beyond
    // the table's 3/4 load, could hide one). Objects stored while the scan runs may be missed (they are newer than
    // the invalidation). Returns how many objects matched.
    // `between_slices` (may be empty) runs after each slice with no lock held: the caller's chance to give the CPU
    // back to the workers when it shares their cores.
    static constexpr size_t kInvalidateSlice = 64;
    uint64_t invalidate(const std::function<bool(const CachedObject&)>& match, bool soft, uint64_t now_ms,
                        const std::function<void()>& between_slices = {});
    // invalidate() of one shard (0 .. shard_count() - 1): shards are independent, so several threads may share a
    // scan out by shard.
    uint64_t invalidate_shard(uint32_t shard, const std::function<bool(const CachedObject&)>& match, bool soft,
                              uint64_t now_ms, const std::function<void()>& between_slices = {});
    // Longest distance of a stored object from its home slot, over all shards (tests: probe runs stay short).
    size_t max_probe_length() const;
    // Bytes of bookkeeping per stored object beyond key, header block and body bytes: struct sizes, body chunk
    // header and table slots at the current load (tests, docs).
    double bookkeeping_bytes_per_object() const;

  private:
    struct Shard;
    std::unique_ptr<Shard[]> shards_;
    uint32_t shard_count_;
    uint64_t max_bytes_;
};

} // namespace edge
