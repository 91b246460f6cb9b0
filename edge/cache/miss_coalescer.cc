#include "edge/cache/miss_coalescer.h"

#include <bit>
#include <mutex>
#include <string>
#include <unordered_map>

#include "edge/cache/cache_key.h"

namespace edge {

struct MissCoalescer::Shard {
    alignas(64) std::mutex mu;
    std::unordered_map<std::string, Ref<Fill>> fills;
    std::unordered_map<std::string, uint64_t> hit_for_miss; // key → until (ms)
    uint64_t fills_started = 0, joins = 0, hfm_hits = 0;

    // Bounds the hit-for-miss memory: when it grows, expired entries are swept (amortised over inserts).
    void sweep(uint64_t now_ms) {
        for (auto it = hit_for_miss.begin(); it != hit_for_miss.end();) {
            it = it->second <= now_ms ? hit_for_miss.erase(it) : std::next(it);
        }
    }
};

MissCoalescer::MissCoalescer(ObjectCache* cache, uint32_t shards, uint64_t max_object_bytes,
                             uint64_t hit_for_miss_ttl_ms)
    : cache_(cache),
      shard_count_(std::bit_ceil(std::max<uint32_t>(shards, 1))),
      max_object_bytes_(max_object_bytes),
      hit_for_miss_ttl_ms_(hit_for_miss_ttl_ms) {
    shards_ = std::make_unique<Shard[]>(shard_count_);
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
    std::string k(key);
    if (auto it = s.fills.find(k); it != s.fills.end()) {
        b.role = Role::join;
        b.fill = it->second;
        ++s.joins;
        return b;
    }
    if (auto it = s.hit_for_miss.find(k); it != s.hit_for_miss.end()) {
        if (it->second > now_ms) {
            b.role = Role::pass;
            ++s.hfm_hits;
            return b;
        }
        s.hit_for_miss.erase(it);
    }
    Ref<CachedObject> obj;
    ObjectCache::Lookup l = cache_->find(key, hash, now_ms, &obj);
    if (l == ObjectCache::Lookup::fresh) {
        b.role = Role::hit;
        b.object = std::move(obj);
        return b;
    }
    Ref<Fill> f(new Fill(this, key, hash, l == ObjectCache::Lookup::stale ? std::move(obj) : Ref<CachedObject>()));
    s.fills.emplace(std::move(k), f);
    ++s.fills_started;
    b.role = Role::lead;
    b.fill = f;
    b.leader = FillLeader(std::move(f));
    return b;
}

bool MissCoalescer::on_fill_done(Fill* f, FillState state, const Ref<CachedObject>& obj, uint64_t now_ms) {
    Shard& s = shard_for(f->hash());
    std::lock_guard lock(s.mu);
    std::string k(f->key());
    if (auto it = s.fills.find(k); it != s.fills.end() && it->second.get() == f) s.fills.erase(it);
    bool stored = false;
    if (state == FillState::complete && obj) {
        if (obj->body().size() <= max_object_bytes_.load(std::memory_order_relaxed)) stored = cache_->insert(obj);
    } else if (state == FillState::uncacheable) {
        if (s.hit_for_miss.size() >= 1024 && (s.hit_for_miss.size() & 1023) == 0) s.sweep(now_ms);
        s.hit_for_miss[std::move(k)] = now_ms + hit_for_miss_ttl_ms_.load(std::memory_order_relaxed);
    }
    return stored;
}

void MissCoalescer::forget(std::string_view key) {
    Shard& s = shard_for(hash_cache_key(key));
    std::lock_guard lock(s.mu);
    s.hit_for_miss.erase(std::string(key));
}

void MissCoalescer::set_limits(uint64_t max_object_bytes, uint64_t hit_for_miss_ttl_ms) {
    max_object_bytes_.store(max_object_bytes, std::memory_order_relaxed);
    hit_for_miss_ttl_ms_.store(hit_for_miss_ttl_ms, std::memory_order_relaxed);
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
    }
    return st;
}

} // namespace edge
