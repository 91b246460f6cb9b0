#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "shared/metrics/metrics.h"

TEST_CASE("metrics render in Prometheus text format, summed over shards", "[shared][metrics]") {
    shared::MetricsRegistry m(3);
    auto ok = m.counter("meridian_requests_total", "Requests served.", "status=\"200\"");
    auto nf = m.counter("meridian_requests_total", "Requests served.", "status=\"404\"");
    auto conns = m.gauge("meridian_open_connections", "Open client connections.");
    auto lat = m.histogram("meridian_origin_seconds", "Origin latency.", {0.01, 0.1, 1});
    m.gauge_fn("meridian_cache_bytes", "Bytes in the cache.", "", [] { return 1234.0; });
    CHECK(m.counter("meridian_requests_total", "Requests served.", "status=\"200\"") == ok);

    std::vector<std::thread> ts;
    for (unsigned s = 0; s < 3; ++s)
        ts.emplace_back([&, s] {
            for (int i = 0; i < 1000; ++i) m.inc(s, ok);
            m.inc(s, nf, 2);
            m.gauge_add(s, conns, 5);
            m.gauge_add(s, conns, -2);
        });
    for (auto& t : ts) t.join();
    m.observe(0, lat, 0.005);
    m.observe(1, lat, 0.05);
    m.observe(2, lat, 5);
    CHECK(m.value(ok) == 3000);
    CHECK(m.value(conns) == 9);
    std::string text = m.render();
    CHECK(text.find("# TYPE meridian_requests_total counter\n") != std::string::npos);
    CHECK(text.find("meridian_requests_total{status=\"200\"} 3000\n") != std::string::npos);
    CHECK(text.find("meridian_requests_total{status=\"404\"} 6\n") != std::string::npos);
    CHECK(text.find("meridian_open_connections 9\n") != std::string::npos);
    CHECK(text.find("meridian_origin_seconds_bucket{le=\"0.01\"} 1\n") != std::string::npos);
    CHECK(text.find("meridian_origin_seconds_bucket{le=\"0.1\"} 2\n") != std::string::npos);
    CHECK(text.find("meridian_origin_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
    CHECK(text.find("meridian_origin_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
    CHECK(text.find("meridian_origin_seconds_count 3\n") != std::string::npos);
    CHECK(text.find("meridian_cache_bytes 1234\n") != std::string::npos);
    // HELP/TYPE once per family, not per series.
    auto first = text.find("# HELP meridian_requests_total");
    CHECK(text.find("# HELP meridian_requests_total", first + 1) == std::string::npos);
}

TEST_CASE("Metrics: a counter read at render time is typed counter, a gauge read at render time gauge",
          "[shared][metrics]") {
    shared::MetricsRegistry m(1);
    uint64_t evictions = 7;
    m.counter_fn("meridian_evictions_total", "Objects evicted.", "", [&] { return static_cast<double>(evictions); });
    m.gauge_fn("meridian_bytes", "Bytes stored.", "", [] { return 5.0; });
    evictions = 9;
    std::string text = m.render();
    CHECK(text.find("# TYPE meridian_evictions_total counter\nmeridian_evictions_total 9\n") != std::string::npos);
    CHECK(text.find("# TYPE meridian_bytes gauge\nmeridian_bytes 5\n") != std::string::npos);
}
