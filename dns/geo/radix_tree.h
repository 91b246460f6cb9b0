// A binary radix tree over address bits whose leaves carry a 31-bit value (a location or an answer class).
// Building merges sibling leaves with equal values, so a lookup stops at the shortest prefix on which the value
// is decided; the depth it stops at is the ECS scope of the answer. Immutable after building: lookups are
// lock-free and allocation-free, safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace dns::geo {

class RadixTree {
public:
    static constexpr uint32_t kLeaf = 0x80000000u;

    struct Hit {
        uint32_t value;
        uint8_t depth; // bits examined
    };

    // A tree with a single leaf at the root (every address maps to `value`).
    explicit RadixTree(uint32_t value = 0) : root_(kLeaf | value) {}

    // Walks at most `max_bits` bits of `addr` (network order); bits past max_bits read as zero.
    Hit lookup(const uint8_t* addr, unsigned max_bits) const noexcept {
        uint32_t ref = root_;
        unsigned depth = 0;
        // The first byte through a table (see index_first_byte): eight dependent loads fewer per query.
        if (max_bits >= 8 && !first_byte_.empty()) {
            const Jump& j = first_byte_[addr[0]];
            ref = j.ref;
            depth = j.depth;
        }
        while (!(ref & kLeaf)) {
            unsigned bit = depth < max_bits ? (addr[depth >> 3] >> (7 - (depth & 7))) & 1u : 0u;
            ref = nodes_[ref][bit];
            ++depth;
        }
        return {ref & ~kLeaf, static_cast<uint8_t>(depth)};
    }

    // Sets every address under prefix/len to value(old value) (inserting nodes as needed), then re-merges.
    void overlay(const uint8_t* prefix, unsigned len, const std::function<uint32_t(uint32_t)>& value);
    // A new tree with each leaf value v replaced by map(v), merged.
    RadixTree mapped(const std::function<uint32_t(uint32_t)>& map) const;
    // Calls fn(prefix bits, depth, value) for every leaf, in address order (tests, tools).
    void for_each_leaf(const std::function<void(const std::array<uint8_t, 16>&, unsigned, uint32_t)>& fn) const;

    // Precomputes where a walk stands after the first 8 bits (or the leaf it reached earlier, with its depth).
    // Call once building is done; overlay() and make_node() drop the table.
    void index_first_byte();

    size_t node_count() const { return nodes_.size(); }
    size_t leaf_count() const;

    // Building blocks for loaders that walk their own trees (the MaxMind reader).
    uint32_t make_leaf(uint32_t value) const { return kLeaf | value; }
    // Returns a leaf when both children are the same leaf (the merge), else a new node.
    uint32_t make_node(uint32_t left, uint32_t right);
    void set_root(uint32_t ref) {
        root_ = ref;
        first_byte_.clear();
    }
    uint32_t root() const { return root_; }

private:
    uint32_t map_ref(const RadixTree& src, uint32_t ref, const std::function<uint32_t(uint32_t)>& map);
    uint32_t map_subtree(uint32_t ref, const std::function<uint32_t(uint32_t)>& value);
    uint32_t overlay_ref(uint32_t ref, const uint8_t* prefix, unsigned len, unsigned depth,
                         const std::function<uint32_t(uint32_t)>& value);
    struct Jump {
        uint32_t ref;
        uint32_t depth;
    };
    uint32_t root_;
    std::vector<std::array<uint32_t, 2>> nodes_;
    std::vector<Jump> first_byte_; // 256 entries, or empty
};

} // namespace dns::geo
