#include "dns/console/dns_console.h"

#include <chrono>
#include <cmath>

#include "dns/geo/steering.h"
#include "dns/geo/steering_config.h"
#include "dns/server/query_service.h"
#include "shared/http/console_page.h"
#include "shared/json/json_writer.h"
#include "shared/metrics/metrics.h"

namespace dns {

namespace {

constexpr const char* kRcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"};
constexpr size_t kNumRcodes = std::size(kRcodes);

// What one sample holds, by position; the per-edge answer counts follow.
enum Series : size_t {
    kRcode0 = 0,
    kUdp = kNumRcodes,
    kTcp,
    kRateLimited,
    kDropped,
    kTruncated,
    kSteered,
    kFailedOpen,
    kEdges,
};

constexpr std::string_view kBody = R"M(<section class="wide"><h2>Queries</h2><div class="kpis">
<div class="kpi"><b id="qps">–</b><span>queries/s</span></div>
<div class="kpi"><b id="udp_ps">–</b><span>UDP/s</span></div>
<div class="kpi"><b id="tcp_ps">–</b><span>TCP/s</span></div>
<div class="kpi"><b id="queries_total">–</b><span>queries total</span></div>
<div class="kpi"><b id="rrl_ps">–</b><span>RRL drops/s</span></div>
<div class="kpi"><b id="rrl_total">–</b><span>RRL drops total</span></div>
<div class="kpi"><b id="truncated_total">–</b><span>truncated (TC)</span></div>
</div><svg class="spark" id="spark_qps"></svg></section>
<section><h2>Responses by rcode</h2><table id="rcodes"></table></section>
<section><h2>By protocol</h2><table id="protocols"></table></section>
<section class="wide"><h2>Steering decisions by edge</h2><div class="kpis">
<div class="kpi"><b id="steered_ps">–</b><span>steered answers/s</span></div>
<div class="kpi"><b id="steered_total">–</b><span>steered total</span></div>
<div class="kpi"><b id="failed_open_total">–</b><span>failed open</span></div>
</div><table id="by_edge"></table></section>
<section><h2>Steering decisions by region</h2><table id="by_region"></table></section>
<section class="wide"><h2>Edge health</h2><table id="health"></table></section>
)M";

constexpr std::string_view kRender = R"M(
function render(d) {
  M.num("qps", d.queries_per_s, "/s");
  M.num("udp_ps", d.protocol.udp.per_s, "/s");
  M.num("tcp_ps", d.protocol.tcp.per_s, "/s");
  M.num("queries_total", d.queries_total);
  M.num("rrl_ps", d.rrl_per_s, "/s");
  M.num("rrl_total", d.rrl_total);
  M.num("truncated_total", d.truncated_total);
  M.spark("spark_qps", d.history.queries_per_s);
  M.table("rcodes", [["rcode", "rcode"], ["per second", "per_s", "/s"], ["total", "total", ""]], d.rcodes);
  M.table("protocols", [["protocol", "protocol"], ["per second", "per_s", "/s"], ["total", "total", ""]],
          ["udp", "tcp"].map(p => Object.assign({protocol: p}, d.protocol[p])));
  M.num("steered_ps", d.steering.answers_per_s, "/s");
  M.num("steered_total", d.steering.answers_total);
  M.num("failed_open_total", d.steering.failed_open_total);
  M.table("by_edge", [["edge", "edge"], ["region", "region"], ["health", "health"], ["per second", "per_s", "/s"],
                      ["total", "answers", ""]], d.steering.by_edge);
  M.table("by_region", [["region", "region"], ["per second", "per_s", "/s"], ["total", "answers", ""]],
          d.steering.by_region);
  const now = d.unix_ms;
  M.table("health", [["edge", "edge"], ["check", "check"], ["state", "health"], ["last check", "last"],
                     ["last result", "result"], ["fails in a row", "consecutive_failures", ""]],
          d.health.map(h => Object.assign({}, h, {
            last: h.last_check_unix_ms ? new Date(h.last_check_unix_ms).toLocaleTimeString() + " (" +
                  ((now - h.last_check_unix_ms) / 1000).toFixed(1) + " s ago)" : "never",
            result: h.check === "none" ? "no check" : h.last_ok ? "ok" : (h.last_detail || "failed")})));
  for (const td of document.querySelectorAll('td[data-key="health"]'))
    td.className = td.textContent === "healthy" ? "k good" : td.textContent === "unhealthy" ? "k bad" : "k";
}
)M";

const char* health_word(int state) {
    return state == 1 ? "healthy" : state == 0 ? "unhealthy" : "unknown";
}

} // namespace

DnsConsole::DnsConsole(Sources s) : src_(std::move(s)) {}

std::string DnsConsole::page() {
    return shared::console_page("meridian-dns", kBody, kRender);
}

std::string DnsConsole::region_of(const geo::Steering& st, size_t edge) {
    const auto& edges = st.config().edges;
    if (edge >= edges.size()) return {};
    const geo::EdgeConfig& e = edges[edge];
    std::string r;
    for (const std::string* part : {&e.continent, &e.country, &e.subdivision})
        if (!part->empty()) r += (r.empty() ? "" : "/") + *part;
    return r;
}

void DnsConsole::steering_replaced(const geo::Steering& old) {
    std::vector<uint64_t> by_edge = old.answers_by_edge();
    const auto& names = old.edge_names();
    for (size_t i = 0; i < by_edge.size() && i < names.size(); ++i)
        carried_[names[i]] += by_edge[i];
    carried_answers_ += old.answers_total();
}

std::vector<double> DnsConsole::sample(std::vector<std::string>* edges) const {
    std::vector<double> v(kEdges, 0.0);
    const auto& r = *src_.registry;
    const ServerMetricIds& ids = *src_.ids;
    for (size_t i = 0; i < kNumRcodes && i < ids.by_rcode.size(); ++i)
        v[kRcode0 + i] = static_cast<double>(r.value(ids.by_rcode[i]));
    v[kUdp] = static_cast<double>(r.value(ids.udp));
    v[kTcp] = static_cast<double>(r.value(ids.tcp));
    v[kRateLimited] = static_cast<double>(r.value(ids.rate_limited));
    v[kDropped] = static_cast<double>(r.value(ids.dropped));
    v[kTruncated] = static_cast<double>(r.value(ids.truncated));
    v[kSteered] = static_cast<double>(carried_answers_);
    v[kFailedOpen] = src_.failed_open ? static_cast<double>(src_.failed_open()) : 0.0;
    const geo::Steering* st = src_.steering ? src_.steering() : nullptr;
    if (st) {
        v[kSteered] += static_cast<double>(st->answers_total());
        std::vector<uint64_t> by_edge = st->answers_by_edge();
        const auto& names = st->edge_names();
        for (size_t i = 0; i < names.size(); ++i) {
            auto c = carried_.find(names[i]);
            uint64_t carried = c == carried_.end() ? 0 : c->second;
            v.push_back(static_cast<double>((i < by_edge.size() ? by_edge[i] : 0) + carried));
            edges->push_back(names[i]);
        }
    }
    return v;
}

std::string DnsConsole::stats_json(uint64_t now_ms, uint64_t unix_ms) {
    std::vector<std::string> edges;
    std::vector<double> now = sample(&edges);
    ring_.offer(now_ms, now);
    const geo::Steering* st = src_.steering ? src_.steering() : nullptr;
    std::vector<health::HealthChecker::EdgeStatus> health = src_.health ? src_.health() : decltype(health){};
    auto u = [&](size_t s) { return static_cast<uint64_t>(now[s]); };

    shared::JsonWriter j;
    j.begin_object();
    j.field("daemon", "meridian-dns");
    j.field("unix_ms", unix_ms);
    j.field("samples", static_cast<uint64_t>(ring_.size()));
    j.field("rate_window_s", ring_.seconds(1));
    j.field("queries_total", u(kUdp) + u(kTcp));
    j.field("queries_per_s", ring_.rate(kUdp) + ring_.rate(kTcp));
    j.key("protocol").begin_object();
    j.key("udp").begin_object().field("total", u(kUdp)).field("per_s", ring_.rate(kUdp)).end_object();
    j.key("tcp").begin_object().field("total", u(kTcp)).field("per_s", ring_.rate(kTcp)).end_object();
    j.end_object();
    j.key("rcodes").begin_array();
    for (size_t i = 0; i < kNumRcodes; ++i)
        j.begin_object()
            .field("rcode", kRcodes[i])
            .field("total", u(kRcode0 + i))
            .field("per_s", ring_.rate(kRcode0 + i))
            .end_object();
    j.end_array();
    j.field("rrl_total", u(kRateLimited));
    j.field("rrl_per_s", ring_.rate(kRateLimited));
    j.field("dropped_total", u(kDropped));
    j.field("truncated_total", u(kTruncated));

    j.key("steering").begin_object();
    j.field("answers_total", u(kSteered));
    j.field("answers_per_s", ring_.rate(kSteered));
    j.field("failed_open_total", u(kFailedOpen));
    j.field("failing_open_now", st ? static_cast<uint64_t>(st->failing_open_now()) : static_cast<uint64_t>(0));
    std::map<std::string, std::pair<uint64_t, double>> regions;
    j.key("by_edge").begin_array();
    for (size_t i = 0; i < edges.size(); ++i) {
        std::string region = st ? region_of(*st, i) : std::string();
        if (region.empty()) region = "(none)";
        int state = 1;
        for (const auto& h : health)
            if (h.edge == edges[i]) state = h.state;
        double rate = ring_.rate(kEdges + i);
        j.begin_object()
            .field("edge", edges[i])
            .field("region", region)
            .field("health", health_word(state))
            .field("answers", u(kEdges + i))
            .field("per_s", rate)
            .end_object();
        auto& reg = regions[region];
        reg.first += u(kEdges + i);
        reg.second += rate;
    }
    j.end_array();
    j.key("by_region").begin_array();
    for (const auto& [name, v] : regions)
        j.begin_object().field("region", name).field("answers", v.first).field("per_s", v.second).end_object();
    j.end_array();
    j.end_object();

    j.key("health").begin_array();
    for (const auto& h : health) {
        j.begin_object()
            .field("edge", h.edge)
            .field("check", h.check)
            .field("health", health_word(h.state))
            .field("state", h.state)
            .field("last_check_unix_ms", h.last_check_unix_ms)
            .field("last_ok", h.last_ok)
            .field("last_detail", h.last_detail)
            .field("consecutive_failures", h.consecutive_failures)
            .field("consecutive_successes", h.consecutive_successes)
            .field("interval_ms", h.interval_ms)
            .end_object();
    }
    j.end_array();

    j.key("history").begin_object();
    std::vector<double> q = ring_.rates(kUdp), t = ring_.rates(kTcp);
    for (size_t i = 0; i < q.size(); ++i)
        q[i] += t[i];
    j.array("queries_per_s", q);
    j.array("rrl_per_s", ring_.rates(kRateLimited));
    j.end_object();
    j.end_object();
    return j.take();
}

bool DnsConsole::handle(std::string_view path, shared::AdminResponse& out, uint64_t now_ms) {
    if (path == "/_meridian/console") {
        out.content_type = "text/html; charset=utf-8";
        out.body = page();
        return true;
    }
    if (path == "/_meridian/stats.json") {
        auto unix_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        out.content_type = "application/json";
        out.body = stats_json(now_ms, static_cast<uint64_t>(unix_ms));
        return true;
    }
    return false;
}

} // namespace dns
