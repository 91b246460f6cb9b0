#include "edge/cache/object_cache.h"

#include <algorithm>
#include <bit>
#include <mutex>
#include <vector>

#include "edge/cache/cache_key.h"

namespace edge {

// One shard: an open-addressing table (linear probing, backward-shift deletion, 8 bytes per slot) and an intrusive
// doubly linked LRU list through the objects. Everything is guarded by `mu`.
struct ObjectCache::Shard {
    alignas(64) mutable std::mutex mu;
    std::vector<CachedObject*> slots = std::vector<CachedObject*>(16, nullptr);
    size_t count = 0;
    CachedObject* mru = nullptr;
    CachedObject* lru = nullptr;
    uint64_t bytes = 0;
    uint64_t budget = 0;
    uint64_t evictions = 0;
    uint64_t inserts = 0;
    uint64_t rejected = 0;

    ~Shard() {
        for (CachedObject*& o : slots) {
            if (o) o->release();
        }
    }

    size_t mask() const { return slots.size() - 1; }

    // Slot index of `key`, or SIZE_MAX.
    size_t find_slot(std::string_view key, uint64_t hash) const {
        for (size_t i = hash & mask();; i = (i + 1) & mask()) {
            CachedObject* o = slots[i];
            if (!o) return SIZE_MAX;
            if (o->hash_ == hash && o->key() == key) return i;
        }
    }

    void lru_unlink(CachedObject* o) {
        (o->lru_prev_ ? o->lru_prev_->lru_next_ : mru) = o->lru_next_;
        (o->lru_next_ ? o->lru_next_->lru_prev_ : lru) = o->lru_prev_;
        o->lru_prev_ = o->lru_next_ = nullptr;
    }
    void lru_push_front(CachedObject* o) {
        o->lru_prev_ = nullptr;
        o->lru_next_ = mru;
        (mru ? mru->lru_prev_ : lru) = o;
        mru = o;
    }
    void touch(CachedObject* o) {
        if (mru == o) return;
        lru_unlink(o);
        lru_push_front(o);
    }

    void place(CachedObject* o) {
        for (size_t i = o->hash_ & mask();; i = (i + 1) & mask()) {
            if (!slots[i]) {
                slots[i] = o;
                return;
            }
        }
    }

    void grow() {
        std::vector<CachedObject*> old(slots.size() * 2, nullptr);
        old.swap(slots);
        for (CachedObject* o : old) {
            if (o) place(o);
        }
    }

    // Removes the object at slot i from table, LRU and byte count; drops the cache's reference.
    void remove_at(size_t i) { detach_at(i)->release(); }

    // remove_at without dropping the reference: the caller releases the returned object (after the lock, so that
    // freeing it does not lengthen the hold).
    CachedObject* detach_at(size_t i) {
        CachedObject* o = slots[i];
        slots[i] = nullptr;
        // Backward-shift: move later members of the probe run into the hole so lookups never stop early.
        size_t hole = i;
        for (size_t j = (i + 1) & mask(); slots[j]; j = (j + 1) & mask()) {
            size_t home = slots[j]->hash_ & mask();
            // Can slots[j] move to `hole`? Only if its home is not in the cyclic range (hole, j].
            bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!in_range) {
                slots[hole] = slots[j];
                slots[j] = nullptr;
                hole = j;
            }
        }
        --count;
        lru_unlink(o);
        bytes -= o->charged_;
        return o;
    }

    void evict_to(uint64_t target, const CachedObject* keep) {
        while (bytes > target && lru && lru != keep) {
            CachedObject* victim = lru;
            remove_at(find_slot(victim->key(), victim->hash_));
            ++evictions;
        }
    }
};

ObjectCache::ObjectCache(uint64_t max_bytes, uint32_t shards)
    : shard_count_(std::bit_ceil(std::max<uint32_t>(shards, 1))), max_bytes_(max_bytes) {
    shards_ = std::make_unique<Shard[]>(shard_count_);
    for (uint32_t i = 0; i < shard_count_; ++i)
        shards_[i].budget = max_bytes / shard_count_;
}

ObjectCache::~ObjectCache() = default;

uint64_t ObjectCache::shard_budget() const {
    return max_bytes_ / shard_count_;
}

ObjectCache::Lookup ObjectCache::find(std::string_view key, uint64_t now_ms, Ref<CachedObject>* out) {
    return find(key, hash_cache_key(key), now_ms, out);
}

ObjectCache::Lookup ObjectCache::find(std::string_view key, uint64_t hash, uint64_t now_ms, Ref<CachedObject>* out) {
    Shard& s = shards_[shard_of(hash)];
    std::lock_guard lock(s.mu);
    size_t i = s.find_slot(key, hash);
    if (i == SIZE_MAX) return Lookup::miss;
    CachedObject* o = s.slots[i];
    if (o->fresh(now_ms)) {
        s.touch(o);
        *out = Ref<CachedObject>(o);
        return Lookup::fresh;
    }
    // Expired: still useful with validators (revalidation), as the copy its behavior serves when the origin fails,
    // or within a stale-while-revalidate / stale-if-error window (RFC 5861), read from its headers only here, on
    // this rare path.
    bool keep = o->has_validators() || o->keep_stale();
    if (!keep) {
        StaleWindows w = stale_windows(o->stored_fields());
        keep = now_ms < o->expires_at_ms() + std::max(w.while_revalidate_ms, w.if_error_ms);
    }
    if (keep) {
        s.touch(o);
        *out = Ref<CachedObject>(o);
        return Lookup::stale;
    }
    // Stale and nothing to revalidate with: it can never be used again.
    s.remove_at(i);
    return Lookup::miss;
}

Ref<CachedObject> ObjectCache::peek(std::string_view key) const {
    uint64_t hash = hash_cache_key(key);
    const Shard& s = shards_[shard_of(hash)];
    std::lock_guard lock(s.mu);
    size_t i = s.find_slot(key, hash);
    return i == SIZE_MAX ? Ref<CachedObject>() : Ref<CachedObject>(s.slots[i]);
}

std::vector<Ref<CachedObject>> ObjectCache::peek_prefix(std::string_view prefix, size_t limit) const {
    std::vector<Ref<CachedObject>> found;
    for (uint32_t si = 0; si < shard_count_ && found.size() < limit; ++si) {
        const Shard& s = shards_[si];
        for (size_t i = 0;;) {
            // References are taken under the lock (the object may be evicted as soon as it is released), into a
            // vector reserved beforehand so that the lock is never held across an allocation.
            found.reserve(found.size() + kInvalidateSlice);
            std::lock_guard lock(s.mu);
            size_t end = std::min(s.slots.size(), i + kInvalidateSlice);
            if (i >= end) break;
            for (; i < end && found.size() < limit; ++i) {
                CachedObject* o = s.slots[i];
                if (o && o->key().starts_with(prefix)) found.emplace_back(o);
            }
            if (found.size() >= limit) break;
        }
    }
    return found;
}

bool ObjectCache::insert(Ref<CachedObject> obj) {
    if (!obj) return false;
    uint64_t hash = hash_cache_key(obj->key());
    Shard& s = shards_[shard_of(hash)];
    uint64_t charge = obj->charge();
    std::lock_guard lock(s.mu);
    // The body decides, not the charge: the config guarantees max_bytes / shards >= max_object_bytes, so a body of
    // exactly max_object_bytes must fit even though its key and headers come on top. Such an object then has its
    // shard to itself (everything else is evicted), which overshoots the share by that one object's metadata.
    if (obj->body().size() > s.budget) {
        ++s.rejected;
        return false;
    }
    if (size_t i = s.find_slot(obj->key(), hash); i != SIZE_MAX) {
        if (s.slots[i] == obj.get()) {
            s.touch(obj.get());
            return true;
        }
        s.remove_at(i);
    }
    if ((s.count + 1) * 4 > s.slots.size() * 3) s.grow();
    CachedObject* o = obj.leak();
    o->hash_ = hash;
    o->charged_ = charge;
    s.place(o);
    ++s.count;
    s.lru_push_front(o);
    s.bytes += charge;
    ++s.inserts;
    s.evict_to(s.budget, o);
    return true;
}

bool ObjectCache::erase(std::string_view key, const CachedObject* expected) {
    uint64_t hash = hash_cache_key(key);
    Shard& s = shards_[shard_of(hash)];
    std::lock_guard lock(s.mu);
    size_t i = s.find_slot(key, hash);
    if (i == SIZE_MAX || (expected && s.slots[i] != expected)) return false;
    s.remove_at(i);
    return true;
}

void ObjectCache::set_max_bytes(uint64_t max_bytes) {
    max_bytes_ = max_bytes;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        Shard& s = shards_[i];
        std::lock_guard lock(s.mu);
        s.budget = max_bytes / shard_count_;
        s.evict_to(s.budget, nullptr);
    }
}

CacheStats ObjectCache::stats() const {
    CacheStats st;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        const Shard& s = shards_[i];
        std::lock_guard lock(s.mu);
        st.bytes += s.bytes;
        st.objects += s.count;
        st.evictions += s.evictions;
        st.inserts += s.inserts;
        st.rejected += s.rejected;
    }
    return st;
}

std::vector<std::string> ObjectCache::lru_keys(uint32_t shard) const {
    std::vector<std::string> keys;
    const Shard& s = shards_[shard];
    std::lock_guard lock(s.mu);
    for (const CachedObject* o = s.mru; o; o = o->lru_next_)
        keys.emplace_back(o->key());
    return keys;
}

uint64_t ObjectCache::invalidate(const std::function<bool(const CachedObject&)>& match, bool soft, uint64_t now_ms,
                                 const std::function<void()>& between_slices) {
    uint64_t hits = 0;
    for (uint32_t si = 0; si < shard_count_; ++si)
        hits += invalidate_shard(si, match, soft, now_ms, between_slices);
    return hits;
}

uint64_t ObjectCache::invalidate_shard(uint32_t si, const std::function<bool(const CachedObject&)>& match, bool soft,
                                       uint64_t now_ms, const std::function<void()>& between_slices) {
    uint64_t hits = 0;
    // Objects a slice removed: their last references (usually) are dropped, and their memory freed, after the lock.
    CachedObject* removed[2 * kInvalidateSlice];
    Shard& s = shards_[si];
    size_t first_size = 0;
    for (int pass = 0; pass < 2; ++pass) {
        size_t i = 0, size = 0;
        for (bool first = true;; first = false) {
            if (!first && between_slices) between_slices();
            size_t nremoved = 0;
            {
                std::lock_guard lock(s.mu);
                size = s.slots.size();
                if (pass == 0 && i == 0) first_size = size;
                if (i >= size) break;
                size_t end = std::min(size, i + kInvalidateSlice);
                // A removal by another thread between two slices (an eviction, an expired object, a replacement)
                // shifts the rest of its probe run back by a slot, which can carry a member from the slot the scan
                // is at to the one before it (see remove_at). Scan again the run that ends there, up to a slice of
                // it: what already matched there is gone, or (soft) stale and not counted twice.
                size_t resume = i;
                while (i > 0 && resume - i < kInvalidateSlice && s.slots[i - 1])
                    --i;
                while (i < end) {
                    CachedObject* o = s.slots[i];
                    if (!o || !match(*o) || (soft && !o->fresh(now_ms) && (pass == 1 || i < resume))) {
                        ++i;
                        continue;
                    }
                    ++hits;
                    if (soft) {
                        o->expire(now_ms);
                        ++i;
                    } else {
                        // Backward-shift deletion may move a later member of the probe run into slot i: look
                        // again. At most one removal per slot visited (at most two slices' worth), so `removed`
                        // cannot overflow.
                        removed[nremoved++] = s.detach_at(i);
                        --end;
                    }
                }
            }
            for (size_t k = 0; k < nremoved; ++k)
                removed[k]->release();
        }
        // A table that grew between two slices was rehashed, so members may have moved behind the scan: one
        // more pass (growth doubles the table, so this is rare). Objects stored meanwhile are newer than the
        // invalidation and may go too.
        if (size == first_size) break;
    }
    return hits;
}

size_t ObjectCache::max_probe_length() const {
    size_t longest = 0;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        const Shard& s = shards_[i];
        std::lock_guard lock(s.mu);
        for (size_t j = 0; j < s.slots.size(); ++j) {
            if (s.slots[j]) longest = std::max(longest, (j - (s.slots[j]->hash_ & s.mask())) & s.mask());
        }
    }
    return longest;
}

double ObjectCache::bookkeeping_bytes_per_object() const {
    uint64_t objects = 0, slot_bytes = 0;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        const Shard& s = shards_[i];
        std::lock_guard lock(s.mu);
        objects += s.count;
        slot_bytes += s.slots.size() * sizeof(CachedObject*);
    }
    if (objects == 0) return 0;
    // Per object: the struct, one body chunk header, one heap block's malloc header (glibc: 16 bytes, counting the
    // rounding to 16) and the padding before the chunk (4 on average) for an object whose body length was known
    // (the first chunk shares the object's block), plus this object's share of the table slots.
    constexpr double kMallocOverhead = 16, kChunkPadding = 4;
    return static_cast<double>(sizeof(CachedObject) + BodyBuffer::chunk_overhead()) + kMallocOverhead + kChunkPadding +
           static_cast<double>(slot_bytes) / static_cast<double>(objects);
}

} // namespace edge
