#include <catch2/catch.hpp>

#include "edge/console/edge_console.h"
#include "edge/console/top_urls.h"
#include "edge/proxy/edge_metrics.h"
#include "shared/json/json_value.h"
#include "shared/metrics/metrics.h"

namespace {
shared::JsonValue parse(const std::string& s) {
    shared::JsonValue v;
    std::string err;
    INFO(s);
    REQUIRE(shared::parse_json(s, &v, &err));
    return v;
}
} // namespace

TEST_CASE("top URLs: per-worker sketches merged, keyed by host and path", "[edge][console]") {
    edge::TopUrls top(2, 64);
    for (int i = 0; i < 30; ++i)
        top.record(i % 2, "a.test", "/hot", 100);
    for (int i = 0; i < 10; ++i)
        top.record(1, "a.test", "/big", 10000);
    top.record(0, "b.test", "/hot", 1);
    top.record(5, "a.test", "/ignored", 1); // no such worker
    auto t = top.top(20);
    REQUIRE(t.by_requests.size() == 3);
    CHECK(t.by_requests[0].key == "a.test/hot");
    CHECK(t.by_requests[0].count == 30);
    CHECK(t.by_bytes[0].key == "a.test/big");
    CHECK(t.by_bytes[0].count == 100000);
    CHECK(top.top(1).by_requests.size() == 1);
}

TEST_CASE("top URLs: an empty host (HTTP/1.0 without Host) or path is a key too", "[edge][console]") {
    // std::string_view{} has a null data(): copying it with memcpy was undefined behaviour (UBSan stopped the edge).
    edge::TopUrls top(1, 8);
    top.record(0, std::string_view{}, "/robots.txt", 10);
    top.record(0, "a.test", std::string_view{}, 10);
    top.record(0, std::string_view{}, std::string_view{}, 10);
    auto t = top.top(8);
    REQUIRE(t.by_requests.size() == 3);
    CHECK(t.by_requests[0].count == 1);
}

TEST_CASE("edge console stats: totals, ratios, rates from samples, latency, cache, top URLs", "[edge][console]") {
    shared::MetricsRegistry reg(3);
    edge::EdgeMetrics m;
    m.register_all(reg);
    edge::TopUrls top(2);
    edge::CacheStats cache{5000, 7, 2, 0, 0};
    edge::EdgeConsole::Sources src;
    src.registry = &reg;
    src.metrics = &m;
    src.cache = [&] { return cache; };
    src.cache_budget = [] { return uint64_t{10000}; };
    src.server_name = [] { return std::string("edge-1"); };
    src.top_urls = &top;
    edge::EdgeConsole console(src);

    auto empty = parse(console.stats_json(1000, 1700000000000));
    CHECK(empty.get("requests_total")->number == 0);
    CHECK(empty.get("hit_ratio")->type == shared::JsonValue::Type::null); // nothing to divide
    CHECK(empty.get("latency_ms")->get("p50")->type == shared::JsonValue::Type::null);
    CHECK(empty.get("server_name")->string == "edge-1");

    for (int i = 0; i < 90; ++i) {
        m.count_request(i % 2, 200, edge::CacheResult::hit, 1000);
        m.observe_request_latency(i % 2, 0);
        top.record(i % 2, "s.test", "/a", 1000);
    }
    for (int i = 0; i < 10; ++i) {
        m.count_request(0, 200, edge::CacheResult::miss, 3000);
        m.observe_request_latency(0, 40);
        top.record(0, "s.test", "/b", 3000);
    }
    m.count_request(1, 404, edge::CacheResult::error, 100);
    m.count_request(1, 503, edge::CacheResult::error, 100);
    reg.inc(0, m.origin_requests, 10);
    auto s = parse(console.stats_json(2000, 1700000001000));
    CHECK(s.get("requests_total")->number == 102);
    CHECK(s.get("hits_total")->number == 90);
    CHECK(s.get("misses_total")->number == 10);
    CHECK(s.get("hit_ratio")->number == Approx(0.9));
    CHECK(s.get("byte_hit_ratio")->number == Approx(90000.0 / 120000.0));
    CHECK(s.get("requests_per_s")->number == Approx(102));
    CHECK(s.get("rate_window_s")->number == Approx(1));
    CHECK(s.get("status_total")->get("2xx")->number == 100);
    CHECK(s.get("status_total")->get("4xx")->number == 1);
    CHECK(s.get("status_total")->get("5xx")->number == 1);
    CHECK(s.get("origin_requests_total")->number == 10);
    // 90 observations at 0 ms, 10 at 40 ms: p50 in the first bucket (≤ 1 ms), p99 in (25, 50] ms.
    CHECK(s.get("latency_ms")->get("p50")->number <= 1.0);
    CHECK(s.get("latency_ms")->get("p99")->number > 25.0);
    CHECK(s.get("latency_ms")->get("p99")->number <= 50.0);
    CHECK(s.get("cache")->get("fill_ratio")->number == Approx(0.5));
    CHECK(s.get("cache")->get("evictions_total")->number == 2);
    const auto& tr = s.get("top_by_requests")->items;
    REQUIRE(tr.size() == 2);
    CHECK(tr[0].get("url")->string == "s.test/a");
    CHECK(tr[0].get("requests")->number == 90);
    CHECK(s.get("top_by_bytes")->items[0].get("url")->string == "s.test/a");
    CHECK(s.get("history")->get("requests_per_s")->items.size() == 1);

    // Within a second of the last sample: the same rates (many pages polling share one sample).
    m.count_request(0, 200, edge::CacheResult::hit, 1000);
    auto again = parse(console.stats_json(2500, 1700000001500));
    CHECK(again.get("requests_total")->number == 103);
    CHECK(again.get("requests_per_s")->number == Approx(102));
    CHECK(again.get("samples")->number == 2);

    auto page = edge::EdgeConsole::page();
    CHECK(page.find("<!doctype html>") == 0);
    CHECK(page.find("function render(d)") != std::string::npos);
    CHECK(page.find("id=\"top_requests\"") != std::string::npos);
}
