#include "shared/metrics/heavy_hitters.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace shared {

namespace {
uint64_t fnv1a(std::string_view s) noexcept {
    uint64_t h = 1469598103934665603ull;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

bool heavier(const HeavyHitters::Item& a, const HeavyHitters::Item& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
}
} // namespace

HeavyHitters::HeavyHitters(size_t capacity) : capacity_(capacity ? capacity : 1) {
    slots_.reset(new Slot[capacity_]);
    counts_.reset(new uint64_t[capacity_]());
    size_t n = 1;
    while (n < capacity_ * 2)
        n <<= 1;
    mask_ = n - 1;
    index_.reset(new uint32_t[n]());
}

size_t HeavyHitters::find(std::string_view key, uint64_t hash) const noexcept {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        uint32_t v = index_[i];
        if (!v) return capacity_;
        const Slot& s = slots_[v - 1];
        if (s.hash == hash && s.len == key.size() && std::memcmp(s.key, key.data(), key.size()) == 0) return v - 1;
    }
}

void HeavyHitters::index_insert(uint32_t slot) noexcept {
    size_t i = slots_[slot].hash & mask_;
    while (index_[i])
        i = (i + 1) & mask_;
    index_[i] = slot + 1;
}

// Backward-shift deletion keeps linear probing free of tombstones.
void HeavyHitters::index_erase(uint32_t slot) noexcept {
    size_t i = slots_[slot].hash & mask_;
    while (index_[i] != slot + 1)
        i = (i + 1) & mask_;
    for (size_t j = (i + 1) & mask_; index_[j]; j = (j + 1) & mask_) {
        size_t home = slots_[index_[j] - 1].hash & mask_;
        // Move j back into the hole at i when its home is not in (i, j] (cyclically).
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            index_[i] = index_[j];
            i = j;
        }
    }
    index_[i] = 0;
}

uint64_t HeavyHitters::hash(std::string_view key) noexcept {
    return fnv1a(key.substr(0, kKeyMax));
}

uint32_t HeavyHitters::smallest() noexcept {
    for (size_t k = 0; k < capacity_; ++k) {
        uint32_t i = cursor_;
        cursor_ = cursor_ + 1 == capacity_ ? 0 : cursor_ + 1;
        if (counts_[i] <= min_hint_) return i;
    }
    // Every count has grown past the hint: one full scan finds the new minimum.
    uint32_t slot = 0;
    for (uint32_t i = 1; i < capacity_; ++i)
        if (counts_[i] < counts_[slot]) slot = i;
    min_hint_ = counts_[slot];
    cursor_ = slot + 1 == capacity_ ? 0 : slot + 1;
    return slot;
}

void HeavyHitters::add(std::string_view key, uint64_t h, uint64_t weight) noexcept {
    if (key.size() > kKeyMax) key = key.substr(0, kKeyMax);
    total_ += weight;
    size_t at = find(key, h);
    if (at < capacity_) {
        counts_[at] += weight;
        return;
    }
    uint32_t slot;
    uint64_t inherited = 0;
    if (used_ < capacity_) {
        slot = static_cast<uint32_t>(used_++);
    } else {
        // The smallest counter gives its place up; only for keys not kept: heavy keys are found above.
        slot = smallest();
        inherited = counts_[slot];
        index_erase(slot);
    }
    Slot& s = slots_[slot];
    s.hash = h;
    s.len = static_cast<uint8_t>(key.size());
    if (!key.empty()) std::memcpy(s.key, key.data(), key.size());
    counts_[slot] = inherited + weight;
    s.error = inherited;
    index_insert(slot);
}

std::vector<HeavyHitters::Item> HeavyHitters::items() const {
    std::vector<Item> out;
    out.reserve(used_);
    for (size_t i = 0; i < used_; ++i)
        out.push_back(Item{std::string(slots_[i].key, slots_[i].len), counts_[i], slots_[i].error});
    std::sort(out.begin(), out.end(), heavier);
    return out;
}

void HeavyHitters::clear() noexcept {
    used_ = 0;
    total_ = 0;
    min_hint_ = 0;
    cursor_ = 0;
    std::fill(index_.get(), index_.get() + mask_ + 1, 0u);
}

std::vector<HeavyHitters::Item> HeavyHitters::merge(const std::vector<std::vector<Item>>& parts, size_t n) {
    std::unordered_map<std::string, Item> sum;
    for (const auto& part : parts)
        for (const Item& it : part) {
            Item& m = sum[it.key];
            m.key = it.key;
            m.count += it.count;
            m.error += it.error;
        }
    std::vector<Item> out;
    out.reserve(sum.size());
    for (auto& [k, v] : sum)
        out.push_back(std::move(v));
    std::sort(out.begin(), out.end(), heavier);
    if (out.size() > n) out.resize(n);
    return out;
}

} // namespace shared
