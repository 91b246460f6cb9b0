#include "edge/cache/hit_for_miss.h"

namespace edge {

bool HitForMissTable::check(std::string_view key, uint64_t hash, uint64_t now_ms) {
    auto it = index_.find(KeyRef{key, hash});
    if (it == index_.end()) return false;
    List::iterator e = it->second;
    if (e->until_ms <= now_ms) {
        erase(e);
        return false;
    }
    lru_.splice(lru_.begin(), lru_, e);
    return true;
}

void HitForMissTable::remember(std::string_view key, uint64_t hash, uint64_t until_ms) {
    if (auto it = index_.find(KeyRef{key, hash}); it != index_.end()) {
        it->second->until_ms = until_ms;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    const uint64_t c = charge(key.size());
    if (c > budget_) return;
    evict_to(budget_ - c);
    lru_.push_front(Entry{std::string(key), hash, until_ms});
    index_.emplace(KeyRef{lru_.front().key, hash}, lru_.begin());
    bytes_ += c;
}

bool HitForMissTable::forget(std::string_view key, uint64_t hash) {
    auto it = index_.find(KeyRef{key, hash});
    if (it == index_.end()) return false;
    erase(it->second);
    return true;
}

void HitForMissTable::set_budget(uint64_t bytes) {
    budget_ = bytes;
    evict_to(budget_);
}

void HitForMissTable::erase(List::iterator e) {
    index_.erase(KeyRef{e->key, e->hash});
    bytes_ -= charge(e->key.size());
    lru_.erase(e);
}

void HitForMissTable::evict_to(uint64_t target) {
    while (bytes_ > target && !lru_.empty()) {
        erase(std::prev(lru_.end()));
        ++evictions_;
    }
}

} // namespace edge
