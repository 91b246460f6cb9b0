// meridian-edge as a shared::DaemonApp: loads the config into an EdgeRuntime snapshot, owns the process-wide cache,
// miss coalescer, access log and metrics, and runs one worker per `workers` (each with its own loop, listeners,
// ProxyHandler and HttpServer). SIGHUP swaps the snapshot in every worker (connections and cache stay);
// SIGTERM drains: health answers 503 "draining" for health.drain_delay while traffic is still served, then the
// workers stop accepting, finish what is in flight and exit.
// Thread: the main loop's thread, except the worker hooks.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edge/access_log/access_log.h"
#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"
#include "edge/proxy/edge_metrics.h"
#include "edge/proxy/edge_runtime.h"
#include "shared/net/listen_claim.h"
#include "shared/net/source_limit.h"
#include "shared/process/daemon.h"
#include "shared/tls/tls_server_context.h"
#include "shared/tls/tls_ticket_keys.h"

namespace shared {
class Worker;
}

namespace edge {

class ProxyHandler;
class InvalidationApi;
class HttpServer;
class EdgeConsole;
class TopUrls;

class EdgeApp final : public shared::DaemonApp {
  public:
    EdgeApp();
    ~EdgeApp() override;

    bool load(const std::string& config_path, shared::ConfigDiagnostics& diags) override;
    const shared::CommonConfig& common() const override { return runtime_->config.common; }
    void register_metrics(shared::MetricsRegistry& metrics) override;
    bool start(uv_loop_t* main_loop, shared::MetricsRegistry& metrics) override;
    void reload(const std::string& config_path) override;
    void stop(std::function<void()> done) override;
    shared::AdminResponse health() override;
    void add_admin_handlers(shared::AdminServer& admin) override;

  private:
    struct Slot;
    void finish_stop();
    // Reload: warns about each key that needs a restart (workers, listen, admin.listen, cache.shards) and puts the
    // running values back into `nc`.
    void keep_restart_only_keys(EdgeConfig& nc) const;
    static void on_drain_timer(uv_timer_t* t) noexcept;
    // The HTTPS context for `cfg` ([tls]) on the process's ticket key ring (made on first use, kept across
    // reloads so resumption survives them). nullptr and *err when a file does not load; nullptr alone without
    // [tls].
    std::shared_ptr<shared::TlsServerContext> build_tls(const EdgeConfig& cfg, std::string* err);

    std::shared_ptr<const EdgeRuntime> runtime_;
    std::unique_ptr<ObjectCache> cache_;
    std::unique_ptr<MissCoalescer> coalescer_;
    std::unique_ptr<InvalidationApi> invalidation_; // created with the cache
    AccessLogFile access_log_;
    EdgeMetrics metrics_;
    shared::MetricsRegistry* registry_ = nullptr;
    std::unique_ptr<TopUrls> top_urls_;    // with an admin listener: the console's popular URLs
    std::unique_ptr<EdgeConsole> console_; // /_meridian/console and /_meridian/stats.json
    std::atomic<bool> draining_{false};
    std::atomic<uint64_t> shutdown_timeout_ms_{30'000}; // health.shutdown_timeout, read by the workers' stop hooks
    // [limits] max_connections_per_address: every worker's viewer connections per client address (outlives them).
    std::unique_ptr<shared::SourceConnLimit> sources_;
    std::vector<std::unique_ptr<Slot>> slots_;
    uint64_t reloads_ = 0; // reloads with a valid config so far: numbers the key prefixes of the sites they add
    uv_loop_t* main_loop_ = nullptr;
    uv_timer_t* drain_timer_ = nullptr;
    // SIGUSR1 also reopens the access log (shared::run_daemon reopens only the process log).
    uv_signal_t* usr1_ = nullptr;
    std::function<void()> stop_done_;
    // One instance per listen address (shared/net/listen_claim.h), held until exit.
    shared::ListenClaims listen_claims_;
    std::shared_ptr<shared::TlsTicketKeys> ticket_keys_;
    std::shared_ptr<shared::TlsServerContext> tls_; // the current one (each worker has its own copy of the pointer)
    uv_timer_t* ticket_timer_ = nullptr;            // rotates ticket_keys_
};

} // namespace edge
