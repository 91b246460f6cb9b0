#include <catch2/catch.hpp>

#include "edge/cache/cache_key.h"

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
    for (size_t i = 0; i <= kMaxKeyQueryParams; ++i) q += "p" + std::to_string(i) + "=1&";
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
    for (int i = 0; i < 1000; ++i) seen[(hash_cache_key("h/obj" + std::to_string(i)) >> 32) & 15] = true;
    for (bool s : seen) CHECK(s);
}
