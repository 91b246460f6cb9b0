#include "dns/health/health_checker.h"

#include <algorithm>
#include <chrono>

#include "shared/log/log.h"
#include "shared/loop/worker.h"
#include "shared/net/resolver.h"
#include "shared/tls/tls_client_context.h"

namespace dns::health {

struct HealthChecker::Check {
    HealthChecker* owner = nullptr;
    std::string edge;
    geo::HealthCheckConfig cfg;
    EdgeHealth state;
    uv_timer_t* timer = nullptr; // heap: freed by its close callback
    std::unique_ptr<HealthProbe> probe;
    shared::MetricId ok_id = 0, fail_id = 0, change_id = 0;
    bool has_metrics = false;
    bool in_use = false;
    uint64_t last_unix_ms = 0; // the last result, for the console
    bool last_ok = false;
    std::string last_detail;
};

namespace {
const char* type_name(geo::HealthCheckConfig::Type t) {
    switch (t) {
    case geo::HealthCheckConfig::Type::tcp:
        return "tcp";
    case geo::HealthCheckConfig::Type::http:
        return "http";
    case geo::HealthCheckConfig::Type::https:
        return "https";
    default:
        return "none";
    }
}

void close_timer(uv_timer_t* t) {
    uv_timer_stop(t);
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
}
} // namespace

HealthChecker::HealthChecker(uv_loop_t* loop, shared::MetricsRegistry* metrics, unsigned shard)
    : loop_(loop), metrics_(metrics), shard_(shard) {}

HealthChecker::~HealthChecker() {
    close();
}

std::string HealthChecker::key_of(const geo::EdgeConfig& e) const {
    const auto& h = e.health;
    return e.name + '|' + type_name(h.type) + '|' + h.address + '|' + std::to_string(h.port) + '|' + h.path + '|' +
           h.host + '|' + std::to_string(h.interval_ms) + '|' + std::to_string(h.timeout_ms) + '|' +
           std::to_string(h.failure_threshold) + '|' + std::to_string(h.success_threshold) + '|' +
           std::to_string(h.status_min) + '-' + std::to_string(h.status_max) + '|' + h.body_contains + '|' +
           (h.verify_tls ? "v" : "n");
}

std::shared_ptr<shared::TlsClientContext> HealthChecker::tls_shared(bool verify) {
    auto& slot = verify ? tls_verify_ : tls_noverify_;
    if (!slot) {
        std::string err;
        shared::TlsClientOptions o;
        o.verify = verify;
        slot = shared::TlsClientContext::create(o, &err);
        if (!slot) shared::log::error("health", "cannot create TLS context", {{"error", err}});
    }
    return slot;
}

void HealthChecker::watch(const geo::Steering& steering) {
    closed_ = false;
    if (!resolver_) resolver_ = std::make_unique<shared::Resolver>(loop_);
    // The edge indexes below are the new steering's; the old one is not fed any more.
    steering_ = nullptr;
    const auto& edges = steering.config().edges;
    for (auto& [k, c] : checks_)
        c->in_use = false;
    by_edge_.assign(edges.size(), nullptr);
    std::vector<Check*> fresh;
    for (size_t i = 0; i < edges.size(); ++i) {
        const auto& e = edges[i];
        if (e.health.type == geo::HealthCheckConfig::Type::none) continue;
        std::string key = key_of(e);
        auto& slot = checks_[key];
        if (!slot) {
            slot = std::make_unique<Check>();
            slot->owner = this;
            slot->edge = e.name;
            slot->cfg = e.health;
            fresh.push_back(slot.get());
        }
        slot->in_use = true;
        by_edge_[i] = slot.get();
    }
    // Retire checks the new config no longer has.
    for (auto it = checks_.begin(); it != checks_.end();) {
        if (it->second->in_use) {
            ++it;
            continue;
        }
        if (it->second->timer) close_timer(it->second->timer);
        it = checks_.erase(it);
    }

    // First round for new checks, on a private loop so the caller can publish a Steering with known health.
    if (!fresh.empty()) {
        uv_loop_t tmp;
        uv_loop_init(&tmp);
        {
            shared::Resolver resolver(&tmp);
            std::vector<std::unique_ptr<HealthProbe>> probes;
            for (Check* c : fresh) {
                std::shared_ptr<shared::TlsClientContext> tls;
                if (c->cfg.type == geo::HealthCheckConfig::Type::https) tls = tls_shared(c->cfg.verify_tls);
                probes.push_back(HealthProbe::start(&tmp, &resolver, tls, c->cfg,
                                                    [this, c](const CheckResult& r) { result(*c, r); }));
            }
            uv_run(&tmp, UV_RUN_DEFAULT);
            probes.clear();
        }
        shared::close_loop(&tmp);
    }

    // Periodic checks on the main loop, new ones spread over their interval.
    size_t n = fresh.size(), i = 0;
    for (Check* c : fresh) {
        c->timer = new uv_timer_t;
        uv_timer_init(loop_, c->timer);
        c->timer->data = c;
        uint64_t offset = c->cfg.interval_ms * (i + 1) / (n + 1);
        uv_timer_start(c->timer, on_timer, offset, c->cfg.interval_ms);
        ++i;
    }

    if (metrics_) {
        for (auto& [k, c] : checks_) {
            if (c->has_metrics) continue;
            std::string l = "edge=\"" + c->edge + "\"";
            c->ok_id = metrics_->counter("meridian_dns_health_checks_total", "health checks run, by edge and result",
                                         l + ",result=\"ok\"");
            c->fail_id = metrics_->counter("meridian_dns_health_checks_total", "health checks run, by edge and result",
                                           l + ",result=\"fail\"");
            c->change_id =
                metrics_->counter("meridian_dns_health_changes_total", "healthy/unhealthy transitions, by edge", l);
            c->has_metrics = true;
            if (registered_.emplace(c->edge, 1).second) {
                std::string name = c->edge;
                // Read when the admin listener renders metrics (also on the main loop).
                metrics_->gauge_fn("meridian_dns_edge_healthy", "1 if the edge passes its health check", l,
                                   [this, name] {
                                       auto it = exported_.find(name);
                                       return it == exported_.end() ? -1.0 : double(it->second->load());
                                   });
            }
        }
    }
    steering_ = &steering;
    publish();
}

void HealthChecker::on_timer(uv_timer_t* t) noexcept {
    auto* c = static_cast<Check*>(t->data);
    c->owner->run(*c);
}

void HealthChecker::run(Check& c) {
    if (c.probe) return; // the previous check is still running (timeout ≤ interval, so rare)
    std::shared_ptr<shared::TlsClientContext> tls;
    if (c.cfg.type == geo::HealthCheckConfig::Type::https) tls = tls_shared(c.cfg.verify_tls);
    Check* cp = &c;
    c.probe = HealthProbe::start(loop_, resolver_.get(), tls, c.cfg, [this, cp](const CheckResult& r) {
        auto probe = std::move(cp->probe); // destroyed after result() returns
        result(*cp, r);
    });
}

void HealthChecker::result(Check& c, const CheckResult& r) {
    ++checks_run_;
    c.last_unix_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    c.last_ok = r.ok;
    c.last_detail = r.ok ? std::string() : r.detail;
    if (metrics_ && c.has_metrics) metrics_->inc(shard_, r.ok ? c.ok_id : c.fail_id);
    bool was_known = c.state.known();
    bool changed = c.state.record(r, c.cfg);
    if (!changed) {
        if (!r.ok)
            shared::log::debug("health", "check failed",
                               {{"edge", c.edge},
                                {"detail", r.detail},
                                {"consecutive", std::to_string(c.state.consecutive_failures())}});
        return;
    }
    if (metrics_ && c.has_metrics && was_known) metrics_->inc(shard_, c.change_id);
    shared::log::write(c.state.healthy() ? shared::log::Level::info : shared::log::Level::warn, "health",
                       c.state.healthy() ? "edge healthy" : "edge unhealthy",
                       {{"edge", c.edge}, {"check", type_name(c.cfg.type)}, {"detail", r.detail}});
    if (steering_) publish();
}

void HealthChecker::publish() {
    if (!steering_) return;
    geo::HealthVector h(by_edge_.size(), 1);
    for (size_t i = 0; i < by_edge_.size(); ++i) {
        Check* c = by_edge_[i];
        if (!c) continue;
        h[i] = (!c->state.known() || c->state.healthy()) ? 1 : 0;
        auto& slot = exported_[c->edge];
        if (!slot) slot = std::make_unique<std::atomic<int>>(-1);
        slot->store(c->state.known() ? (c->state.healthy() ? 1 : 0) : -1);
    }
    steering_->set_health(h, uv_now(loop_));
}

std::vector<HealthChecker::EdgeStatus> HealthChecker::statuses() const {
    std::vector<EdgeStatus> out;
    if (!steering_) return out;
    const auto& names = steering_->edge_names();
    for (size_t i = 0; i < names.size(); ++i) {
        EdgeStatus st;
        st.edge = names[i];
        const Check* c = i < by_edge_.size() ? by_edge_[i] : nullptr;
        if (!c) {
            st.check = "none";
            st.state = 1;
        } else {
            st.check = type_name(c->cfg.type);
            st.state = c->state.known() ? (c->state.healthy() ? 1 : 0) : -1;
            st.last_check_unix_ms = c->last_unix_ms;
            st.last_ok = c->last_ok;
            st.last_detail = c->last_detail;
            st.consecutive_failures = c->state.consecutive_failures();
            st.consecutive_successes = c->state.consecutive_successes();
            st.interval_ms = c->cfg.interval_ms;
        }
        out.push_back(std::move(st));
    }
    return out;
}

int HealthChecker::state(const std::string& edge) const {
    for (auto& [k, c] : checks_)
        if (c->edge == edge && c->in_use) return c->state.known() ? (c->state.healthy() ? 1 : 0) : -1;
    return -1;
}

void HealthChecker::close() {
    if (closed_) return;
    closed_ = true;
    // exported_ stays (the metrics gauges read it), marked unknown; watch() may start over later.
    for (auto& [name, v] : exported_)
        v->store(-1);
    for (auto& [k, c] : checks_) {
        c->probe.reset();
        if (c->timer) close_timer(c->timer);
        c->timer = nullptr;
    }
    checks_.clear();
    by_edge_.clear();
    steering_ = nullptr;
    resolver_.reset();
}

} // namespace dns::health
