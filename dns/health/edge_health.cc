#include "dns/health/edge_health.h"

namespace dns::health {

bool EdgeHealth::record(const CheckResult& r, const geo::HealthCheckConfig& cfg) {
    if (r.ok) {
        ++oks_;
        fails_ = 0;
    } else {
        ++fails_;
        oks_ = 0;
    }
    bool before = healthy_;
    bool was_known = known_;
    if (!known_) {
        known_ = true;
        healthy_ = r.ok;
    } else if (r.draining) {
        healthy_ = false;
    } else if (healthy_ && fails_ >= cfg.failure_threshold) {
        healthy_ = false;
    } else if (!healthy_ && oks_ >= cfg.success_threshold) {
        healthy_ = true;
    }
    return !was_known || before != healthy_;
}

CheckResult judge_http(int status, const std::string& body, const geo::HealthCheckConfig& cfg) {
    CheckResult r;
    if (status == 503 && body.find("draining") != std::string::npos) {
        r.draining = true;
        r.detail = "503 draining";
        return r;
    }
    if (status < cfg.status_min || status > cfg.status_max) {
        r.detail = "status " + std::to_string(status);
        return r;
    }
    if (!cfg.body_contains.empty() && body.find(cfg.body_contains) == std::string::npos) {
        r.detail = "body lacks '" + cfg.body_contains + "'";
        return r;
    }
    r.ok = true;
    r.detail = "status " + std::to_string(status);
    return r;
}

} // namespace dns::health
