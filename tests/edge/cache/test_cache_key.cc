#include <catch2/catch.hpp>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "edge/cache/cache_key.h"
#include "edge/cache/object_cache.h"

using namespace edge;

namespace {
std::string key(std::string_view host, std::string_view path, std::string_view q, QueryStringPolicy p,
                std::vector<std::string> allow = {}) {
    std::string out = "garbage";
    REQUIRE(build_cache_key(host, path, q, p, allow, &out));
    return out;
}
} // namespace

TEST_CASE("Cache key: host is lower-cased, path kept as normalized", "[edge][cache][key]") {
    CHECK(key("WWW.Example.COM", "/a/B.html", "", QueryStringPolicy::none) == "www.example.com/a/B.html");
    CHECK(key("h:8080", "/", "", QueryStringPolicy::none) == "h:8080/");
    CHECK(key("", "/x", "", QueryStringPolicy::none) == "/x");
}

TEST_CASE("Cache key: no two different requests share a key", "[edge][cache][key]") {
    // A decoded path containing '?' (from %3F) against a real query.
    CHECK(key("h", "/a?b", "", QueryStringPolicy::all) == "h/a%3Fb");
    CHECK(key("h", "/a", "b", QueryStringPolicy::all) == "h/a?b");
    CHECK(key("h", "/100%", "", QueryStringPolicy::none) == "h/100%25");
    // A Host with a '/' against a longer path.
    CHECK(key("h/x", "/p", "", QueryStringPolicy::none) == "h%2Fx/p");
    CHECK(key("h", "/x/p", "", QueryStringPolicy::none) == "h/x/p");
    CHECK(key("h?q", "/p", "", QueryStringPolicy::none) != key("h", "/p", "q", QueryStringPolicy::all));
}

TEST_CASE("Cache key: query string policies", "[edge][cache][key]") {
    // none: the query never splits the cache.
    CHECK(key("h", "/p", "b=2&a=1", QueryStringPolicy::none) == "h/p");
    // all: sorted, empty parameters dropped, encoding kept as sent.
    CHECK(key("h", "/p", "b=2&a=1", QueryStringPolicy::all) == "h/p?a=1&b=2");
    CHECK(key("h", "/p", "a=1&b=2", QueryStringPolicy::all) == key("h", "/p", "b=2&&a=1&", QueryStringPolicy::all));
    CHECK(key("h", "/p", "x=%41&x=A", QueryStringPolicy::all) == "h/p?x=%41&x=A");
    CHECK(key("h", "/p", "", QueryStringPolicy::all) == "h/p");
    CHECK(key("h", "/p", "&&", QueryStringPolicy::all) == "h/p");
    CHECK(key("h", "/p", "flag", QueryStringPolicy::all) == "h/p?flag");
    // allowlist: only listed names (by exact name), sorted.
    std::vector<std::string> allow = {"v", "w"};
    CHECK(key("h", "/p", "w=2&utm=x&v=1&vv=3", QueryStringPolicy::allowlist, allow) == "h/p?v=1&w=2");
    CHECK(key("h", "/p", "utm=x", QueryStringPolicy::allowlist, allow) == "h/p");
    CHECK(key("h", "/p", "v", QueryStringPolicy::allowlist, allow) == "h/p?v");
}

TEST_CASE("Cache key: too many parameters cannot be keyed", "[edge][cache][key]") {
    std::string q;
    for (size_t i = 0; i <= kMaxKeyQueryParams; ++i)
        q += "p" + std::to_string(i) + "=1&";
    std::string out;
    CHECK_FALSE(build_cache_key("h", "/", q, QueryStringPolicy::all, {}, &out));
    // With policy none the query is ignored entirely, so it is fine.
    CHECK(build_cache_key("h", "/", q, QueryStringPolicy::none, {}, &out));
    std::string fwd;
    CHECK_FALSE(forwarded_query(q, QueryStringPolicy::all, {}, &fwd));
}

TEST_CASE("Cache key: forwarded query matches the key's parameters", "[edge][cache][key]") {
    std::string q;
    REQUIRE(forwarded_query("b=2&a=1&&c", QueryStringPolicy::all, {}, &q));
    CHECK(q == "a=1&b=2&c");
    REQUIRE(forwarded_query("b=2&a=1", QueryStringPolicy::none, {}, &q));
    CHECK(q.empty());
    REQUIRE(forwarded_query("b=2&a=1", QueryStringPolicy::allowlist, {"b"}, &q));
    CHECK(q == "b=2");
}

TEST_CASE("Cache key: reusing the output string does not reallocate", "[edge][cache][key]") {
    std::string out;
    out.reserve(256);
    const char* before = out.data();
    for (int i = 0; i < 100; ++i) {
        REQUIRE(build_cache_key("Host", "/assets/app.js", "z=1&a=2", QueryStringPolicy::all, {}, &out));
    }
    CHECK(out.data() == before);
}

TEST_CASE("Cache key hash spreads similar keys", "[edge][cache][key]") {
    CHECK(hash_cache_key("h/a") != hash_cache_key("h/b"));
    CHECK(hash_cache_key("h/a") == hash_cache_key("h/a"));
    CHECK(hash_cache_key("") != hash_cache_key(std::string_view("\0", 1)));
    // Shards use the top bits: 1000 sequential keys should land in all 16 shards.
    bool seen[16] = {};
    for (int i = 0; i < 1000; ++i)
        seen[(hash_cache_key("h/obj" + std::to_string(i)) >> 32) & 15] = true;
    for (bool s : seen)
        CHECK(s);
}

namespace {

// The unkeyed hash the cache used before: anyone could compute it, and it is invertible block by block, so keys that
// share one 64-bit hash (one shard, one probe run) could be made at will.
constexpr uint64_t kOldMul = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kOldMix = 0xD6E8FEB86659FD93ull;
uint64_t old_mix(uint64_t x) {
    x ^= x >> 32;
    x *= kOldMix;
    x ^= x >> 32;
    x *= kOldMix;
    x ^= x >> 32;
    return x;
}
uint64_t inverse_mul(uint64_t a) { // a odd: Newton's iteration mod 2^64
    uint64_t x = a;
    for (int i = 0; i < 6; ++i)
        x *= 2 - a * x;
    return x;
}
uint64_t old_unmix(uint64_t x) {
    const uint64_t inv = inverse_mul(kOldMix);
    x ^= x >> 32;
    x *= inv;
    x ^= x >> 32;
    x *= inv;
    x ^= x >> 32;
    return x;
}
uint64_t old_hash(std::string_view key) {
    uint64_t h = 0x243F6A8885A308D3ull ^ (key.size() * kOldMul);
    const char* p = key.data();
    size_t n = key.size();
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ old_mix(w)) * kOldMul;
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    h = (h ^ old_mix(tail ^ (uint64_t{n} << 56))) * kOldMul;
    return old_mix(h);
}

// 16-byte keys "h/<6 chars>" + 8 chosen bytes that all reach the same state after the second block.
std::vector<std::string> crafted_old_collisions(size_t count) {
    std::vector<std::string> keys;
    const uint64_t start = 0x243F6A8885A308D3ull ^ (16 * kOldMul);
    const uint64_t target = 0x0123456789ABCDEFull; // state after two blocks, the same for every key
    for (size_t i = 0; i < count; ++i) {
        char first[9];
        std::snprintf(first, sizeof first, "h/%06u", static_cast<unsigned>(i % 1000000));
        uint64_t w1;
        std::memcpy(&w1, first, 8);
        uint64_t h1 = (start ^ old_mix(w1)) * kOldMul;
        uint64_t w2 = old_unmix((target * inverse_mul(kOldMul)) ^ h1);
        std::string k(first, 8);
        k.append(reinterpret_cast<const char*>(&w2), 8);
        keys.push_back(std::move(k));
    }
    return keys;
}

} // namespace

TEST_CASE("Cache key hash: keys crafted to collide under the old unkeyed hash spread under the keyed one",
          "[edge][cache][key]") {
    auto keys = crafted_old_collisions(2000);
    std::set<uint64_t> old_hashes, new_hashes;
    std::set<uint32_t> new_shards;
    for (const auto& k : keys) {
        old_hashes.insert(old_hash(k));
        new_hashes.insert(hash_cache_key(k));
        new_shards.insert(static_cast<uint32_t>(hash_cache_key(k) >> 32) & 15);
    }
    REQUIRE(old_hashes.size() == 1); // the attack worked on the old hash: 2000 keys, one hash
    CHECK(new_hashes.size() == keys.size());
    CHECK(new_shards.size() == 16);

    // And in the cache itself: every key stored and found (one probe run of 2000 would still work, but slowly).
    ObjectCache cache(64ull << 20, 16);
    for (const auto& k : keys) {
        Freshness f;
        f.store = true;
        f.lifetime_ms = 1'000'000;
        f.expires_at_ms = 1'000'000;
        REQUIRE(cache.insert(CachedObject::create_complete(k, 200, "HTTP/1.1 200 OK\r\n", {}, f, "x")));
    }
    CHECK(cache.stats().objects == keys.size());
    CHECK(cache.max_probe_length() < 32);
}

TEST_CASE("Cache key hash is SipHash-1-3 under a per-process random key", "[edge][cache][key]") {
    // OpenSSL's SIPHASH MAC with c-rounds=1, d-rounds=3 is the independent reference.
    auto reference = [](HashSeed seed, std::string_view data) {
        unsigned char key[16];
        for (int i = 0; i < 8; ++i) {
            key[i] = static_cast<unsigned char>(seed.k0 >> (8 * i));
            key[8 + i] = static_cast<unsigned char>(seed.k1 >> (8 * i));
        }
        EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
        REQUIRE(mac);
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
        unsigned int c = 1, d = 3;
        size_t size = 8;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t("size", &size), OSSL_PARAM_construct_uint("c-rounds", &c),
                               OSSL_PARAM_construct_uint("d-rounds", &d), OSSL_PARAM_construct_end()};
        REQUIRE(EVP_MAC_init(ctx, key, sizeof key, params) == 1);
        REQUIRE(EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
        unsigned char out[8];
        size_t outl = 0;
        REQUIRE(EVP_MAC_final(ctx, out, &outl, sizeof out) == 1);
        REQUIRE(outl == 8);
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v |= uint64_t{out[i]} << (8 * i);
        return v;
    };
    std::string data;
    for (int len = 0; len < 64; ++len) {
        HashSeed seed{0x0706050403020100ull + static_cast<uint64_t>(len), 0x0f0e0d0c0b0a0908ull};
        CHECK(siphash13(seed, data) == reference(seed, data));
        data.push_back(static_cast<char>(len * 7 + 1));
    }
    CHECK(hash_cache_key("example.test/a.js") == siphash13(cache_key_hash_seed(), "example.test/a.js"));
    CHECK(hash_cache_key("example.test/a.js") == reference(cache_key_hash_seed(), "example.test/a.js"));

    // Another process draws another key: run this binary again (only the test below, which prints its hash of one
    // key) a few times and compare.
    std::set<uint64_t> seen{hash_cache_key("example.test/a.js")};
    for (int i = 0; i < 3; ++i) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            ::dup2(fds[1], 1);
            ::execl("/proc/self/exe", "test_edge", "Cache key hash printed by this process", nullptr);
            ::_exit(127);
        }
        ::close(fds[1]);
        std::string out;
        char buf[4096];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
            out.append(buf, static_cast<size_t>(n));
        ::close(fds[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        size_t at = out.find("cache-key-hash=");
        REQUIRE(at != std::string::npos);
        seen.insert(std::strtoull(out.c_str() + at + 15, nullptr, 16));
    }
    CHECK(seen.size() == 4);
}

TEST_CASE("Cache key hash printed by this process", "[edge][cache][key]") {
    uint64_t h = hash_cache_key("example.test/a.js");
    std::printf("cache-key-hash=%016llx\n", static_cast<unsigned long long>(h));
    std::fflush(stdout);
    HashSeed s = cache_key_hash_seed();
    CHECK((s.k0 | s.k1) != 0);
}

TEST_CASE("Cache key fields: headers and cookies of the cache key policy", "[edge][cache][key]") {
    auto key_of = [](const BehaviorConfig& b, std::vector<HeaderField> fields) {
        std::string k = "example.test/a";
        append_key_fields(fields, b, &k);
        return k;
    };
    BehaviorConfig plain;
    CHECK(key_of(plain, {{"X-Device", "mobile"}}) == "example.test/a"); // no key fields: unchanged
    BehaviorConfig b;
    b.cache_key_headers = {"x-device", "accept-language"};
    b.cache_key_cookies = {"theme"};
    CHECK(key_of(b, {{"X-Device", "mobile"}, {"Cookie", "a=1; theme=dark"}}) ==
          "example.test/a\nx-device:mobile\naccept-language!\nc:theme=dark");
    // Absent and empty are different objects, and so are two lines and one.
    CHECK(key_of(b, {}) != key_of(b, {{"x-device", ""}}));
    CHECK(key_of(b, {{"x-device", "a"}, {"x-device", "b"}}) ==
          "example.test/a\nx-device:a,b\naccept-language!\nc!theme");
    // Other headers and cookies do not split the cache.
    CHECK(key_of(b, {{"x-device", "a"}, {"user-agent", "x"}, {"cookie", "other=1"}}) == key_of(b, {{"x-device", "a"}}));
    // Cookie names are case-sensitive (RFC 6265).
    CHECK(key_of(b, {{"cookie", "Theme=dark"}}) == key_of(b, {}));
}

TEST_CASE("Cache key: the site comes first, so two sites never share an object", "[edge][cache][key][sites]") {
    std::string a, b, top;
    REQUIRE(build_cache_key("blog ", "example.com", "/index.html", "", QueryStringPolicy::none, {}, &a));
    REQUIRE(build_cache_key("www ", "example.com", "/index.html", "", QueryStringPolicy::none, {}, &b));
    REQUIRE(build_cache_key("", "example.com", "/index.html", "", QueryStringPolicy::none, {}, &top));
    CHECK(a == "blog example.com/index.html");
    CHECK(b == "www example.com/index.html");
    CHECK(top == "example.com/index.html"); // the top-level site keeps the keys it always had
    CHECK(a != b);
    CHECK(key_site_prefix(a) == "blog ");
    CHECK(key_site_name(a) == "blog");
    CHECK(key_site_prefix("blog#4 h/x y") == "blog#4 ");
    CHECK(key_site_name("blog#4 h/x y") == "blog");
    CHECK(key_site_prefix(top).empty());
    CHECK(key_site_name(top).empty());
    CHECK(key_site_prefix("/p a\nx-h:v w").empty()); // spaces after the path are not a site
}
