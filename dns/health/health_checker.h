// meridian-dns's health checker: runs every edge's check (dns/health/health_probe.h) on the DNS main loop,
// spread evenly over the check interval (never a burst), keeps each edge's state (dns/health/edge_health.h),
// logs changes, exports metrics, and feeds the current Steering (Steering::set_health) whenever an edge's state
// changes. Main loop thread only.
//
// How dns_app uses it:
//   start():  checker = std::make_unique<HealthChecker>(main_loop, &metrics, metrics_shard);
//             checker->watch(steering);   // before the workers get this Steering
//   reload(): checker->watch(new_steering) before publishing it (old one no longer fed afterwards)
//   stop():   checker->close();  (handles close as the main loop runs on)
// watch() runs the first check of every edge it has no result for yet, concurrently on a private loop, and
// blocks until they finished (at most the longest check timeout), so a Steering is never answered before its
// edges were checked. Edges whose check settings did not change keep their state across reloads.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dns/geo/steering.h"
#include "dns/geo/steering_config.h"
#include "dns/health/edge_health.h"
#include "dns/health/health_probe.h"
#include "shared/metrics/metrics.h"

namespace shared {
class Resolver;
class TlsClientContext;
} // namespace shared

namespace dns::health {

class HealthChecker {
  public:
    // `metrics` may be null (tests); `shard` is the registry shard the main thread writes.
    HealthChecker(uv_loop_t* loop, shared::MetricsRegistry* metrics, unsigned shard);
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    // Checks the edges of `steering` from now on and feeds it. The Steering must stay alive until the next
    // watch() or close().
    void watch(const geo::Steering& steering);
    // Stops every timer and check (a later watch() starts over). The loop must run afterwards so the handles
    // close. The checker itself must outlive the metrics registry's rendering (its gauges read it).
    void close();

    // State of an edge by name: 1 healthy, 0 unhealthy, -1 unknown / not checked.
    int state(const std::string& edge) const;
    uint64_t checks_run() const { return checks_run_; }

    // Each edge of the watched Steering as the console shows it (Route53's health-check view), in edge order.
    struct EdgeStatus {
        std::string edge;
        std::string check;               // "http", "https", "tcp", or "none" (no check: always taken as healthy)
        int state = -1;                  // 1 healthy, 0 unhealthy, -1 unknown / not checked
        uint64_t last_check_unix_ms = 0; // 0 = not checked yet
        bool last_ok = false;
        std::string last_detail; // why the last check failed ("status 500", "refused"...), "" when it passed
        unsigned consecutive_failures = 0, consecutive_successes = 0;
        uint64_t interval_ms = 0;
    };
    std::vector<EdgeStatus> statuses() const;

  private:
    struct Check;
    static void on_timer(uv_timer_t* t) noexcept;
    void run(Check& c);
    void result(Check& c, const CheckResult& r);
    void publish();
    std::string key_of(const geo::EdgeConfig& e) const;
    std::shared_ptr<shared::TlsClientContext> tls_shared(bool verify);

    uv_loop_t* loop_;
    shared::MetricsRegistry* metrics_;
    unsigned shard_;
    std::unique_ptr<shared::Resolver> resolver_;
    std::shared_ptr<shared::TlsClientContext> tls_verify_, tls_noverify_;
    std::map<std::string, std::unique_ptr<Check>> checks_; // by edge name + check settings
    const geo::Steering* steering_ = nullptr;
    std::vector<Check*> by_edge_;           // steering_'s edge index → its check (null: no check)
    std::map<std::string, int> registered_; // edge names with metrics
    // Per edge name: -1 unknown, 0, 1, read by the metrics gauge. Entries are never removed (the gauge keeps a name).
    std::map<std::string, std::unique_ptr<std::atomic<int>>> exported_;
    uint64_t checks_run_ = 0;
    bool closed_ = false;
};

} // namespace dns::health
