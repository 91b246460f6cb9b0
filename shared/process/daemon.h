// The life of a daemon process, shared by meridian-edge and meridian-dns so each main.cc stays short:
// parse the CLI, load the config (or --check it), start workers and the admin listener, then run the main loop,
// which only handles signals and the admin listener: SIGHUP → reload(), SIGTERM/SIGINT → stop(), SIGUSR1 → reopen
// logs. Exit code 0 after a clean stop, 1 on config errors or a failed start, 2 on usage errors.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "shared/config/common_config.h"
#include "shared/config/config.h"
#include "shared/http/admin_server.h"
#include "shared/metrics/metrics.h"
#include "shared/process/cli.h"

namespace shared {

class DaemonApp {
public:
    virtual ~DaemonApp() = default;
    // Load and validate the config and every file it names. Problems go to `diags`; return false on any error.
    // Called once at start (and by --check); reload() calls it again itself.
    virtual bool load(const std::string& config_path, ConfigDiagnostics& diags) = 0;
    virtual const CommonConfig& common() const = 0;
    // Register metrics (before any worker starts). The registry has common().workers + 1 shards; the main
    // thread uses the last one.
    virtual void register_metrics(MetricsRegistry& metrics) = 0;
    // Start workers and listeners. Return false (after logging why) on failure.
    virtual bool start(uv_loop_t* main_loop, MetricsRegistry& metrics) = 0;
    // SIGHUP: re-read the config; on error keep the running one and log why.
    virtual void reload(const std::string& config_path) = 0;
    // SIGTERM/SIGINT: drain and stop everything, then call done() on the main loop.
    virtual void stop(std::function<void()> done) = 0;
    // /_meridian/health on the admin listener.
    virtual AdminResponse health() = 0;
    // Extra admin paths (optional).
    virtual void add_admin_handlers(AdminServer& admin) { (void)admin; }
};

int run_daemon(int argc, char** argv, const CliSpec& spec, DaemonApp& app);

} // namespace shared
