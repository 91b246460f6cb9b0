// meridian-edge's live console on the admin listener: GET /_meridian/console (the page, shared/http/console_page.h)
// and GET /_meridian/stats.json, which it polls every second. The stats are read from what the edge already
// counts (the metrics registry's per-worker counters and request-latency histogram, the cache's totals, the
// invalidation API's) plus the popular URLs (top_urls.h). Rates and recent ratios are computed here, from the
// deltas between samples kept in a shared::SampleRing (one sample per second at most, taken when the stats are
// asked for), so the page only shows what it gets. Admin (main loop) thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "edge/cache/object_cache.h"
#include "shared/http/admin_server.h"
#include "shared/metrics/sample_ring.h"

namespace shared {
class MetricsRegistry;
}

namespace edge {

struct EdgeMetrics;
class InvalidationApi;
class TopUrls;

class EdgeConsole {
  public:
    struct Sources {
        const shared::MetricsRegistry* registry = nullptr;
        const EdgeMetrics* metrics = nullptr;
        std::function<CacheStats()> cache;        // totals of the cache (zeros before start)
        std::function<uint64_t()> cache_budget;   // cache.max_bytes in force
        std::function<std::string()> server_name; // of the running config
        const InvalidationApi* invalidation = nullptr;
        const TopUrls* top_urls = nullptr;
    };
    // Samples kept for the recent figures (latency quantiles, recent hit ratios): the last 10 s.
    static constexpr size_t kRecentIntervals = 10;
    static constexpr size_t kTopN = 20;

    explicit EdgeConsole(Sources s);
    // The admin GET handler: true when it answered `path`.
    bool handle(std::string_view path, shared::AdminResponse& out, uint64_t now_ms);
    // The document GET /_meridian/stats.json answers (takes a sample first). `unix_ms`: the wall clock, reported.
    std::string stats_json(uint64_t now_ms, uint64_t unix_ms);
    static std::string page();

  private:
    std::vector<double> sample() const;
    Sources src_;
    shared::SampleRing ring_;
    uint64_t started_ms_ = 0;
    bool started_ = false;
};

} // namespace edge
