#include "edge/console/edge_console.h"

#include <chrono>
#include <cmath>

#include "edge/console/top_urls.h"
#include "edge/invalidation/invalidation_api.h"
#include "edge/proxy/edge_metrics.h"
#include "shared/http/console_page.h"
#include "shared/json/json_writer.h"
#include "shared/metrics/histogram_quantile.h"
#include "shared/metrics/metrics.h"

namespace edge {

namespace {

// What one sample holds, by position.
enum Series : size_t {
    kRequests,
    kHits,      // hit + refresh_hit
    kCacheable, // hit + refresh_hit + miss
    kBytes,
    kHitBytes,
    kCacheableBytes,
    k2xx,
    k3xx,
    k4xx,
    k5xx,
    kOriginRequests,
    kOriginErrors,
    kEvictions,
    kInvalidations,
    kLatencyBuckets, // then one per bucket of the request-latency histogram
};

double ratio(double part, double whole) {
    return whole > 0 ? part / whole : std::nan("");
}

constexpr std::string_view kBody = R"M(<section class="wide"><h2>Traffic</h2><div class="kpis">
<div class="kpi"><b id="rps">–</b><span>requests/s</span></div>
<div class="kpi"><b id="hit_ratio">–</b><span>hit ratio (requests, last 10 s)</span></div>
<div class="kpi"><b id="byte_hit_ratio">–</b><span>hit ratio (bytes, last 10 s)</span></div>
<div class="kpi"><b id="bps">–</b><span>sent</span></div>
<div class="kpi"><b id="p50">–</b><span>p50 latency</span></div>
<div class="kpi"><b id="p99">–</b><span>p99 latency</span></div>
</div><svg class="spark" id="spark_rps"></svg></section>
<section><h2>Totals since start</h2><div class="kpis">
<div class="kpi"><b id="requests_total">–</b><span>requests</span></div>
<div class="kpi"><b id="hits_total">–</b><span>hits</span></div>
<div class="kpi"><b id="misses_total">–</b><span>misses</span></div>
<div class="kpi"><b id="hit_ratio_total">–</b><span>hit ratio</span></div>
<div class="kpi"><b id="byte_hit_ratio_total">–</b><span>byte hit ratio</span></div>
<div class="kpi"><b id="bytes_total">–</b><span>sent</span></div>
</div></section>
<section><h2>Responses</h2><div class="kpis">
<div class="kpi"><b id="s2xx">–</b><span>2xx/s</span></div>
<div class="kpi"><b id="s3xx">–</b><span>3xx/s</span></div>
<div class="kpi"><b id="s4xx">–</b><span>4xx/s</span></div>
<div class="kpi"><b id="s5xx">–</b><span>5xx/s</span></div>
<div class="kpi"><b id="s4xx_total">–</b><span>4xx total</span></div>
<div class="kpi"><b id="s5xx_total">–</b><span>5xx total</span></div>
</div><svg class="spark" id="spark_errors"></svg></section>
<section><h2>Origin</h2><div class="kpis">
<div class="kpi"><b id="origin_rps">–</b><span>requests/s</span></div>
<div class="kpi"><b id="origin_eps">–</b><span>errors/s</span></div>
<div class="kpi"><b id="origin_requests_total">–</b><span>requests total</span></div>
<div class="kpi"><b id="origin_errors_total">–</b><span>errors total</span></div>
</div><svg class="spark" id="spark_origin"></svg></section>
<section><h2>Cache</h2><div class="kpis">
<div class="kpi"><b id="cache_bytes">–</b><span>stored</span></div>
<div class="kpi"><b id="cache_budget">–</b><span>budget</span></div>
<div class="kpi"><b id="cache_fill">–</b><span>full</span></div>
<div class="kpi"><b id="cache_objects">–</b><span>objects</span></div>
<div class="kpi"><b id="evictions_ps">–</b><span>evictions/s</span></div>
<div class="kpi"><b id="evictions_total">–</b><span>evictions total</span></div>
<div class="kpi"><b id="invalidations_total">–</b><span>invalidations</span></div>
<div class="kpi"><b id="invalidated_objects_total">–</b><span>objects invalidated</span></div>
</div></section>
<section class="wide"><h2>Popular URLs by requests</h2><table id="top_requests"></table></section>
<section class="wide"><h2>Popular URLs by bytes</h2><table id="top_bytes"></table></section>
)M";

constexpr std::string_view kRender = R"M(
function render(d) {
  M.num("rps", d.requests_per_s, "/s");
  M.num("hit_ratio", d.hit_ratio_recent, "%");
  M.num("byte_hit_ratio", d.byte_hit_ratio_recent, "%");
  M.num("bps", d.bytes_per_s, "B/s");
  M.num("p50", d.latency_ms.p50, "ms");
  M.num("p99", d.latency_ms.p99, "ms");
  M.spark("spark_rps", d.history.requests_per_s);
  M.num("requests_total", d.requests_total);
  M.num("hits_total", d.hits_total);
  M.num("misses_total", d.misses_total);
  M.num("hit_ratio_total", d.hit_ratio, "%");
  M.num("byte_hit_ratio_total", d.byte_hit_ratio, "%");
  M.num("bytes_total", d.bytes_total, "B");
  for (const c of ["2xx", "3xx", "4xx", "5xx"]) M.num("s" + c, d.status_per_s[c], "/s");
  M.num("s4xx_total", d.status_total["4xx"]);
  M.num("s5xx_total", d.status_total["5xx"]);
  M.spark("spark_errors", d.history.errors_per_s);
  M.num("origin_rps", d.origin_requests_per_s, "/s");
  M.num("origin_eps", d.origin_errors_per_s, "/s");
  M.num("origin_requests_total", d.origin_requests_total);
  M.num("origin_errors_total", d.origin_errors_total);
  M.spark("spark_origin", d.history.origin_requests_per_s);
  M.num("cache_bytes", d.cache.bytes, "B");
  M.num("cache_budget", d.cache.budget_bytes, "B");
  M.num("cache_fill", d.cache.fill_ratio, "%");
  M.num("cache_objects", d.cache.objects);
  M.num("evictions_ps", d.cache.evictions_per_s, "/s");
  M.num("evictions_total", d.cache.evictions_total);
  M.num("invalidations_total", d.invalidations_total);
  M.num("invalidated_objects_total", d.invalidated_objects_total);
  M.table("top_requests", [["URL", "url"], ["requests", "requests", ""], ["± error", "error", ""]], d.top_by_requests);
  M.table("top_bytes", [["URL", "url"], ["bytes", "bytes", "B"], ["± error", "error", "B"]], d.top_by_bytes);
}
)M";

} // namespace

EdgeConsole::EdgeConsole(Sources s) : src_(std::move(s)) {}

std::string EdgeConsole::page() {
    return shared::console_page("meridian-edge", kBody, kRender);
}

std::vector<double> EdgeConsole::sample() const {
    std::vector<double> v(kLatencyBuckets, 0.0);
    const auto& r = *src_.registry;
    const EdgeMetrics& m = *src_.metrics;
    auto val = [&](shared::MetricId id) { return static_cast<double>(r.value(id)); };
    for (shared::MetricId id : m.by_result)
        v[kRequests] += val(id);
    auto res = [](CacheResult c) { return static_cast<size_t>(c); };
    v[kHits] = val(m.by_result[res(CacheResult::hit)]) + val(m.by_result[res(CacheResult::refresh_hit)]);
    v[kCacheable] = v[kHits] + val(m.by_result[res(CacheResult::miss)]);
    for (shared::MetricId id : m.bytes_by_result)
        v[kBytes] += val(id);
    v[kHitBytes] =
        val(m.bytes_by_result[res(CacheResult::hit)]) + val(m.bytes_by_result[res(CacheResult::refresh_hit)]);
    v[kCacheableBytes] = v[kHitBytes] + val(m.bytes_by_result[res(CacheResult::miss)]);
    for (size_t i = 0; i < EdgeMetrics::kStatuses.size(); ++i) {
        int cls = EdgeMetrics::kStatuses[i] / 100;
        if (cls >= 2 && cls <= 5) v[k2xx + static_cast<size_t>(cls - 2)] += val(m.by_status[i]);
    }
    v[kOriginRequests] = val(m.origin_requests);
    for (shared::MetricId id : m.origin_errors)
        if (id) v[kOriginErrors] += val(id);
    CacheStats cs = src_.cache ? src_.cache() : CacheStats{};
    v[kEvictions] = static_cast<double>(cs.evictions);
    v[kInvalidations] = src_.invalidation ? static_cast<double>(src_.invalidation->invalidations()) : 0.0;
    std::vector<double> bounds;
    std::vector<uint64_t> counts;
    if (r.histogram_counts(m.request_latency, &bounds, &counts))
        for (uint64_t c : counts)
            v.push_back(static_cast<double>(c));
    return v;
}

std::string EdgeConsole::stats_json(uint64_t now_ms, uint64_t unix_ms) {
    if (!started_) {
        started_ = true;
        started_ms_ = now_ms;
    }
    std::vector<double> now = sample();
    ring_.offer(now_ms, now);
    CacheStats cs = src_.cache ? src_.cache() : CacheStats{};
    uint64_t budget = src_.cache_budget ? src_.cache_budget() : 0;

    shared::JsonWriter j;
    j.begin_object();
    j.field("daemon", "meridian-edge");
    j.field("server_name", src_.server_name ? src_.server_name() : std::string());
    j.field("unix_ms", unix_ms);
    j.field("samples", static_cast<uint64_t>(ring_.size()));
    j.field("rate_window_s", ring_.seconds(1));
    j.field("recent_window_s", ring_.seconds(kRecentIntervals));
    auto u = [&](Series s) { return static_cast<uint64_t>(now[s]); };
    j.field("requests_total", u(kRequests));
    j.field("requests_per_s", ring_.rate(kRequests));
    j.field("hits_total", u(kHits));
    j.field("misses_total", u(kCacheable) - u(kHits));
    j.field("hit_ratio", ratio(now[kHits], now[kCacheable]));
    j.field("hit_ratio_recent", ratio(ring_.delta(kHits, kRecentIntervals), ring_.delta(kCacheable, kRecentIntervals)));
    j.field("bytes_total", u(kBytes));
    j.field("bytes_per_s", ring_.rate(kBytes));
    j.field("hit_bytes_total", u(kHitBytes));
    j.field("byte_hit_ratio", ratio(now[kHitBytes], now[kCacheableBytes]));
    j.field("byte_hit_ratio_recent",
            ratio(ring_.delta(kHitBytes, kRecentIntervals), ring_.delta(kCacheableBytes, kRecentIntervals)));
    const char* classes[] = {"2xx", "3xx", "4xx", "5xx"};
    j.key("status_total").begin_object();
    for (size_t c = 0; c < 4; ++c)
        j.field(classes[c], u(static_cast<Series>(k2xx + c)));
    j.end_object();
    j.key("status_per_s").begin_object();
    for (size_t c = 0; c < 4; ++c)
        j.field(classes[c], ring_.rate(k2xx + c));
    j.end_object();
    j.field("origin_requests_total", u(kOriginRequests));
    j.field("origin_requests_per_s", ring_.rate(kOriginRequests));
    j.field("origin_errors_total", u(kOriginErrors));
    j.field("origin_errors_per_s", ring_.rate(kOriginErrors));

    // Latency: quantiles of the histogram's increase over the recent window (all time until two samples exist).
    std::vector<double> bounds;
    std::vector<uint64_t> all, recent;
    src_.registry->histogram_counts(src_.metrics->request_latency, &bounds, &all);
    recent.resize(all.size());
    for (size_t b = 0; b < all.size(); ++b)
        recent[b] =
            ring_.size() >= 2 ? static_cast<uint64_t>(ring_.delta(kLatencyBuckets + b, kRecentIntervals)) : all[b];
    j.key("latency_ms").begin_object();
    j.field("p50", shared::histogram_quantile(bounds, recent, 0.5) * 1000.0);
    j.field("p99", shared::histogram_quantile(bounds, recent, 0.99) * 1000.0);
    j.field("p50_all", shared::histogram_quantile(bounds, all, 0.5) * 1000.0);
    j.field("p99_all", shared::histogram_quantile(bounds, all, 0.99) * 1000.0);
    j.end_object();

    j.key("cache").begin_object();
    j.field("bytes", cs.bytes);
    j.field("objects", cs.objects);
    j.field("budget_bytes", budget);
    j.field("fill_ratio", ratio(static_cast<double>(cs.bytes), static_cast<double>(budget)));
    j.field("evictions_total", cs.evictions);
    j.field("evictions_per_s", ring_.rate(kEvictions));
    j.end_object();
    j.field("invalidations_total", u(kInvalidations));
    j.field("invalidated_objects_total",
            src_.invalidation ? src_.invalidation->invalidated_objects() : static_cast<uint64_t>(0));

    TopUrls::Top top = src_.top_urls ? src_.top_urls->top(kTopN) : TopUrls::Top{};
    j.key("top_by_requests").begin_array();
    for (const auto& it : top.by_requests)
        j.begin_object().field("url", it.key).field("requests", it.count).field("error", it.error).end_object();
    j.end_array();
    j.key("top_by_bytes").begin_array();
    for (const auto& it : top.by_bytes)
        j.begin_object().field("url", it.key).field("bytes", it.count).field("error", it.error).end_object();
    j.end_array();

    j.key("history").begin_object();
    j.array("requests_per_s", ring_.rates(kRequests));
    j.array("bytes_per_s", ring_.rates(kBytes));
    j.array("origin_requests_per_s", ring_.rates(kOriginRequests));
    std::vector<double> errors = ring_.rates(k4xx), e5 = ring_.rates(k5xx);
    for (size_t i = 0; i < errors.size(); ++i)
        errors[i] += e5[i];
    j.array("errors_per_s", errors);
    j.end_object();
    j.end_object();
    return j.take();
}

bool EdgeConsole::handle(std::string_view path, shared::AdminResponse& out, uint64_t now_ms) {
    if (path == "/_meridian/console") {
        out.content_type = "text/html; charset=utf-8";
        out.body = page();
        return true;
    }
    if (path == "/_meridian/stats.json") {
        out.content_type = "application/json";
        auto unix_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        out.body = stats_json(now_ms, static_cast<uint64_t>(unix_ms));
        return true;
    }
    return false;
}

} // namespace edge
