#include "edge/edge_app.h"

#include "edge/invalidation/invalidation_api.h"

#include <algorithm>
#include <csignal>

#include "edge/cache/body_file.h"
#include "edge/cache/cache_key.h"
#include "edge/config/edge_config.h"
#include "edge/console/edge_console.h"
#include "edge/console/top_urls.h"
#include "edge/explain/cache_explainer.h"
#include "edge/proxy/proxy_handler.h"
#include "edge/server/h2_session.h"
#include "edge/server/http_server.h"
#include "edge/server/listener.h"
#include "edge/server/loop_proxy_io.h"
#include "edge/server/viewer_tls.h"
#include "shared/log/log.h"
#include "shared/loop/worker.h"

#include <ctime>

namespace edge {

// One worker thread and what lives on its loop (created and destroyed on that thread, except after join()).
struct EdgeApp::Slot {
    std::unique_ptr<shared::Worker> worker;
    std::unique_ptr<LoopProxyIo> io;
    std::unique_ptr<ProxyHandler> handler;
    std::unique_ptr<HttpServer> server;
    ConnSettings conn_settings; // [limits], replaced on reload (on the worker's thread)
    uint32_t max_connections = 0;
    uint32_t max_per_address = 0;
    std::shared_ptr<shared::TlsServerContext> tls; // [tls], replaced on reload (on the worker's thread)

    void apply_limits(const EdgeConfig& c) {
        const LimitsConfig& l = c.limits;
        conn_settings = conn_settings_of(l);
        conn_settings.http2 = c.http2;
        max_connections = l.max_connections;
        max_per_address = l.max_connections_per_address;
    }
};

EdgeApp::EdgeApp() = default;

EdgeApp::~EdgeApp() {
    for (auto& s : slots_) {
        if (s->worker) s->worker->join();
    }
}

bool EdgeApp::load(const std::string& config_path, shared::ConfigDiagnostics& diags) {
    auto cfg = load_edge_config(config_path, diags);
    if (!cfg) return false;
    std::string err;
    auto rt = EdgeRuntime::build(std::move(*cfg), &err);
    if (!rt) {
        diags.error_at(config_path, 0, err);
        return false;
    }
    std::string tls_err;
    auto tls = build_tls(rt->config, &tls_err);
    if (!tls && !tls_err.empty()) {
        diags.error_at(config_path, 0, "tls: " + tls_err);
        return false;
    }
    tls_ = std::move(tls);
    runtime_ = std::move(rt);
    return true;
}

std::shared_ptr<shared::TlsServerContext> EdgeApp::build_tls(const EdgeConfig& cfg, std::string* err) {
    if (!cfg.tls.enabled()) return nullptr;
    if (!ticket_keys_) {
        ticket_keys_ = std::make_shared<shared::TlsTicketKeys>(cfg.tls.session_ticket_rotation_ms / 1000);
        ticket_keys_->rotate(static_cast<uint64_t>(std::time(nullptr)));
    }
    shared::TlsServerOptions opts = cfg.tls.options;
    opts.ticket_keys = ticket_keys_;
    return shared::TlsServerContext::create(opts, err);
}

void EdgeApp::register_metrics(shared::MetricsRegistry& m) {
    registry_ = &m;
    metrics_.register_all(m);
    invalidation_ = std::make_unique<InvalidationApi>(
        nullptr, [this] { return runtime_ ? runtime_->config.invalidation_token : std::string(); },
        &ProxyHandler::wall_ms);
    invalidation_->set_site_check([this](const std::string& name) {
        std::shared_ptr<const EdgeRuntime> rt = runtime_; // the main thread's: reloads happen on it too
        return rt && std::any_of(rt->config.sites.begin(), rt->config.sites.end(),
                                 [&](const SiteConfig& s) { return s.name == name; });
    });
    invalidation_->register_metrics(m);
    m.gauge_fn("meridian_edge_cache_bytes", "Bytes stored in the cache", "",
               [this] { return cache_ ? static_cast<double>(cache_->stats().bytes) : 0.0; });
    m.gauge_fn("meridian_edge_cache_objects", "Objects stored in the cache", "",
               [this] { return cache_ ? static_cast<double>(cache_->stats().objects) : 0.0; });
    m.counter_fn("meridian_edge_cache_evictions_total", "Objects evicted by LRU", "",
                 [this] { return cache_ ? static_cast<double>(cache_->stats().evictions) : 0.0; });
    m.gauge_fn("meridian_edge_cache_body_files", "Cached bodies kept in shared-memory files, sent with sendfile", "",
               [] { return static_cast<double>(BodyFiles::open_count()); });
    auto co = [this](uint64_t CoalescerStats::*field) {
        return [this, field] { return coalescer_ ? static_cast<double>(coalescer_->stats().*field) : 0.0; };
    };
    m.gauge_fn("meridian_edge_collapse_fills_in_flight", "Origin fills running that other misses can join", "",
               co(&CoalescerStats::in_flight));
    m.gauge_fn("meridian_edge_collapse_bytes",
               "Bytes charged to the table of fills in flight (cache.collapse_max_bytes)", "",
               co(&CoalescerStats::fill_bytes));
    m.counter_fn("meridian_edge_collapse_uncollapsed_total",
                 "Misses fetched without collapsing because the fills table was at cache.collapse_max_bytes", "",
                 co(&CoalescerStats::uncollapsed));
    m.gauge_fn("meridian_edge_hit_for_miss_entries", "Keys remembered as uncacheable (hit-for-miss)", "",
               co(&CoalescerStats::hfm_entries));
    m.gauge_fn("meridian_edge_hit_for_miss_bytes",
               "Bytes charged to the hit-for-miss table (cache.hit_for_miss_max_bytes)", "",
               co(&CoalescerStats::hfm_bytes));
    m.counter_fn("meridian_edge_hit_for_miss_evictions_total",
                 "Hit-for-miss keys evicted (least recently used) to stay within cache.hit_for_miss_max_bytes", "",
                 co(&CoalescerStats::hfm_evictions));
    struct H2Counter {
        const char* name;
        const char* help;
        const std::atomic<uint64_t>* v;
    };
    const H2Stats& h2 = h2_stats();
    for (const H2Counter& c : {
             H2Counter{"meridian_edge_http2_connections_total", "Viewer connections that spoke HTTP/2",
                       &h2.connections},
             H2Counter{"meridian_edge_http2_streams_total", "HTTP/2 streams (requests) of closed connections",
                       &h2.streams},
             H2Counter{"meridian_edge_http2_client_resets_total", "HTTP/2 streams the viewer cancelled (RST_STREAM)",
                       &h2.client_resets},
             H2Counter{"meridian_edge_http2_refused_streams_total",
                       "HTTP/2 streams refused (over max_concurrent_streams)", &h2.refused_streams},
             H2Counter{"meridian_edge_http2_rapid_reset_goaways_total",
                       "HTTP/2 connections ended with ENHANCE_YOUR_CALM for cancelling too many streams "
                       "(CVE-2023-44487)",
                       &h2.rapid_reset_goaways},
             H2Counter{"meridian_edge_http2_protocol_errors_total",
                       "HTTP/2 connections ended by a protocol error or flood of the viewer", &h2.protocol_errors},
         }) {
        const std::atomic<uint64_t>* v = c.v;
        m.counter_fn(c.name, c.help, "", [v] { return static_cast<double>(v->load(std::memory_order_relaxed)); });
    }
    m.counter_fn("meridian_edge_connections_reclaimed_total",
                 "Idle viewer connections closed at max_connections to let a new one in", "",
                 [] { return static_cast<double>(conn_limit_stats().reclaimed.load(std::memory_order_relaxed)); });
    m.counter_fn("meridian_edge_connections_refused_total",
                 "New viewer connections closed at once at max_connections (none was idle)", "",
                 [] { return static_cast<double>(conn_limit_stats().refused.load(std::memory_order_relaxed)); });
    m.counter_fn(
        "meridian_edge_connections_refused_per_address_total",
        "New viewer connections closed at once: their client address (IPv6: /64) had "
        "max_connections_per_address open",
        "", [] { return static_cast<double>(conn_limit_stats().refused_per_address.load(std::memory_order_relaxed)); });
    m.gauge_fn("meridian_edge_http2_open_connections", "Open HTTP/2 viewer connections", "",
               [] { return static_cast<double>(h2_stats().open_connections.load(std::memory_order_relaxed)); });
    m.counter_fn("meridian_edge_tls_handshakes_total", "TLS handshakes completed on the HTTPS listeners", "",
                 [] { return static_cast<double>(viewer_tls_stats().handshakes.load(std::memory_order_relaxed)); });
    m.counter_fn("meridian_edge_tls_resumed_total", "TLS handshakes that resumed a session (ticket or cache)", "",
                 [] { return static_cast<double>(viewer_tls_stats().resumed.load(std::memory_order_relaxed)); });
    for (size_t i = 0; i < kTlsHandshakeFailures; ++i) {
        m.counter_fn(
            "meridian_edge_tls_handshake_errors_total",
            "TLS handshakes that failed, timed out or were abandoned, by reason (http_request: plain HTTP "
            "on the port; not_tls; protocol_version; no_shared_cipher; unknown_sni without a default; "
            "peer_alert; timeout; closed by the viewer; other)",
            std::string("reason=\"") + tls_handshake_failure_name(static_cast<TlsHandshakeFailure>(i)) + "\"", [i] {
                return static_cast<double>(viewer_tls_stats().handshake_errors[i].load(std::memory_order_relaxed));
            });
    }
    for (size_t i = 0; i < kTlsConnectionErrors; ++i) {
        m.counter_fn(
            "meridian_edge_tls_connection_errors_total",
            "Established TLS connections disturbed or ended by the viewer, by reason (renegotiation "
            "attempts refused; bad_record; stalled_record closed by header_timeout; reset; "
            "eof_mid_response without close_notify; send_timeout: stopped reading)",
            std::string("reason=\"") + tls_connection_error_name(static_cast<TlsConnectionError>(i)) + "\"", [i] {
                return static_cast<double>(viewer_tls_stats().connection_errors[i].load(std::memory_order_relaxed));
            });
    }
    m.counter_fn("meridian_edge_hit_for_miss_passes_total",
                 "Misses sent to the origin without collapsing because their key was remembered as uncacheable", "",
                 co(&CoalescerStats::hit_for_miss));
}

bool EdgeApp::start(uv_loop_t* main_loop, shared::MetricsRegistry&) {
    main_loop_ = main_loop;
    const EdgeConfig& cfg = runtime_->config;
    cache_ = std::make_unique<ObjectCache>(cfg.cache.max_bytes, cfg.cache.shards);
    if (invalidation_) invalidation_->set_cache(cache_.get());
    coalescer_ = std::make_unique<MissCoalescer>(cache_.get(), cfg.cache.shards, cfg.cache.max_object_bytes,
                                                 cfg.cache.hit_for_miss_ttl_ms, cfg.cache.hit_for_miss_max_bytes,
                                                 cfg.cache.collapse_max_bytes);
    shutdown_timeout_ms_.store(cfg.health.shutdown_timeout_ms);
    std::string err;
    if (!access_log_.open(cfg.access_log.file, &err)) {
        shared::log::error("edge", "cannot open access log", {{"error", err}});
        return false;
    }
    access_log_.set_format(cfg.access_log.format);
    usr1_ = new uv_signal_t;
    uv_signal_init(main_loop, usr1_);
    usr1_->data = this;
    uv_signal_start(
        usr1_,
        [](uv_signal_t* h, int) noexcept {
            static_cast<EdgeApp*>(h->data)->access_log_.reopen();
            shared::log::info("edge", "access log reopened");
        },
        SIGUSR1);
    EdgeServices services;
    services.cache = cache_.get();
    services.coalescer = coalescer_.get();
    services.access_log = &access_log_;
    services.metrics = &metrics_;
    services.draining = &draining_;
    if (cfg.common.admin_listen) {
        top_urls_ = std::make_unique<TopUrls>(cfg.common.workers);
        services.top_urls = top_urls_.get();
    }

    // Before any worker binds: refuse an address another process serves (SO_REUSEPORT would silently share it) and
    // resolve a port 0 once, so every worker binds the same port. Reloads never rebind (listen needs a restart).
    std::vector<shared::SocketAddress> listen = cfg.common.listen;
    std::vector<shared::SocketAddress> listen_tls = cfg.tls.listen;
    for (auto* list : {&listen, &listen_tls}) {
        for (auto& addr : *list) {
            std::string msg;
            if (listen_claims_.claim(&addr, true, false, &msg)) {
                shared::log::error("edge", "cannot listen", {{"addr", addr.to_string()}, {"error", msg}});
                return false;
            }
        }
    }
    if (ticket_keys_) {
        // Rotation is checked often enough that no key encrypts much past its lifetime.
        uint64_t every = std::max<uint64_t>(1000, std::min<uint64_t>(60'000, cfg.tls.session_ticket_rotation_ms / 4));
        ticket_timer_ = new uv_timer_t;
        uv_timer_init(main_loop, ticket_timer_);
        ticket_timer_->data = this;
        uv_timer_start(
            ticket_timer_,
            [](uv_timer_t* t) noexcept {
                auto* app = static_cast<EdgeApp*>(t->data);
                if (app->ticket_keys_->rotate(static_cast<uint64_t>(std::time(nullptr))))
                    shared::log::debug("edge", "TLS session ticket key rotated");
            },
            every, every);
    }

    // Sized once, for the connections the workers may hold (a reload that raises max_connections far beyond is let
    // through uncounted when the table fills, never refused).
    sources_ = std::make_unique<shared::SourceConnLimit>(
        shared::SourceConnLimit::open_bound(uint64_t{cfg.common.workers} * cfg.limits.max_connections));
    for (unsigned i = 0; i < cfg.common.workers; ++i) {
        auto slot = std::make_unique<Slot>();
        slot->worker = std::make_unique<shared::Worker>(i);
        Slot* s = slot.get();
        auto rt = runtime_;
        s->tls = tls_;
        shared::SourceConnLimit* sources = sources_.get();
        bool ok = s->worker->start(
            [s, services, rt, listen, listen_tls, sources, defer_accept = cfg.defer_accept](shared::Worker& w) {
                EdgeMetrics* m = services.metrics;
                unsigned shard = w.index();
                s->io = std::make_unique<LoopProxyIo>(
                    w.loop(), [m, shard](uint64_t ms) { m->observe_origin_latency(shard, ms); });
                s->handler = std::make_unique<ProxyHandler>(*s->io, w.index(), services, rt);
                s->apply_limits(rt->config);
                s->server = std::make_unique<HttpServer>(w.loop(), s->handler.get(), &s->conn_settings,
                                                         &s->max_connections, &s->max_per_address, sources);
                for (size_t k = 0; k < listen.size() + listen_tls.size(); ++k) {
                    bool https = k >= listen.size();
                    const auto& addr = https ? listen_tls[k - listen.size()] : listen[k];
                    if (int rc = s->server->listen(addr, https ? &s->tls : nullptr, defer_accept)) {
                        shared::log::error("edge", "cannot listen",
                                           {{"addr", addr.to_string()}, {"error", uv_strerror(rc)}});
                        w.fail();
                        s->server->shutdown(0, nullptr, [s] { s->handler->shutdown(); });
                        return;
                    }
                    if (w.index() == 0) {
                        // The listener just opened (one per address, in order).
                        const auto a = s->server->addresses().back();
                        shared::log::info("edge", "listening",
                                          {{"addr", a.to_string()}, {"scheme", https ? "https" : "http"}});
                    }
                }
            },
            [s, this](shared::Worker& w) {
                ProxyHandler* h = s->handler.get();
                uv_loop_t* loop = w.loop();
                if (!s->server) return;
                // health.shutdown_timeout as of now (a reload may have changed it since this worker started).
                const uint64_t grace = shutdown_timeout_ms_.load();
                uint64_t abort_at = uv_now(loop) + grace;
                s->server->shutdown(
                    grace,
                    [h, loop, abort_at] {
                        // Leaders whose viewers left keep filling for others; past the grace period they stop.
                        if (h->live_sessions() != 0 && uv_now(loop) >= abort_at) h->abort_sessions();
                        return h->live_sessions() == 0;
                    },
                    [h] { h->shutdown(); });
            });
        slots_.push_back(std::move(slot));
        if (!ok) return false;
    }
    return true;
}

void EdgeApp::reload(const std::string& config_path) {
    shared::ConfigDiagnostics diags;
    auto cfg = load_edge_config(config_path, diags);
    for (const auto& e : diags.all()) {
        if (e.warning)
            shared::log::warn("config", e.to_string());
        else
            shared::log::error("config", e.to_string());
    }
    if (!cfg || !diags.ok()) {
        shared::log::error("edge", "reload failed; keeping the running configuration", {{"config", config_path}});
        return;
    }
    keep_restart_only_keys(*cfg);
    std::string err;
    // Certificates and keys are read again now: a file replaced in place is served to new connections, while
    // open connections keep the context they started on. A file that does not load keeps everything running.
    std::shared_ptr<shared::TlsServerContext> tls = build_tls(*cfg, &err);
    if (!tls && !err.empty()) {
        shared::log::error("edge", "reload failed; keeping the running configuration", {{"error", "tls: " + err}});
        return;
    }
    assign_site_key_prefixes(*cfg, &runtime_->config, ++reloads_);
    auto rt = EdgeRuntime::build(std::move(*cfg), &err);
    if (!rt) {
        shared::log::error("edge", "reload failed; keeping the running configuration", {{"error", err}});
        return;
    }
    tls_ = tls;
    const EdgeConfig& nc = rt->config;
    if (!shared::apply_log_config(nc.common, &err)) shared::log::error("edge", "log config", {{"error", err}});
    cache_->set_max_bytes(nc.cache.max_bytes);
    coalescer_->set_limits(nc.cache.max_object_bytes, nc.cache.hit_for_miss_ttl_ms, nc.cache.hit_for_miss_max_bytes,
                           nc.cache.collapse_max_bytes);
    shutdown_timeout_ms_.store(nc.health.shutdown_timeout_ms);
    if (nc.access_log.file != access_log_.path() && !access_log_.open(nc.access_log.file, &err)) {
        shared::log::error("edge", "cannot open access log", {{"error", err}});
    }
    access_log_.set_format(nc.access_log.format);
    std::vector<std::string> gone; // key prefixes of the sites this reload removes
    for (const SiteConfig& old : runtime_->config.sites) {
        if (std::none_of(nc.sites.begin(), nc.sites.end(),
                         [&](const SiteConfig& n) { return n.key_prefix == old.key_prefix; }))
            gone.push_back(old.key_prefix);
    }
    runtime_ = rt;
    for (auto& s : slots_) {
        Slot* sp = s.get();
        s->worker->post([sp, rt, tls] {
            if (sp->handler) sp->handler->set_runtime(rt);
            sp->apply_limits(rt->config);
            sp->tls = tls;
            if (sp->server) sp->server->goaway_http2();
        });
    }
    shared::log::info("edge", "configuration reloaded", {{"config", config_path}});
    if (!gone.empty()) {
        // No request reaches them any more, and a site added later under the same name gets another key prefix
        // (assign_site_key_prefixes), so this only gives their memory back at once instead of through LRU eviction.
        uint64_t n = cache_->invalidate(
            [&](const CachedObject& obj) {
                std::string_view p = key_site_prefix(obj.key());
                return std::find(gone.begin(), gone.end(), p) != gone.end();
            },
            false, ProxyHandler::wall_ms());
        shared::log::info("edge", "reload: dropped the objects of removed sites", {{"objects", std::to_string(n)}});
    }
}

void EdgeApp::keep_restart_only_keys(EdgeConfig& nc) const {
    // Sockets and threads are made once at start: a reload cannot move them, so it says which keys it ignored and
    // keeps the running values in the new snapshot (so the next reload compares against what really runs).
    const shared::CommonConfig& oc = runtime_->config.common;
    auto addrs = [](const std::vector<shared::SocketAddress>& v) {
        std::string out;
        for (const auto& a : v)
            out += (out.empty() ? "" : ",") + a.to_string();
        return out;
    };
    auto opt_addr = [](const std::optional<shared::SocketAddress>& a) { return a ? a->to_string() : std::string(); };
    auto num = [](uint64_t v) { return std::to_string(v); };
    // Keeps the running value of one key when the new config changes it, and says so.
    auto keep = [](const char* key, auto& configured, const auto& running, auto text) {
        if (text(configured) == text(running)) return;
        shared::log::warn("edge", "reload: changing this key needs a restart; keeping the running value",
                          {{"key", key}, {"running", text(running)}, {"configured", text(configured)}});
        configured = running;
    };
    keep("workers", nc.common.workers, oc.workers, num);
    keep("listen", nc.common.listen, oc.listen, addrs);
    keep("tls.listen", nc.tls.listen, runtime_->config.tls.listen, addrs);
    keep("defer_accept", nc.defer_accept, runtime_->config.defer_accept,
         [](bool v) { return std::string(v ? "true" : "false"); });
    // The ticket key ring is made once (kept across reloads so resumption survives them).
    keep("tls.session_ticket_rotation", nc.tls.session_ticket_rotation_ms,
         runtime_->config.tls.session_ticket_rotation_ms, num);
    if (!nc.tls.enabled()) nc.tls.options.certificates.clear(); // no HTTPS listener: nothing to load
    keep("admin.listen", nc.common.admin_listen, oc.admin_listen, opt_addr);
    keep("cache.shards", nc.cache.shards, runtime_->config.cache.shards, num);
}

void EdgeApp::stop(std::function<void()> done) {
    stop_done_ = std::move(done);
    if (ticket_timer_) {
        uv_close(reinterpret_cast<uv_handle_t*>(ticket_timer_),
                 [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
        ticket_timer_ = nullptr;
    }
    if (usr1_) {
        uv_close(reinterpret_cast<uv_handle_t*>(usr1_),
                 [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_signal_t*>(h); });
        usr1_ = nullptr;
    }
    draining_.store(true);
    uint64_t delay = runtime_ ? runtime_->config.health.drain_delay_ms : 0;
    if (delay == 0 || !main_loop_ || slots_.empty()) { // nothing was served (a failed start): no drain
        finish_stop();
        return;
    }
    shared::log::info("edge", "draining", {{"drain_delay_ms", std::to_string(delay)}});
    drain_timer_ = new uv_timer_t;
    uv_timer_init(main_loop_, drain_timer_);
    drain_timer_->data = this;
    uv_timer_start(drain_timer_, on_drain_timer, delay, 0);
}

void EdgeApp::on_drain_timer(uv_timer_t* t) noexcept {
    auto* app = static_cast<EdgeApp*>(t->data);
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
    app->drain_timer_ = nullptr;
    app->finish_stop();
}

void EdgeApp::finish_stop() {
    for (auto& s : slots_) {
        if (s->worker) s->worker->request_stop();
    }
    for (auto& s : slots_) {
        if (s->worker) s->worker->join();
        s->server.reset();
        s->handler.reset();
        s->io.reset();
    }
    slots_.clear();
    auto done = std::move(stop_done_);
    if (done) done();
}

void EdgeApp::add_admin_handlers(shared::AdminServer& admin) {
    admin.add_request_handler(
        [this](const shared::AdminRequest& req, shared::AdminResponse& out) {
            return invalidation_ && invalidation_->handle(req, out);
        },
        true);
    EdgeConsole::Sources src;
    src.registry = registry_;
    src.metrics = &metrics_;
    src.cache = [this] { return cache_ ? cache_->stats() : CacheStats{}; };
    src.cache_budget = [this] { return cache_ ? cache_->max_bytes() : 0; };
    src.server_name = [this] { return runtime_ ? runtime_->config.server_name : std::string(); };
    src.invalidation = invalidation_.get();
    src.top_urls = top_urls_.get();
    console_ = std::make_unique<EdgeConsole>(std::move(src));
    admin.add_handler([this](std::string_view path, shared::AdminResponse& out) {
        return console_->handle(path, out, main_loop_ ? uv_now(main_loop_) : 0);
    });
    // Main loop, like reload(): runtime_ is not swapped during the report; the cache takes its own shard locks.
    admin.add_request_handler([this](const shared::AdminRequest& req, shared::AdminResponse& out) {
        return runtime_ && answer_cache_request(req, runtime_->config, cache_.get(), ProxyHandler::wall_ms(), &out);
    });
}

shared::AdminResponse EdgeApp::health() {
    shared::AdminResponse r;
    if (draining_.load()) {
        r.status = 503;
        r.body = "draining\n";
    } else {
        r.body = "ok\n";
    }
    return r;
}

} // namespace edge
