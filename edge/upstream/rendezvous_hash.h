// Which parent edge of a tier a cache key goes to: rendezvous (highest random weight) hashing. Every parent gets a
// score hash(key, parent) and the key goes to the highest; the rest, by falling score, are its next choices.
//
// Why rendezvous and not a ring with virtual nodes: a tier has a handful of parents (N small), so scoring all N per
// miss costs nothing next to the fetch, and it needs no ring to build or keep in memory (nothing to rebuild on
// reload); movement is minimal by construction: a parent that leaves takes only its own keys away (each to that
// key's second choice, spread evenly over the survivors), one that joins takes only the keys it now wins (about
// 1/(N+1) of them), and no key moves between two parents that stayed; and the spread is even without tuning a
// virtual-node count. The hash is FNV-1a folded through a 64-bit finalizer: stable across builds, platforms and
// restarts (std::hash is not), so every child edge sends a key to the same parent.
//
// Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edge {

// FNV-1a 64 of `s`.
uint64_t stable_hash(std::string_view s) noexcept;

// The score of one parent (its stable_hash) for one key (its stable_hash).
uint64_t rendezvous_score(uint64_t key_hash, uint64_t parent_hash) noexcept;

// Writes the indexes 0..n-1 of `parent_hashes` into `order`, highest score for `key_hash` first (ties by index).
void rendezvous_order(uint64_t key_hash, const uint64_t* parent_hashes, size_t n, size_t* order) noexcept;

} // namespace edge
