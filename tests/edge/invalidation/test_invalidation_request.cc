// Invalidation requests: the JSON they are read from, which stored objects they cover (paths, wildcards, hosts,
// tags, every query string / key field / compressed variant of a path), and the cache scan that applies them.
#include <catch2/catch.hpp>

#include <string>

#include "edge/cache/cache_key.h"
#include "edge/cache/object_cache.h"
#include "edge/compress/content_coding.h"
#include "edge/invalidation/invalidation_request.h"

using namespace edge;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

Ref<CachedObject> object(const std::string& key, std::string block = "HTTP/1.1 200 OK\r\n") {
    Freshness f;
    f.store = true;
    f.lifetime_ms = 60'000;
    f.age_origin_ms = kNow;
    f.expires_at_ms = kNow + 60'000;
    ValidatorSpans v;
    if (size_t at = block.find("\r\nSurrogate-Key"); at != std::string::npos)
        v.edge_fields_off = static_cast<uint32_t>(at + 2);
    return CachedObject::create_complete(key, 200, block, v, f, "x");
}

InvalidationRequest parse(const std::string& json) {
    InvalidationRequest r;
    std::string err;
    INFO(json);
    REQUIRE(parse_invalidation_request(json, &r, &err));
    return r;
}

std::string error_of(const std::string& json) {
    InvalidationRequest r;
    std::string err;
    CHECK_FALSE(parse_invalidation_request(json, &r, &err));
    return err;
}

} // namespace

TEST_CASE("Invalidation: bad requests get a clear reason", "[edge][invalidation]") {
    CHECK(error_of("nope").rfind("invalid JSON", 0) == 0);
    CHECK(error_of("[]") == "the body must be a JSON object");
    CHECK(error_of("{}") == "nothing to invalidate: give paths, tags or both");
    CHECK(error_of(R"({"paths": ["/a"], "colour": 1})").find("unknown member \"colour\"") == 0);
    CHECK(error_of(R"({"paths": ["a.html"]})").find("a path starts with '/'") != std::string::npos);
    CHECK(error_of(R"({"paths": ["/a/*/b"]})").find("'*' only at its end") != std::string::npos);
    CHECK(error_of(R"({"paths": ["/a?x=1"]})").find("no query") != std::string::npos);
    CHECK(error_of(R"({"paths": "/a"})") == "paths must be an array of strings");
    CHECK(error_of(R"({"paths": ["/a"], "mode": "gentle"})").find("mode must be") == 0);
    CHECK(error_of(R"({"paths": ["/a"], "host": "a b"})").find("host must be") == 0);
    std::string many = "{\"paths\": [";
    for (int i = 0; i < 3001; ++i)
        many += std::string(i ? "," : "") + "\"/p" + std::to_string(i) + "\"";
    CHECK(error_of(many + "]}").find("at most 3000 paths") == 0);
}

TEST_CASE("Invalidation: exact paths cover every query, key field and variant of that path", "[edge][invalidation]") {
    InvalidationRequest r = parse(R"({"host": "WWW.Example.com", "paths": ["/index.html", "/a%20b.css"]})");
    auto covers = [&](const std::string& key) { return invalidation_covers(r, *object(key)); };
    CHECK(covers("www.example.com/index.html"));
    CHECK(covers("www.example.com/index.html?v=2"));
    CHECK(covers("www.example.com/index.html\nx-device:mobile"));
    std::string vk;
    variant_key("www.example.com/index.html", ContentCoding::br, &vk);
    CHECK(covers(vk));
    CHECK(covers("www.example.com/a b.css")); // keys hold decoded paths
    CHECK_FALSE(covers("www.example.com/index.html.bak"));
    CHECK_FALSE(covers("other.example.com/index.html"));
    CHECK_FALSE(covers("www.example.com/"));
}

TEST_CASE("Invalidation: wildcards, every host, tags", "[edge][invalidation]") {
    InvalidationRequest w = parse(R"({"paths": ["/assets/*"]})");
    CHECK(invalidation_covers(w, *object("a.test/assets/app.js")));
    CHECK(invalidation_covers(w, *object("b.test/assets/img/x.png?s=1")));
    CHECK_FALSE(invalidation_covers(w, *object("a.test/assetsx/app.js")));
    InvalidationRequest all = parse(R"({"paths": ["/*"]})");
    CHECK(invalidation_covers(all, *object("a.test/")));
    CHECK(invalidation_covers(all, *object("a.test/anything")));
    InvalidationRequest t = parse(R"({"tags": ["release-42"]})");
    CHECK(invalidation_covers(t, *object("a.test/x", "HTTP/1.1 200 OK\r\nSurrogate-Key: site release-42\r\n")));
    CHECK(invalidation_covers(
        t, *object("a.test/x", "HTTP/1.1 200 OK\r\nSurrogate-Key: x\r\nCache-Tag: a, release-42\r\n")));
    CHECK_FALSE(invalidation_covers(t, *object("a.test/x", "HTTP/1.1 200 OK\r\nSurrogate-Key: release-4\r\n")));
    CHECK_FALSE(invalidation_covers(t, *object("a.test/x")));
}

TEST_CASE("Invalidation: the cache scan removes, or with soft marks stale, exactly what is covered",
          "[edge][invalidation]") {
    ObjectCache c(64 << 20, 4);
    for (int i = 0; i < 5000; ++i) {
        REQUIRE(c.insert(object("a.test/assets/" + std::to_string(i) + ".js")));
        REQUIRE(c.insert(object("a.test/keep/" + std::to_string(i) + ".js")));
    }
    InvalidationRequest r = parse(R"({"paths": ["/assets/*"]})");
    auto covered = [&](const CachedObject& o) { return invalidation_covers(r, o); };
    r.soft = true;
    CHECK(c.invalidate(covered, true, kNow + 1) == 5000);
    Ref<CachedObject> got;
    CHECK(c.find("a.test/assets/7.js", kNow + 1, &got) == ObjectCache::Lookup::miss); // stale, no validators: gone
    CHECK(c.find("a.test/keep/7.js", kNow + 1, &got) == ObjectCache::Lookup::fresh);
    CHECK(c.invalidate(covered, false, kNow + 1) == 4999);
    CHECK(c.stats().objects == 5000);
    CHECK(c.find("a.test/keep/4999.js", kNow + 1, &got) == ObjectCache::Lookup::fresh);
}

TEST_CASE("Invalidation: a site scopes it; without one it covers every site", "[edge][invalidation][sites]") {
    InvalidationRequest blog = parse(R"({"site": "blog", "paths": ["/index.html"]})");
    CHECK(blog.has_site);
    CHECK(invalidation_covers(blog, *object("blog blog.test/index.html")));
    CHECK(invalidation_covers(blog, *object("blog#3 blog.test/index.html"))); // the site as re-added by a reload
    CHECK_FALSE(invalidation_covers(blog, *object("www www.test/index.html")));
    CHECK_FALSE(invalidation_covers(blog, *object("blogs blog.test/index.html")));
    CHECK_FALSE(invalidation_covers(blog, *object("blog.test/index.html"))); // the top-level site's

    InvalidationRequest top = parse(R"({"site": "", "paths": ["/index.html"]})");
    CHECK(invalidation_covers(top, *object("blog.test/index.html")));
    CHECK_FALSE(invalidation_covers(top, *object("blog blog.test/index.html")));

    InvalidationRequest any = parse(R"({"paths": ["/index.html"]})");
    CHECK_FALSE(any.has_site);
    CHECK(invalidation_covers(any, *object("blog blog.test/index.html")));
    CHECK(invalidation_covers(any, *object("www www.test/index.html")));
    CHECK(invalidation_covers(any, *object("x.test/index.html")));
    CHECK_FALSE(invalidation_covers(any, *object("www www.test/other.html")));

    InvalidationRequest host = parse(R"({"host": "www.test", "paths": ["/*"]})");
    CHECK(invalidation_covers(host, *object("www www.test/a")));
    CHECK_FALSE(invalidation_covers(host, *object("www other.test/a")));

    CHECK(error_of(R"({"paths": ["/a"], "site": "a b"})").find("site must be") == 0);
    CHECK(error_of(R"({"paths": ["/a"], "site": 1})").find("site must be") == 0);
}
