// meridian-dns as a shared::DaemonApp: loads the config and zones (and geo steering), runs one worker per core
// with UDP and TCP listeners on every listen address, reloads on SIGHUP with an atomic per-worker swap of the zone
// set (a zone that fails to load keeps its previous version), sends NOTIFY when a serial grew, exports metrics.
// Main thread only (the workers get their data through Worker::post).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "dns/config/dns_config.h"
#include "dns/server/notify_sender.h"
#include "dns/server/query_log_file.h"
#include "dns/server/query_service.h"
#include "dns/zone/zone_db.h"
#include "shared/net/listen_claim.h"
#include "shared/net/source_limit.h"
#include "shared/process/daemon.h"

namespace dns {

namespace health {
class HealthChecker;
}

struct FailedOpenTally;
class DnsConsole;
struct ExplainQuery;
struct Explanation;

class DnsApp final : public shared::DaemonApp {
  public:
    DnsApp();
    ~DnsApp() override;
    bool load(const std::string& config_path, shared::ConfigDiagnostics& diags) override;
    const shared::CommonConfig& common() const override { return state_.cfg.common; }
    void register_metrics(shared::MetricsRegistry& metrics) override;
    bool start(uv_loop_t* main_loop, shared::MetricsRegistry& metrics) override;
    void reload(const std::string& config_path) override;
    void stop(std::function<void()> done) override;
    shared::AdminResponse health() override;
    // GET /_meridian/explain (dns/explain/answer_explainer.h) against the running state.
    void add_admin_handlers(shared::AdminServer& admin) override;
    // The answer `q` gets from the loaded state, and why (the explain sub-command, after load()).
    Explanation explain(const ExplainQuery& q) const;

    struct State {
        DnsConfig cfg;
        std::shared_ptr<const ZoneDb> db;
        std::shared_ptr<const ServiceSettings> settings;
        std::shared_ptr<const void> steering; // the geo::Steering and its hook
        // Reload: zones whose records changed while their SOA serial did not (apex text, file, serial).
        std::vector<std::array<std::string, 3>> unchanged_serial;
    };

  private:
    // Parses config and zones into *out. `previous`: zones that fail to load keep this version (reload).
    bool build(const std::string& path, shared::ConfigDiagnostics& diags, const ZoneDb* previous, State* out);
    void publish();
    struct WorkerSlot;
    // meridian_dns_steering_failed_open_total across reloads (each steering build counts from 0).
    std::shared_ptr<FailedOpenTally> failed_open_;
    State state_;
    // [limits] max_tcp_connections_per_address, shared by every worker (outlives them); made with the workers.
    std::unique_ptr<shared::SourceConnLimit> tcp_sources_;
    std::vector<std::unique_ptr<WorkerSlot>> workers_;
    shared::MetricsRegistry* metrics_ = nullptr;
    ServerMetricIds ids_;
    std::unique_ptr<health::HealthChecker> health_; // geo edge health checks (main loop)
    std::unique_ptr<DnsConsole> console_;           // /_meridian/console and /_meridian/stats.json
    std::unique_ptr<NotifySender> notifier_;        // NOTIFY with retries (main loop)
    uv_loop_t* main_loop_ = nullptr;
    std::string config_path_;                  // for the DNSSEC re-signing reload
    std::unique_ptr<uv_timer_t> resign_timer_; // checks signed zones' resign_at (main loop)
    QueryLogFile query_log_;                   // [query_log] file; reopened on SIGUSR1
    bool started_ = false;
    // Steering contexts of the running threads (query_contexts()); a reload keeps them, as it keeps workers and
    // listeners.
    unsigned running_contexts_ = 0;
    // One instance per listen address, UDP and TCP (shared/net/listen_claim.h), held until exit.
    shared::ListenClaims listen_claims_;
};

} // namespace dns
