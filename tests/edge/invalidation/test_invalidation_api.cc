// The invalidation API over a real cache: the scan, shared out by shard between its low-priority thread and the
// admin thread, applies the whole invalidation before the answer, and reports what it matched.
#include <catch2/catch.hpp>

#include <string>

#include "edge/cache/object_cache.h"
#include "edge/invalidation/invalidation_api.h"

using namespace edge;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000;
constexpr std::string_view kToken = "test-token-0123456789abcdef";

Ref<CachedObject> object(const std::string& key) {
    Freshness f;
    f.store = true;
    f.lifetime_ms = 60'000;
    f.age_origin_ms = kNow;
    f.expires_at_ms = kNow + 60'000;
    return CachedObject::create_complete(key, 200, "HTTP/1.1 200 OK\r\n", ValidatorSpans{}, f, "x");
}

shared::AdminResponse post(InvalidationApi& api, std::string_view body) {
    std::string auth = "Bearer " + std::string(kToken);
    shared::AdminRequest req;
    req.method = "POST";
    req.path = "/_meridian/invalidate";
    req.authorization = auth;
    req.body = body;
    shared::AdminResponse out;
    REQUIRE(api.handle(req, out));
    return out;
}

} // namespace

TEST_CASE("InvalidationApi: every shard is scanned before the answer, hard and soft", "[edge][invalidation]") {
    ObjectCache cache(256 << 20, 16);
    for (int i = 0; i < 20000; ++i) {
        REQUIRE(cache.insert(object("a.test/assets/" + std::to_string(i) + ".js")));
        REQUIRE(cache.insert(object("a.test/keep/" + std::to_string(i) + ".js")));
    }
    InvalidationApi api(
        &cache, [] { return std::string(kToken); }, [] { return kNow + 1; });

    // /keep/1*: 1, 10-19, 100-199, 1000-1999 and 10000-19999.
    shared::AdminResponse soft = post(api, R"({"paths": ["/keep/1*"], "mode": "soft"})");
    CHECK(soft.status == 201);
    CHECK(soft.body.find("\"objects\": 11111") != std::string::npos);
    Ref<CachedObject> got;
    CHECK(cache.find("a.test/keep/12345.js", kNow + 1, &got) == ObjectCache::Lookup::miss); // stale, no validators
    CHECK(cache.find("a.test/keep/2.js", kNow + 1, &got) == ObjectCache::Lookup::fresh);

    shared::AdminResponse hard = post(api, R"({"paths": ["/assets/*"]})");
    CHECK(hard.status == 201);
    CHECK(hard.body.find("\"objects\": 20000") != std::string::npos);
    CHECK(cache.stats().objects == 20000 - 1); // /keep/12345 went on the find above
    for (uint32_t s = 0; s < cache.shard_count(); ++s)
        for (const std::string& k : cache.lru_keys(s))
            CHECK(k.find("/assets/") == std::string::npos);
}
