// The cache report (/_meridian/cache): what it says about one stored object, that it finds what a viewer's request
// stored (the key derived as the proxy derives it: rewrites, sorted queries, cache key fields), that looking changes
// nothing (LRU order, counters, expired objects), Vary variants, and the endpoint's answers to bad parameters.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"
#include "edge/cache/stored_headers.h"
#include "edge/cache/vary_variant.h"
#include "edge/config/edge_config.h"
#include "edge/explain/cache_explainer.h"
#include "edge/http/request_parser.h"
#include "edge/proxy/edge_metrics.h"
#include "edge/proxy/edge_runtime.h"
#include "edge/proxy/proxy_handler.h"
#include "shared/json/json_value.h"
#include "tests/edge/proxy/proxy_fakes.h"
#include "tests/support/temp_dir.h"

using namespace edge;
using test_support::FakeViewer;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

// One worker's proxy over the fakes (tests/edge/proxy/proxy_fakes.h) in front of an http origin, with behaviors
// that each change the key in their own way.
struct Proxy {
    test_support::TempDir dir{"meridian-cache-explain"};
    std::shared_ptr<const EdgeRuntime> rt;
    std::unique_ptr<ObjectCache> cache;
    std::unique_ptr<MissCoalescer> coalescer;
    AccessLogFile access_log;
    EdgeMetrics metrics;
    std::atomic<bool> draining{false};
    test_support::FakeProxyIo io;
    std::unique_ptr<ProxyHandler> handler;

    Proxy() {
        std::string conf = dir.write("edge.toml", R"(workers = 1
listen = ["127.0.0.1:0"]
[[origin]]
name = "o"
type = "http"
address = "127.0.0.1:9"
[[behavior]]
path_pattern = "/nocache/*"
origin = "o"
cache = false
[[behavior]]
path_pattern = "/q/*"
origin = "o"
compress = false
query_string = "all"
[[behavior]]
path_pattern = "/app/*"
origin = "o"
compress = false
rewrite_path = "/app/index.html"
[[behavior]]
path_pattern = "/keyed/*"
origin = "o"
compress = false
cache_key_headers = ["X-Device"]
[[behavior]]
path_pattern = "*"
origin = "o"
compress = false
)");
        shared::ConfigDiagnostics diags;
        auto cfg = load_edge_config(conf, diags);
        INFO(diags.to_string());
        REQUIRE(cfg);
        std::string err;
        rt = EdgeRuntime::build(std::move(*cfg), &err);
        INFO(err);
        REQUIRE(rt);
        const auto& c = rt->config.cache;
        cache = std::make_unique<ObjectCache>(c.max_bytes, c.shards);
        coalescer = std::make_unique<MissCoalescer>(cache.get(), c.shards, c.max_object_bytes, c.hit_for_miss_ttl_ms);
        EdgeServices s;
        s.cache = cache.get();
        s.coalescer = coalescer.get();
        s.access_log = &access_log;
        s.metrics = &metrics;
        s.draining = &draining;
        handler = std::make_unique<ProxyHandler>(io, 0, s, rt);
    }
    ~Proxy() {
        io.run();
        handler.reset();
    }

    // A viewer's GET of `target` (with `extra` header lines), which the origin answers with `body`, cacheable.
    void fetch(const std::string& target, const std::string& extra, const std::string& body) {
        std::string head = "GET " + target + " HTTP/1.1\r\nHost: Example.TEST\r\n" + extra + "\r\n";
        RequestParser parser{RequestLimits{}};
        REQUIRE(parser.feed(head.data(), head.size()).status == RequestParser::Status::complete);
        FakeViewer v;
        size_t before = io.origin.fetches.size();
        handler->handle(v, parser.request());
        REQUIRE(io.origin.fetches.size() == before + 1);
        auto& f = io.origin.last();
        f.head(200, {{"Content-Length", std::to_string(body.size())},
                     {"Cache-Control", "max-age=60"},
                     {"Content-Type", "text/plain"}});
        f.body(body);
        f.complete();
        io.run();
        REQUIRE(v.ended);
    }

    CacheExplanation explain(const std::string& url, const std::string& host = "example.test") {
        CacheQuery q;
        std::string err;
        REQUIRE(parse_cache_query(url, host, &q, &err));
        return explain_cache(rt->config, *cache, q, ProxyHandler::wall_ms());
    }
};

Ref<CachedObject> stored(const std::string& key, const std::vector<HeaderField>& fields, bool validators,
                         uint64_t age_origin, uint64_t lifetime_ms, std::string_view body) {
    std::vector<HeaderField> h = fields;
    if (validators) h.push_back({"ETag", "\"v1\""});
    ValidatorSpans spans;
    std::string block = build_stored_header_block(200, "", h.data(), h.size(), false, &spans);
    Freshness f;
    f.store = true;
    f.lifetime_ms = lifetime_ms;
    f.age_origin_ms = age_origin;
    f.expires_at_ms = age_origin + lifetime_ms;
    return CachedObject::create_complete(key, 200, block, spans, f, body);
}

shared::AdminResponse ask(const Proxy& p, const std::string& method, const std::string& query) {
    shared::AdminRequest req;
    req.method = method;
    req.path = "/_meridian/cache";
    req.query = query;
    shared::AdminResponse out;
    REQUIRE(answer_cache_request(req, p.rt->config, p.cache.get(), ProxyHandler::wall_ms(), &out));
    return out;
}

} // namespace

TEST_CASE("cache report: one object's age, freshness, stale windows, size, type, validators and tags",
          "[edge][explain]") {
    Ref<CachedObject> o = stored("example.test/a",
                                 {{"Content-Type", "text/css"},
                                  {"Cache-Control", "max-age=100, stale-while-revalidate=30, stale-if-error=600"},
                                  {"Surrogate-Key", "release-42  css"},
                                  {"Cache-Tag", "site-a, blue"}},
                                 true, kNow - 25'500, 100'000, "body!");
    CachedObjectReport r = report_cached_object(*o, kNow);
    CHECK(r.key == "example.test/a");
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/css");
    CHECK(r.size == 5);
    CHECK(r.complete);
    CHECK(r.charged_bytes == o->charge());
    CHECK(r.age_s == 25);
    CHECK(r.lifetime_s == 100);
    CHECK(r.fresh);
    CHECK(r.freshness_left_s == 74);
    CHECK(r.stale_while_revalidate_s == 30);
    CHECK(r.stale_if_error_s == 600);
    CHECK(r.etag == "\"v1\"");
    CHECK(r.tags == std::vector<std::string>{"release-42", "css", "site-a", "blue"});

    CachedObjectReport later = report_cached_object(*o, kNow + 80'000);
    CHECK(!later.fresh);
    CHECK(later.freshness_left_s == -5);
    CHECK(later.age_s == 105);
}

TEST_CASE("cache report: finds what viewers' requests stored, keyed as the proxy keys them", "[edge][explain]") {
    Proxy p;
    CacheExplanation none = p.explain("/plain.txt");
    CHECK(none.cacheable);
    CHECK(!none.cached);
    CHECK(!none.object);
    CHECK(none.key == "example.test/plain.txt");

    p.fetch("/plain.txt", "", "plain body");
    CacheExplanation e = p.explain("/plain.txt");
    CHECK(e.cached);
    REQUIRE(e.object);
    CHECK(e.object->kind == "object");
    CHECK(e.object->size == 10);
    CHECK(e.object->lifetime_s == 60);
    CHECK(e.object->content_type == "text/plain");
    CHECK(e.site == "(top-level)");
    CHECK(e.behavior == "*");
    // The host is matched and keyed case-insensitively, dot segments and %-escapes are normalized away.
    CHECK(p.explain("/x/../pl%61in.txt", "EXAMPLE.test").cached);
    CHECK(p.explain("http://example.test/plain.txt", "").cached);

    // Query parameters are sorted into the key.
    p.fetch("/q/list?b=2&a=1", "", "list");
    CHECK(p.explain("/q/list?a=1&b=2").cached);
    CHECK(!p.explain("/q/list?a=1").cached);

    // A rewrite keys every route under its target.
    p.fetch("/app/some/route", "", "<app>");
    CacheExplanation app = p.explain("/app/other");
    CHECK(app.cached);
    CHECK(app.path == "/app/index.html");

    // Cache key headers: the report keys a request without them, and lists the other values as variants.
    p.fetch("/keyed/k", "X-Device: mobile\r\n", "mobile");
    CacheExplanation keyed = p.explain("/keyed/k");
    CHECK(keyed.key == "example.test/keyed/k\nx-device!");
    CHECK(!keyed.object);
    REQUIRE(keyed.variants.size() == 1);
    CHECK(keyed.variants[0].kind == "variant");
    CHECK(keyed.variants[0].selects == std::vector<std::string>{"x-device:mobile"});
    CHECK(keyed.cached);
    p.fetch("/keyed/k", "", "none");
    CHECK(p.explain("/keyed/k").object);

    // A longer path sharing the prefix is not a variant.
    p.fetch("/plain.txt2", "", "other");
    CHECK(p.explain("/plain.txt").variants.empty());

    CacheExplanation off = p.explain("/nocache/x");
    CHECK(!off.cacheable);
    CHECK(off.reason.find("cache = false") != std::string::npos);
    CacheExplanation bad = p.explain("/%00");
    CHECK(!bad.cacheable);
    CHECK(bad.reason.find("bad request path") != std::string::npos);
}

TEST_CASE("cache report: looking changes nothing (LRU order, counters, expired objects)", "[edge][explain]") {
    Proxy p;
    ObjectCache cache(1 << 20, 1);
    uint64_t now = ProxyHandler::wall_ms();
    REQUIRE(cache.insert(stored("example.test/old", {}, false, now - 10'000, 1'000, "gone soon")));
    REQUIRE(cache.insert(stored("example.test/new", {}, false, now, 60'000, "fresh")));
    std::vector<std::string> order = cache.lru_keys(0);
    CacheStats before = cache.stats();

    CacheQuery q;
    std::string err;
    REQUIRE(parse_cache_query("/old", "example.test", &q, &err));
    CacheExplanation e = explain_cache(p.rt->config, cache, q, now);
    REQUIRE(e.object);
    CHECK(!e.object->fresh);
    CHECK(e.object->freshness_left_s == -9);
    CHECK(e.cached); // still stored, although the next viewer's lookup drops it
    CHECK(cache.lru_keys(0) == order);
    CacheStats after = cache.stats();
    CHECK(after.objects == before.objects);
    CHECK(after.inserts == before.inserts);
    CHECK(after.evictions == before.evictions);
    CHECK(after.bytes == before.bytes);
}

TEST_CASE("cache report: Vary variants are listed with the request fields that select them", "[edge][explain]") {
    Proxy p;
    uint64_t now = ProxyHandler::wall_ms();
    std::string key = "example.test/v";
    REQUIRE(p.cache->insert(make_vary_marker(key, "accept-language,x-foo", 0xabc, now, 60'000)));
    for (const char* lang : {"en", "fr"}) {
        std::vector<HeaderField> req = {{"Accept-Language", lang}};
        std::string vk = key;
        append_vary_suffix(req, "accept-language,x-foo", 0xabc, &vk);
        REQUIRE(p.cache->insert(stored(vk, {{"Vary", "Accept-Language, X-Foo"}}, false, now, 60'000, lang)));
    }
    CacheExplanation e = p.explain("/v");
    CHECK(e.cached);
    REQUIRE(e.object);
    CHECK(e.object->kind == "vary-marker");
    CHECK(e.vary == std::vector<std::string>{"accept-language", "x-foo"});
    REQUIRE(e.variants.size() == 2);
    CHECK(e.variants[0].kind == "variant");
    CHECK(e.variants[0].selects == std::vector<std::string>{"accept-language:en", "x-foo!"});
    CHECK(e.variants[1].selects == std::vector<std::string>{"accept-language:fr", "x-foo!"});
    CHECK(e.variants[1].size == 2);

    std::string text = cache_explanation_text(e);
    CHECK(text.find("vary:      accept-language, x-foo") != std::string::npos);
    CHECK(text.find("\\nvabc\\naccept-language:fr\\nx-foo!") != std::string::npos);
    CHECK(text.find('\0') == std::string::npos);
}

TEST_CASE("cache report: the endpoint's answers", "[edge][explain]") {
    Proxy p;
    p.fetch("/a.txt", "", "aaa");

    shared::AdminResponse hit = ask(p, "GET", "url=%2Fa.txt&host=example.test");
    CHECK(hit.status == 200);
    CHECK(hit.content_type == "application/json");
    shared::JsonValue doc;
    std::string err;
    REQUIRE(shared::parse_json(hit.body, &doc, &err));
    CHECK(doc.get("cached")->boolean);
    CHECK(doc.get("key")->string == "example.test/a.txt");
    CHECK(doc.get("object")->get("size")->number == 3);
    CHECK(doc.get("object")->get("freshness_lifetime")->number == 60);

    shared::AdminResponse miss = ask(p, "GET", "url=/b.txt&host=example.test");
    CHECK(miss.status == 404);
    REQUIRE(shared::parse_json(miss.body, &doc, &err));
    CHECK(!doc.get("cached")->boolean);
    CHECK(doc.get("object")->type == shared::JsonValue::Type::null);

    shared::AdminResponse text = ask(p, "GET", "url=/a.txt&host=example.test&format=text");
    CHECK(text.status == 200);
    CHECK(text.body.find("cached:    yes") != std::string::npos);
    CHECK(text.body.find("size: 3 bytes") != std::string::npos);

    for (const char* q : {"host=example.test", "url=/a.txt", "url=a.txt&host=example.test",
                          "url=/a.txt&host=example.test&format=xml", "url=/a.txt&host=a%20b", "url=%zz&host=h"}) {
        INFO(q);
        shared::AdminResponse bad = ask(p, "GET", q);
        CHECK(bad.status == 400);
        CHECK(bad.body.find("usage: GET /_meridian/cache?url=") != std::string::npos);
    }
    CHECK(ask(p, "POST", "url=/a.txt&host=example.test").status == 405);

    shared::AdminRequest other;
    other.method = "GET";
    other.path = "/_meridian/other";
    shared::AdminResponse out;
    CHECK(!answer_cache_request(other, p.rt->config, p.cache.get(), 0, &out));
    other.path = "/_meridian/cache";
    other.query = "url=/a&host=h";
    CHECK(answer_cache_request(other, p.rt->config, nullptr, 0, &out));
    CHECK(out.status == 503);
}
