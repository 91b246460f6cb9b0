// One health check execution on a libuv loop: a TCP connect, or an HTTP(S) GET through shared/http/http_client.h,
// judged against the check's settings, bounded by its timeout. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "dns/geo/steering_config.h"
#include "dns/health/edge_health.h"

namespace shared {
class Resolver;
class TlsClientContext;
} // namespace shared

namespace dns::health {

class HealthProbe {
public:
    using Done = std::function<void(const CheckResult&)>;
    // Starts the check; `done` runs exactly once on the loop (never from inside start), unless the probe is
    // destroyed first. `tls` is required for https checks.
    static std::unique_ptr<HealthProbe> start(uv_loop_t* loop, shared::Resolver* resolver,
                                              std::shared_ptr<shared::TlsClientContext> tls,
                                              const geo::HealthCheckConfig& cfg, Done done);
    virtual ~HealthProbe() = default;
};

} // namespace dns::health
