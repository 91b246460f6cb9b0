// meridian-dns's live console on the admin listener: GET /_meridian/console (the page, shared/http/console_page.h)
// and GET /_meridian/stats.json, which it polls every second: queries by protocol and responses by rcode, RRL
// drops, steering decisions by edge and by region (the answered edge's continent/country labels), and each edge's
// health with its last check (Route53's health-check view). Counters come from the metrics registry and the
// running Steering's per-worker counters; rates are computed here from the deltas between samples kept in a
// shared::SampleRing (one a second at most, taken when the stats are asked for). Admin (main loop) thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dns/health/health_checker.h"
#include "shared/http/admin_server.h"
#include "shared/metrics/sample_ring.h"

namespace shared {
class MetricsRegistry;
}

namespace dns {

struct ServerMetricIds;
namespace geo {
class Steering;
}

class DnsConsole {
  public:
    struct Sources {
        const shared::MetricsRegistry* registry = nullptr;
        const ServerMetricIds* ids = nullptr;
        std::function<const geo::Steering*()> steering;                         // null when none
        std::function<std::vector<health::HealthChecker::EdgeStatus>()> health; // empty without checks
        std::function<uint64_t()> failed_open;                                  // across reloads
    };

    explicit DnsConsole(Sources s);
    bool handle(std::string_view path, shared::AdminResponse& out, uint64_t now_ms);
    std::string stats_json(uint64_t now_ms, uint64_t unix_ms);
    static std::string page();
    // A reload replaces the Steering (its counters start from 0): keep what the old one counted, by edge name.
    void steering_replaced(const geo::Steering& old);
    // An edge's region label: "continent/country/subdivision" of what its [[edge]] sets, "" when none.
    static std::string region_of(const geo::Steering& st, size_t edge);

  private:
    std::vector<double> sample(std::vector<std::string>* edges) const;
    Sources src_;
    shared::SampleRing ring_;
    std::map<std::string, uint64_t> carried_; // answers by edge name counted by Steerings replaced since
    uint64_t carried_answers_ = 0;
};

} // namespace dns
