#include "edge/cache/cache_key.h"

#include "edge/http/cookie_header.h"
#include "shared/http/http_tokens.h"

#include <endian.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>

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

// Appends `s` with the bytes a key escapes written as %XX (and a host lowercased), through a stack buffer: a byte at a
// time into the string cost a capacity check per byte, most of the key's cost on a cache hit.
template <bool kHost> void append_key_part(std::string_view s, std::string* out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    char buf[256];
    size_t n = 0;
    for (char c : s) {
        if (n > sizeof buf - 3) {
            out->append(buf, n);
            n = 0;
        }
        if (c == '%' || c == '?' || (kHost && c == '/')) {
            buf[n] = '%';
            buf[n + 1] = kHex[static_cast<unsigned char>(c) >> 4];
            buf[n + 2] = kHex[static_cast<unsigned char>(c) & 15];
            n += 3;
        } else {
            buf[n++] = (kHost && c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
    }
    out->append(buf, n);
}

void append_params(const std::array<std::string_view, kMaxKeyQueryParams>& params, int n, std::string* out) {
    for (int i = 0; i < n; ++i) {
        if (i) out->push_back('&');
        out->append(params[static_cast<size_t>(i)]);
    }
}

} // namespace

bool build_cache_key(std::string_view host, std::string_view path, std::string_view raw_query, QueryStringPolicy policy,
                     const std::vector<std::string>& allowlist, std::string* out) {
    return build_cache_key({}, host, path, raw_query, policy, allowlist, out);
}

std::string_view key_site_prefix(std::string_view key) {
    size_t end = key.find_first_of(" /");
    return end != std::string_view::npos && key[end] == ' ' ? key.substr(0, end + 1) : std::string_view();
}

std::string_view key_site_name(std::string_view key) {
    std::string_view p = key_site_prefix(key);
    return p.substr(0, p.find_first_of("# "));
}

bool build_cache_key(std::string_view site_prefix, std::string_view host, std::string_view path,
                     std::string_view raw_query, QueryStringPolicy policy, const std::vector<std::string>& allowlist,
                     std::string* out) {
    out->clear();
    out->reserve(site_prefix.size() + host.size() + path.size() + raw_query.size() + 16);
    auto append_base = [&] {
        out->append(site_prefix);
        // '%', '?' and (in the host) '/' are escaped so that no host/path/query split can produce another request's
        // key: "/a%3Fb" (a file named "a?b") must not share a key with "/a?b", nor Host "h/x" + "/p" with "h" + "/x/p".
        append_key_part<true>(host, out);
        append_key_part<false>(path, out);
    };
    // Without a query the parameter array (1 KiB of views to initialise) is not needed: the usual request for a
    // static asset.
    if (raw_query.empty() || policy == QueryStringPolicy::none) {
        append_base();
        return true;
    }
    std::array<std::string_view, kMaxKeyQueryParams> params;
    int n = collect_params(raw_query, policy, allowlist, &params);
    if (n < 0) return false;
    append_base();
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

namespace {

constexpr uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

HashSeed random_seed() noexcept {
    HashSeed s;
    uint64_t buf[2] = {0, 0};
    size_t got = 0;
    auto* p = reinterpret_cast<unsigned char*>(buf);
    while (got < sizeof buf) {
        ssize_t n = ::getrandom(p + got, sizeof buf - got, 0);
        if (n > 0) {
            got += static_cast<size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            break;
        }
    }
    if (got < sizeof buf) {
        // getrandom(2) is missing only on pre-3.17 kernels; random_device reads /dev/urandom there.
        std::random_device rd;
        buf[0] = (uint64_t{rd()} << 32) ^ rd();
        buf[1] = (uint64_t{rd()} << 32) ^ rd();
    }
    s.k0 = buf[0];
    s.k1 = buf[1];
    return s;
}

// Drawn before main() runs (and before any worker starts), so the hot path reads two plain globals.
const HashSeed g_seed = random_seed();

} // namespace

uint64_t siphash13(HashSeed seed, std::string_view data) noexcept {
    uint64_t v0 = 0x736f6d6570736575ull ^ seed.k0;
    uint64_t v1 = 0x646f72616e646f6dull ^ seed.k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ seed.k0;
    uint64_t v3 = 0x7465646279746573ull ^ seed.k1;
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    const char* p = data.data();
    size_t n = data.size();
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t m;
        std::memcpy(&m, p, 8);
        m = le64toh(m);
        v3 ^= m;
        round();
        v0 ^= m;
    }
    uint64_t b = uint64_t{data.size()} << 56;
    for (size_t i = 0; i < n; ++i)
        b |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    v3 ^= b;
    round();
    v0 ^= b;
    v2 ^= 0xff;
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}

HashSeed cache_key_hash_seed() noexcept {
    return g_seed;
}

uint64_t hash_cache_key(std::string_view key) noexcept {
    return siphash13(g_seed, key);
}

void append_key_fields(std::span<const HeaderField> fields, const BehaviorConfig& b, std::string* key) {
    for (const std::string& name : b.cache_key_headers) {
        key->push_back('\n');
        key->append(name);
        bool found = false;
        for (const HeaderField& h : fields) {
            if (!shared::ascii_iequals(h.name, name)) continue;
            key->push_back(found ? ',' : ':');
            key->append(h.value);
            found = true;
        }
        if (!found) key->push_back('!');
    }
    for (const std::string& name : b.cache_key_cookies) {
        std::string_view v;
        if (find_cookie(fields, name, &v)) {
            key->append("\nc:");
            key->append(name);
            key->push_back('=');
            key->append(v);
        } else {
            key->append("\nc!");
            key->append(name);
        }
    }
}

} // namespace edge
