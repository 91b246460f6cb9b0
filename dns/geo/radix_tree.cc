#include "dns/geo/radix_tree.h"

namespace dns::geo {

uint32_t RadixTree::make_node(uint32_t left, uint32_t right) {
    first_byte_.clear();
    if ((left & kLeaf) && left == right) return left;
    nodes_.push_back({left, right});
    return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t RadixTree::map_ref(const RadixTree& src, uint32_t ref, const std::function<uint32_t(uint32_t)>& map) {
    if (ref & kLeaf) return kLeaf | map(ref & ~kLeaf);
    uint32_t l = map_ref(src, src.nodes_[ref][0], map);
    uint32_t r = map_ref(src, src.nodes_[ref][1], map);
    return make_node(l, r);
}

RadixTree RadixTree::mapped(const std::function<uint32_t(uint32_t)>& map) const {
    RadixTree out;
    out.root_ = out.map_ref(*this, root_, map);
    return out;
}

uint32_t RadixTree::map_subtree(uint32_t ref, const std::function<uint32_t(uint32_t)>& value) {
    if (ref & kLeaf) return kLeaf | value(ref & ~kLeaf);
    uint32_t l = map_subtree(nodes_[ref][0], value);
    uint32_t r = map_subtree(nodes_[ref][1], value);
    return make_node(l, r);
}

// Replaced nodes stay in nodes_ as garbage; loaders compact with mapped() when done.
uint32_t RadixTree::overlay_ref(uint32_t ref, const uint8_t* prefix, unsigned len, unsigned depth,
                                const std::function<uint32_t(uint32_t)>& value) {
    if (depth == len) return map_subtree(ref, value);
    uint32_t left = ref, right = ref;
    if (!(ref & kLeaf)) {
        left = nodes_[ref][0];
        right = nodes_[ref][1];
    }
    unsigned bit = (prefix[depth >> 3] >> (7 - (depth & 7))) & 1u;
    if (bit)
        right = overlay_ref(right, prefix, len, depth + 1, value);
    else
        left = overlay_ref(left, prefix, len, depth + 1, value);
    return make_node(left, right);
}

void RadixTree::overlay(const uint8_t* prefix, unsigned len, const std::function<uint32_t(uint32_t)>& value) {
    root_ = overlay_ref(root_, prefix, len, 0, value);
    first_byte_.clear();
}

void RadixTree::index_first_byte() {
    first_byte_.assign(256, Jump{root_, 0});
    for (unsigned b = 0; b < 256; ++b) {
        uint32_t ref = root_;
        unsigned depth = 0;
        while (!(ref & kLeaf) && depth < 8) {
            ref = nodes_[ref][(b >> (7 - depth)) & 1u];
            ++depth;
        }
        first_byte_[b] = Jump{ref, depth};
    }
}

void RadixTree::for_each_leaf(
    const std::function<void(const std::array<uint8_t, 16>&, unsigned, uint32_t)>& fn) const {
    std::array<uint8_t, 16> bits{};
    std::function<void(uint32_t, unsigned)> walk = [&](uint32_t ref, unsigned depth) {
        if (ref & kLeaf) {
            fn(bits, depth, ref & ~kLeaf);
            return;
        }
        for (unsigned b = 0; b < 2; ++b) {
            uint8_t mask = static_cast<uint8_t>(0x80u >> (depth & 7));
            if (b)
                bits[depth >> 3] |= mask;
            else
                bits[depth >> 3] &= static_cast<uint8_t>(~mask);
            walk(nodes_[ref][b], depth + 1);
        }
        bits[depth >> 3] &= static_cast<uint8_t>(~(0x80u >> (depth & 7)));
    };
    walk(root_, 0);
}

size_t RadixTree::leaf_count() const {
    size_t n = 0;
    for_each_leaf([&](const std::array<uint8_t, 16>&, unsigned, uint32_t) { ++n; });
    return n;
}

} // namespace dns::geo
