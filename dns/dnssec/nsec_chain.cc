#include "dns/dnssec/nsec_chain.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace dns {

size_t canonical_key(std::string_view wire, uint8_t* out) noexcept {
    // Label starts, left to right; the root label ends the name.
    size_t starts[128];
    size_t n = 0;
    for (size_t pos = 0; pos < wire.size() && wire[pos] != 0 && n < 128;) {
        starts[n++] = pos;
        pos += 1u + static_cast<uint8_t>(wire[pos]);
    }
    size_t len = 0;
    while (n > 0) {
        size_t at = starts[--n];
        size_t llen = static_cast<uint8_t>(wire[at]);
        for (size_t i = 0; i < llen && at + 1 + i < wire.size(); i++) {
            uint8_t b = static_cast<uint8_t>(wire[at + 1 + i]);
            if (b <= 1) {
                out[len++] = 1;
                out[len++] = static_cast<uint8_t>(b + 1);
            } else {
                out[len++] = b;
            }
        }
        out[len++] = 0;
    }
    return len;
}

void NsecChain::add(std::string_view wire, uint32_t node) {
    uint8_t key[kMaxCanonicalKey];
    size_t n = canonical_key(wire, key);
    keys_.emplace_back(reinterpret_cast<const char*>(key), n);
    nodes_.push_back(node);
}

void NsecChain::seal() {
    std::vector<size_t> order(keys_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys_[a] < keys_[b]; });
    std::vector<std::string> keys;
    std::vector<uint32_t> nodes;
    keys.reserve(order.size());
    nodes.reserve(order.size());
    for (size_t i : order) {
        keys.push_back(std::move(keys_[i]));
        nodes.push_back(nodes_[i]);
    }
    keys_ = std::move(keys);
    nodes_ = std::move(nodes);
}

size_t NsecChain::floor(std::string_view wire) const noexcept {
    uint8_t key[kMaxCanonicalKey];
    size_t n = canonical_key(wire, key);
    std::string_view k(reinterpret_cast<const char*>(key), n);
    // The first name after `wire`, then one back (std::string's operator< is the unsigned byte order).
    auto it = std::upper_bound(keys_.begin(), keys_.end(), k,
                               [](std::string_view a, const std::string& b) { return a < std::string_view(b); });
    size_t i = static_cast<size_t>(it - keys_.begin());
    return i == 0 ? 0 : i - 1;
}

} // namespace dns
