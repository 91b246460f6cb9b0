#include "edge/cache/miss_coalescer.h"

#include <algorithm>
#include <bit>
#include <mutex>
#include <unordered_map>

#include "edge/cache/cache_key.h"
#include "edge/cache/hit_for_miss.h"

namespace edge {

namespace {
// Index key of the fills table: a view of the Fill's own key plus its hash, so lookups need no std::string.
struct FillKey {
    std::string_view key;
    uint64_t hash;
};
struct FillKeyHash {
    size_t operator()(const FillKey& k) const noexcept { return static_cast<size_t>(k.hash); }
};
struct FillKeyEq {
    bool operator()(const FillKey& a, const FillKey& b) const noexcept { return a.hash == b.hash && a.key == b.key; }
};
} // namespace

struct MissCoalescer::Shard {
    alignas(64) std::mutex mu;
    std::unordered_map<FillKey, Ref<Fill>, FillKeyHash, FillKeyEq> fills; // FillKey views the Fill's key
    uint64_t fill_bytes = 0;
    HitForMissTable hit_for_miss;
    uint64_t fills_started = 0, joins = 0, hfm_hits = 0, uncollapsed = 0;
};

uint64_t MissCoalescer::fill_charge(size_t key_len) {
    // Map node (next, FillKey, Ref, cached hash) with its malloc header, one bucket, and the Fill with its key copy.
    return key_len + 64 + 8 + sizeof(Fill) + 24;
}

MissCoalescer::MissCoalescer(ObjectCache* cache, uint32_t shards, uint64_t max_object_bytes,
                             uint64_t hit_for_miss_ttl_ms, uint64_t hit_for_miss_max_bytes, uint64_t collapse_max_bytes)
    : cache_(cache), shard_count_(std::bit_ceil(std::max<uint32_t>(shards, 1))), max_object_bytes_(max_object_bytes),
      hit_for_miss_ttl_ms_(hit_for_miss_ttl_ms), collapse_shard_budget_(collapse_max_bytes / shard_count_) {
    shards_ = std::make_unique<Shard[]>(shard_count_);
    const uint64_t hfm_shard_budget = hit_for_miss_max_bytes / shard_count_;
    for (uint32_t i = 0; i < shard_count_; ++i)
        shards_[i].hit_for_miss.set_budget(hfm_shard_budget);
}

MissCoalescer::~MissCoalescer() = default;

MissCoalescer::Shard& MissCoalescer::shard_for(uint64_t hash) {
    return shards_[static_cast<uint32_t>(hash >> 32) & (shard_count_ - 1)];
}

MissCoalescer::Begin MissCoalescer::begin(std::string_view key, uint64_t now_ms) {
    return begin(key, hash_cache_key(key), now_ms);
}

MissCoalescer::Begin MissCoalescer::begin(std::string_view key, uint64_t hash, uint64_t now_ms) {
    Begin b;
    Shard& s = shard_for(hash);
    std::lock_guard lock(s.mu);
    if (auto it = s.fills.find(FillKey{key, hash}); it != s.fills.end()) {
        b.role = Role::join;
        b.fill = it->second;
        ++s.joins;
        return b;
    }
    if (s.hit_for_miss.check(key, hash, now_ms)) {
        b.role = Role::pass;
        ++s.hfm_hits;
        return b;
    }
    Ref<CachedObject> obj;
    ObjectCache::Lookup l = cache_->find(key, hash, now_ms, &obj);
    if (l == ObjectCache::Lookup::fresh) {
        b.role = Role::hit;
        b.object = std::move(obj);
        return b;
    }
    Ref<Fill> f(
        new Fill(this, key, hash, l == ObjectCache::Lookup::stale ? std::move(obj) : Ref<CachedObject>(), now_ms));
    const uint64_t charge = fill_charge(key.size());
    if (s.fill_bytes + charge <= collapse_shard_budget_.load(std::memory_order_relaxed)) {
        s.fills.emplace(FillKey{f->key(), hash}, f);
        s.fill_bytes += charge;
    } else {
        // The table is full (many distinct misses at once): this fill still fetches and stores, but alone.
        ++s.uncollapsed;
    }
    ++s.fills_started;
    b.role = Role::lead;
    b.fill = f;
    b.leader = FillLeader(std::move(f));
    return b;
}

bool MissCoalescer::on_fill_done(Fill* f, FillState state, const Ref<CachedObject>& obj, uint64_t now_ms) {
    Shard& s = shard_for(f->hash());
    std::lock_guard lock(s.mu);
    // Keep the Fill alive until its table entry (whose key views the Fill's key) is gone.
    Ref<Fill> keep;
    if (auto it = s.fills.find(FillKey{f->key(), f->hash()}); it != s.fills.end() && it->second.get() == f) {
        keep = std::move(it->second);
        s.fills.erase(it);
        s.fill_bytes -= fill_charge(f->key().size());
    }
    bool stored = false;
    if (state == FillState::complete && obj) {
        if (obj->body().size() <= max_object_bytes_.load(std::memory_order_relaxed)) stored = cache_->insert(obj);
    } else if (state == FillState::uncacheable) {
        s.hit_for_miss.remember(f->key(), f->hash(), now_ms + hit_for_miss_ttl_ms_.load(std::memory_order_relaxed));
    } else if (state == FillState::failed && f->outgrown()) {
        // Too large to store (no Content-Length, past max_object_bytes): like an uncacheable answer, the next misses
        // pass straight through instead of collapsing onto a leader only to be released when it outgrows again.
        // The fill's start stands in for now (append() has no clock); the fetch took a moment of the TTL.
        s.hit_for_miss.remember(f->key(), f->hash(),
                                f->began_ms() + hit_for_miss_ttl_ms_.load(std::memory_order_relaxed));
    }
    return stored;
}

void MissCoalescer::forget(std::string_view key) {
    uint64_t hash = hash_cache_key(key);
    Shard& s = shard_for(hash);
    std::lock_guard lock(s.mu);
    s.hit_for_miss.forget(key, hash);
}

void MissCoalescer::set_limits(uint64_t max_object_bytes, uint64_t hit_for_miss_ttl_ms, uint64_t hit_for_miss_max_bytes,
                               uint64_t collapse_max_bytes) {
    max_object_bytes_.store(max_object_bytes, std::memory_order_relaxed);
    hit_for_miss_ttl_ms_.store(hit_for_miss_ttl_ms, std::memory_order_relaxed);
    collapse_shard_budget_.store(collapse_max_bytes / shard_count_, std::memory_order_relaxed);
    for (uint32_t i = 0; i < shard_count_; ++i) {
        Shard& s = shards_[i];
        std::lock_guard lock(s.mu);
        s.hit_for_miss.set_budget(hit_for_miss_max_bytes / shard_count_);
    }
}

CoalescerStats MissCoalescer::stats() const {
    CoalescerStats st;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        Shard& s = shards_[i];
        std::lock_guard lock(s.mu);
        st.fills += s.fills_started;
        st.joins += s.joins;
        st.hit_for_miss += s.hfm_hits;
        st.in_flight += s.fills.size();
        st.fill_bytes += s.fill_bytes;
        st.uncollapsed += s.uncollapsed;
        st.hfm_entries += s.hit_for_miss.entries();
        st.hfm_bytes += s.hit_for_miss.bytes();
        st.hfm_evictions += s.hit_for_miss.evictions();
    }
    return st;
}

} // namespace edge
