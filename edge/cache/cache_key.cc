#include "edge/cache/cache_key.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace edge {
namespace {

// Splits the query into its non-empty parameters, keeps those the policy forwards, and sorts them.
// Returns the count, or -1 when there are too many to sort in the fixed array.
int collect_params(std::string_view q, QueryStringPolicy policy, const std::vector<std::string>& allowlist,
                   std::array<std::string_view, kMaxKeyQueryParams>* params) {
    if (policy == QueryStringPolicy::none) return 0;
    size_t n = 0;
    size_t start = 0;
    while (start <= q.size()) {
        size_t amp = q.find('&', start);
        if (amp == std::string_view::npos) amp = q.size();
        std::string_view p = q.substr(start, amp - start);
        start = amp + 1;
        if (p.empty()) continue;
        if (policy == QueryStringPolicy::allowlist) {
            std::string_view name = p.substr(0, p.find('='));
            // allowlist is sorted by the config parser
            if (!std::binary_search(allowlist.begin(), allowlist.end(), name,
                                    [](auto a, auto b) { return std::string_view(a) < std::string_view(b); })) {
                continue;
            }
        }
        if (n == params->size()) return -1;
        (*params)[n++] = p;
    }
    std::sort(params->begin(), params->begin() + static_cast<std::ptrdiff_t>(n));
    return static_cast<int>(n);
}

void append_escaped(char c, std::string* out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out->push_back('%');
    out->push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    out->push_back(kHex[static_cast<unsigned char>(c) & 15]);
}

void append_params(const std::array<std::string_view, kMaxKeyQueryParams>& params, int n, std::string* out) {
    for (int i = 0; i < n; ++i) {
        if (i) out->push_back('&');
        out->append(params[static_cast<size_t>(i)]);
    }
}

} // namespace

bool build_cache_key(std::string_view host, std::string_view path, std::string_view raw_query,
                     QueryStringPolicy policy, const std::vector<std::string>& allowlist, std::string* out) {
    out->clear();
    std::array<std::string_view, kMaxKeyQueryParams> params;
    int n = collect_params(raw_query, policy, allowlist, &params);
    if (n < 0) return false;
    // '%', '?' and (in the host) '/' are escaped so that no host/path/query split can produce another request's
    // key: "/a%3Fb" (a file named "a?b") must not share a key with "/a?b", nor Host "h/x" + "/p" with "h" + "/x/p".
    for (char c : host) {
        if (c == '/' || c == '%' || c == '?') {
            append_escaped(c, out);
        } else {
            out->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
        }
    }
    for (char c : path) {
        if (c == '%' || c == '?') {
            append_escaped(c, out);
        } else {
            out->push_back(c);
        }
    }
    if (n > 0) {
        out->push_back('?');
        append_params(params, n, out);
    }
    return true;
}

bool forwarded_query(std::string_view raw_query, QueryStringPolicy policy, const std::vector<std::string>& allowlist,
                     std::string* out) {
    out->clear();
    std::array<std::string_view, kMaxKeyQueryParams> params;
    int n = collect_params(raw_query, policy, allowlist, &params);
    if (n < 0) return false;
    append_params(params, n, out);
    return true;
}

uint64_t hash_cache_key(std::string_view key) noexcept {
    // 8 bytes per step with a 64-bit multiply-xorshift mix (in the spirit of wyhash/murmur): keys are URLs, so
    // speed matters more than DoS resistance here; the shard tables use linear probing with a low load bound.
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0x243F6A8885A308D3ull ^ (key.size() * kMul);
    const char* p = key.data();
    size_t n = key.size();
    auto mix = [](uint64_t x) {
        x ^= x >> 32;
        x *= 0xD6E8FEB86659FD93ull;
        x ^= x >> 32;
        x *= 0xD6E8FEB86659FD93ull;
        x ^= x >> 32;
        return x;
    };
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ mix(w)) * kMul;
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    h = (h ^ mix(tail ^ (uint64_t{n} << 56))) * kMul;
    return mix(h);
}

} // namespace edge
