#include <catch2/catch.hpp>

#include "dns/health/edge_health.h"

using dns::health::CheckResult;
using dns::health::EdgeHealth;

namespace {
CheckResult ok() { return {true, false, "ok"}; }
CheckResult bad() { return {false, false, "status 500"}; }
} // namespace

TEST_CASE("edge health: first result decides, then thresholds", "[dns][health]") {
    dns::geo::HealthCheckConfig cfg;
    cfg.failure_threshold = 3;
    cfg.success_threshold = 2;
    EdgeHealth h;
    CHECK_FALSE(h.known());
    CHECK(h.record(ok(), cfg)); // became known
    CHECK(h.healthy());
    CHECK_FALSE(h.record(bad(), cfg));
    CHECK_FALSE(h.record(bad(), cfg));
    CHECK(h.healthy());
    CHECK(h.record(bad(), cfg)); // third consecutive failure
    CHECK_FALSE(h.healthy());
    CHECK_FALSE(h.record(ok(), cfg));
    CHECK_FALSE(h.healthy());
    CHECK_FALSE(h.record(bad(), cfg)); // the streak is broken
    CHECK_FALSE(h.record(ok(), cfg));
    CHECK(h.record(ok(), cfg));
    CHECK(h.healthy());

    EdgeHealth down;
    CHECK(down.record(bad(), cfg));
    CHECK_FALSE(down.healthy()); // a fresh edge that fails its first check is not answered
}

TEST_CASE("edge health: draining takes the edge out at once", "[dns][health]") {
    dns::geo::HealthCheckConfig cfg;
    EdgeHealth h;
    h.record(ok(), cfg);
    auto r = dns::health::judge_http(503, "draining\n", cfg);
    CHECK(r.draining);
    CHECK(h.record(r, cfg));
    CHECK_FALSE(h.healthy());
}

TEST_CASE("judge_http: status range and body substring", "[dns][health]") {
    dns::geo::HealthCheckConfig cfg;
    CHECK(dns::health::judge_http(200, "", cfg).ok);
    CHECK(dns::health::judge_http(399, "", cfg).ok);
    CHECK_FALSE(dns::health::judge_http(404, "", cfg).ok);
    CHECK_FALSE(dns::health::judge_http(503, "busy", cfg).ok);
    CHECK_FALSE(dns::health::judge_http(503, "busy", cfg).draining);
    cfg.status_min = 200;
    cfg.status_max = 200;
    cfg.body_contains = "ok";
    CHECK(dns::health::judge_http(200, "all ok", cfg).ok);
    auto r = dns::health::judge_http(200, "fine", cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.detail.find("'ok'") != std::string::npos);
    CHECK_FALSE(dns::health::judge_http(301, "ok", cfg).ok);
}
