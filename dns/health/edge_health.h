// The health state machine of one edge (Route53 semantics): `failure_threshold` consecutive failed checks take a
// healthy edge out, `success_threshold` consecutive good ones bring it back. The first result ever decides the
// initial state directly, so a fresh config is answered from real data. A 503 whose body says "draining" (an edge
// shutting down gracefully) takes the edge out at once. Pure logic: no clock, no I/O.
#pragma once

#include <string>

#include "dns/geo/steering_config.h"

namespace dns::health {

struct CheckResult {
    bool ok = false;
    bool draining = false;
    std::string detail; // "status 500", "refused", "body lacks 'ok'"... for logs
};

class EdgeHealth {
public:
    // Returns true when the healthy/unhealthy state changed (or became known).
    bool record(const CheckResult& r, const geo::HealthCheckConfig& cfg);
    bool known() const { return known_; }
    bool healthy() const { return healthy_; }
    unsigned consecutive_failures() const { return fails_; }
    unsigned consecutive_successes() const { return oks_; }

private:
    bool known_ = false;
    bool healthy_ = true;
    unsigned fails_ = 0;
    unsigned oks_ = 0;
};

// Judges an HTTP response against a check's settings.
CheckResult judge_http(int status, const std::string& body, const geo::HealthCheckConfig& cfg);

} // namespace dns::health
