#include "edge/upstream/rendezvous_hash.h"

namespace edge {

uint64_t stable_hash(std::string_view s) noexcept {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a 64 offset basis
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull; // FNV 64 prime
    }
    return h;
}

uint64_t rendezvous_score(uint64_t key_hash, uint64_t parent_hash) noexcept {
    // splitmix64's finalizer over the pair: FNV-1a alone mixes its last bytes poorly, and a plain XOR of the two
    // hashes would rank parents the same way for many keys.
    uint64_t z = key_hash ^ (parent_hash * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rendezvous_order(uint64_t key_hash, const uint64_t* parent_hashes, size_t n, size_t* order) noexcept {
    // Insertion sort by score: n is a handful of parents.
    for (size_t i = 0; i < n; ++i) {
        uint64_t s = rendezvous_score(key_hash, parent_hashes[i]);
        size_t j = i;
        while (j > 0 && rendezvous_score(key_hash, parent_hashes[order[j - 1]]) < s) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = i;
    }
}

} // namespace edge
