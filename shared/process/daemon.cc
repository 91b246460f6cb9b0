#include "shared/process/daemon.h"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include "shared/log/log.h"
#include "shared/net/listen_claim.h"
#include "shared/process/privileges.h"
#include "shared/process/signals.h"
#include "shared/process/systemd_notify.h"

namespace shared {

namespace {

// Root without `user` is refused unless allow_root; every file the daemon opens again later must be open-able by
// the user it will run as (checked as that user when started as root).
void check_privileges(const std::string& config_path, const CommonConfig& c, ConfigDiagnostics& diags) {
    const uid_t euid = ::geteuid();
    if (euid == 0 && !c.run_as && !c.allow_root) {
        diags.error({config_path, 0, 0, "user",
                     "refusing to run as root: set user = \"meridian\" (the sockets are bound first, then the daemon "
                     "switches to that user), or allow_root = true"});
        return;
    }
    std::vector<NamedFile> files = diags.named_files();
    files.insert(files.begin(), NamedFile{{config_path, 0, 0, "", ""}, config_path, false});
    if (c.run_as && euid == 0 && c.run_as->uid != 0)
        check_named_files(&*c.run_as, files, diags);
    else if (!c.run_as || c.run_as->uid == euid)
        check_named_files(nullptr, files, diags);
}

std::string run_as_text(const std::optional<RunAs>& as) {
    return as ? as->user + ":" + as->group : "";
}

} // namespace

int run_daemon(int argc, char** argv, const CliSpec& spec, DaemonApp& app) {
    CliOptions opt;
    switch (parse_cli(argc, argv, spec, &opt)) {
    case CliAction::exit_ok:
        return 0;
    case CliAction::exit_usage:
        return 2;
    case CliAction::run:
        break;
    }

    log::set_daemon(spec.program);
    ConfigDiagnostics diags;
    bool ok = app.load(opt.config_path, diags) && diags.ok();
    if (ok) check_privileges(opt.config_path, app.common(), diags);
    ok = ok && diags.ok();
    if (opt.check) {
        for (const auto& e : diags.all())
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        if (ok)
            std::fprintf(stderr, "%s: %s: configuration ok\n", spec.program, opt.config_path.c_str());
        else
            std::fprintf(stderr, "%s: %s: %zu error(s)\n", spec.program, opt.config_path.c_str(), diags.error_count());
        return ok ? 0 : 1;
    }
    if (!ok) {
        for (const auto& e : diags.all())
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "%s: not started: %zu configuration error(s)\n", spec.program, diags.error_count());
        return 1;
    }
    const std::optional<RunAs>& run_as = app.common().run_as;
    const bool switch_user = run_as && ::geteuid() == 0 && run_as->uid != 0;
    if (switch_user) prepare_output_files(*run_as, diags.named_files());
    std::string err;
    if (!apply_log_config(app.common(), &err)) {
        std::fprintf(stderr, "%s: %s\n", spec.program, err.c_str());
        return 1;
    }
    for (const auto& e : diags.all())
        log::warn("config", e.to_string());
    if (run_as && !switch_user && ::geteuid() != run_as->uid)
        log::warn("process", "user is ignored: not started as root",
                  {{"user", run_as->user}, {"uid", std::to_string(::geteuid())}});

    // Connections (and the edge's shared-memory body files) each take a descriptor; the soft limit is often 1024
    // for select()'s sake, which neither daemon uses. Raise it to the hard limit, as nginx's worker_rlimit_nofile
    // or Go's runtime do.
    if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    // A start that fails after the log went to a file also says so on stderr (whoever started the daemon by hand
    // looks there first, as with nginx's "[emerg] bind() ... failed").
    const bool log_to_file = !app.common().log_file.empty() && app.common().log_file != "stderr";
    // The admin listener, like every listener, refuses a port another process serves before anything starts
    // (shared/net/listen_claim.h); the app claims its own listeners in start().
    ListenClaims admin_claim;
    std::optional<SocketAddress> admin_addr = app.common().admin_listen;
    if (admin_addr) {
        if (admin_claim.claim(&*admin_addr, true, false, &err)) {
            log::error("admin", "cannot listen", {{"addr", admin_addr->to_string()}, {"error", err}});
            if (log_to_file) std::fprintf(stderr, "%s: not started: %s\n", spec.program, err.c_str());
            return 1;
        }
    }

    const std::string running_as = run_as_text(run_as);
    // Connected now, while still root: the unit's notify socket may not be writable by `user`.
    const SystemdNotifier systemd;

    uv_loop_t loop;
    uv_loop_init(&loop);
    int exit_code = 0;
    {
        auto metrics = std::make_unique<MetricsRegistry>(app.common().workers + 1);
        app.register_metrics(*metrics);
        std::unique_ptr<AdminServer> admin;
        std::unique_ptr<SignalHandlers> signals;
        bool stopping = false;
        // Outlives the else-block below: the signal callbacks call it later, from uv_run.
        auto finish = [&] {
            if (admin) admin->close();
            if (signals) signals->close();
        };

        if (!app.start(&loop, *metrics)) {
            if (log_to_file)
                std::fprintf(stderr, "%s: not started: see %s\n", spec.program, app.common().log_file.c_str());
            exit_code = 1;
            app.stop([] {});
        } else {
            if (admin_addr) {
                admin = std::make_unique<AdminServer>(
                    &loop, metrics.get(), [&app] { return app.health(); }, app.common().admin_limits);
                admin->set_token(app.common().admin_token);
                app.add_admin_handlers(*admin);
                if (int rc = admin->listen(*admin_addr)) {
                    log::error("admin", "cannot listen",
                               {{"addr", admin_addr->to_string()}, {"error", uv_strerror(rc)}});
                    exit_code = 1;
                } else {
                    log::info("admin", "listening", {{"addr", admin->address().to_string()}});
                }
            }
            signals = std::make_unique<SignalHandlers>(
                &loop, SignalHandlers::Callbacks{
                           [&](int signum) {
                               if (stopping) {
                                   log::info("process", "stop already in progress");
                                   return;
                               }
                               stopping = true;
                               systemd.notify("STOPPING=1");
                               log::info("process", "stopping", {{"signal", signum == SIGINT ? "SIGINT" : "SIGTERM"}});
                               app.stop([&] {
                                   log::info("process", "stopped");
                                   finish();
                               });
                           },
                           [&] {
                               if (stopping) return;
                               log::info("process", "reloading", {{"config", opt.config_path}});
                               systemd.notify("RELOADING=1");
                               app.reload(opt.config_path);
                               // The process switched user once, for good: a new `user` needs a restart.
                               if (run_as_text(app.common().run_as) != running_as)
                                   log::warn("process", "reload: user/group changes take effect after a restart",
                                             {{"running_as", running_as.empty() ? "(no user)" : running_as},
                                              {"configured", run_as_text(app.common().run_as)}});
                               systemd.notify("READY=1");
                           },
                           {}});
            // Every listener is bound now (start() returns once each worker listens): give up root for good.
            if (exit_code == 0 && switch_user) {
                if (drop_privileges(*run_as, &err)) {
                    log::info("process", "switched user",
                              {{"user", run_as->user}, {"group", run_as->group}, {"uid", std::to_string(run_as->uid)}});
                } else {
                    log::error("process", "cannot switch user", {{"user", run_as->user}, {"error", err}});
                    if (log_to_file) std::fprintf(stderr, "%s: not started: %s\n", spec.program, err.c_str());
                    exit_code = 1;
                }
            }
            if (exit_code != 0) {
                stopping = true;
                app.stop([&] { finish(); });
            } else {
                log::info("process", "started",
                          {{"program", spec.program},
                           {"version", MERIDIAN_VERSION},
                           {"workers", std::to_string(app.common().workers)}});
                // Type=notify: systemd starts what depends on us only now, with every listener bound.
                systemd.notify("READY=1\nSTATUS=serving\nMAINPID=" + std::to_string(::getpid()));
            }
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) != 0) {
            log::error("process", "main loop has handles left open at exit");
            uv_walk(
                &loop,
                [](uv_handle_t* h, void*) {
                    if (!uv_is_closing(h)) uv_close(h, nullptr);
                },
                nullptr);
            uv_run(&loop, UV_RUN_DEFAULT);
            uv_loop_close(&loop);
        }
    }
    return exit_code;
}

} // namespace shared
