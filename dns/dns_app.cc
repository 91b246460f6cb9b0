#include "dns/dns_app.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include "dns/console/dns_console.h"
#include "dns/dnssec/zone_signer.h"
#include "dns/engine/answer_compiler.h"
#include "dns/explain/answer_explainer.h"
#include "dns/geo/steering.h"
#include "dns/geo/steering_config.h"
#include "dns/health/health_checker.h"
#include "dns/server/notify_sender.h"
#include "dns/server/tcp_server.h"
#include "dns/server/udp_server.h"
#include "dns/wire/dns_constants.h"
#include "dns/zone/zone_history.h"
#include "dns/zone/zone_loader.h"
#include "shared/http/query_string.h"
#include "shared/log/log.h"
#include "shared/loop/worker.h"

namespace dns {

// meridian_dns_steering_failed_open_total survives reloads like the registry's counters: each reload builds a new
// Steering whose count starts at 0, so the total is what every live steering counted plus what the ones already
// gone counted. A steering goes only when its last answering thread let go of it, so no answer is missed, and the
// total never steps back. The lock is taken at reload, at scrape, and when a steering goes: never per query.
struct FailedOpenTally {
    std::mutex mu;
    std::set<const geo::Steering*> live;
    uint64_t retired = 0;
    uint64_t total() {
        std::lock_guard lk(mu);
        uint64_t n = retired;
        for (const auto* s : live)
            n += s->failed_open_total();
        return n;
    }
};

namespace {

// Adapts dns::geo::Steering to the engine's hook.
class GeoSteeringHook final : public SteeringHook {
  public:
    GeoSteeringHook(std::unique_ptr<geo::Steering> s, std::shared_ptr<FailedOpenTally> tally)
        : steering_(std::move(s)), tally_(std::move(tally)) {
        std::lock_guard lk(tally_->mu);
        tally_->live.insert(steering_.get());
    }
    ~GeoSteeringHook() override {
        std::lock_guard lk(tally_->mu);
        tally_->retired += steering_->failed_open_total();
        tally_->live.erase(steering_.get());
    }
    GeoSteeringHook(const GeoSteeringHook&) = delete;
    GeoSteeringHook& operator=(const GeoSteeringHook&) = delete;
    bool answer(std::string_view name, uint16_t qtype, const ClientSubnet& ecs, const sockaddr* client, unsigned worker,
                SteeredAnswer* out) const noexcept override {
        const geo::SteeredName* sn = steering_->find({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
        if (!sn || !sn->steers(qtype)) return false;
        geo::ClientLocation loc;
        if (ecs.present() && ecs.source_prefix > 0) {
            loc.family = ecs.family == 1 ? AF_INET : AF_INET6;
            loc.source_prefix = ecs.source_prefix;
            std::memcpy(loc.addr, ecs.address, sizeof loc.addr);
        } else if (client && client->sa_family == AF_INET) {
            loc.family = AF_INET;
            loc.source_prefix = 32;
            std::memcpy(loc.addr, &reinterpret_cast<const sockaddr_in*>(client)->sin_addr, 4);
        } else if (client && client->sa_family == AF_INET6) {
            loc.family = AF_INET6;
            loc.source_prefix = 128;
            std::memcpy(loc.addr, reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr.s6_addr, 16);
        }
        geo::Answer a = steering_->answer(*sn, qtype, loc, worker, out->trace);
        out->records = a.records.data();
        out->len = a.records.size();
        out->rr_count = a.rr_count;
        out->sigs = a.sigs.data();
        out->sigs_len = a.sigs.size();
        out->sig_count = a.sig_count;
        // ECS with SOURCE 0 asked not to be located by subnet: scope 0 (RFC 7871 §7.1.2).
        out->scope_prefix = (ecs.present() && ecs.source_prefix > 0) ? a.scope_prefix : 0;
        out->nodata = a.nodata;
        return true;
    }
    const geo::Steering& steering() const { return *steering_; }

  private:
    std::unique_ptr<geo::Steering> steering_;
    std::shared_ptr<FailedOpenTally> tally_;
};

// RFC 1982 serial number arithmetic: is b newer than a?
bool serial_newer(uint32_t a, uint32_t b) {
    return a != b && static_cast<int32_t>(b - a) > 0;
}

// The Steering inside a State's hook, or null (geo: used to feed the health checker).
// [zone.dnssec]: the key records, then (on the finalized zone) every signature. Errors name the zone file.
bool sign_zone(const ZoneConfig& zc, Zone& z, shared::ConfigDiagnostics& diags) {
    std::string err;
    std::shared_ptr<const ZoneSigner> signer = ZoneSigner::make(zc.dnssec.ksk, zc.dnssec.zsk, zc.dnssec.policy, &err);
    if (signer && signer->add_key_records(z, &err)) {
        z.finalize();
        if (signer->sign(z, static_cast<uint64_t>(std::time(nullptr)), &err)) {
            z.signer = std::move(signer);
            return true;
        }
    }
    diags.error_at(zc.file, 0, "cannot sign zone " + zc.name + ": " + err);
    return false;
}

const geo::Steering* steering_of(const std::shared_ptr<const void>& hook) {
    return hook ? &static_cast<const GeoSteeringHook*>(hook.get())->steering() : nullptr;
}

} // namespace

struct DnsApp::WorkerSlot {
    std::unique_ptr<shared::Worker> worker;
    std::unique_ptr<QueryService> svc;
    std::vector<std::unique_ptr<UdpServer>> udp;
    std::vector<std::unique_ptr<TcpServer>> tcp;
    bool started = false;
};

DnsApp::DnsApp() = default;

DnsApp::~DnsApp() = default;

bool DnsApp::build(const std::string& path, shared::ConfigDiagnostics& diags, const ZoneDb* previous, State* out) {
    std::shared_ptr<const geo::SteeringConfig> steer_cfg;
    // Zones are loaded even when the config has errors, so --check reports every problem at once.
    bool cfg_ok = parse_dns_config(path, diags, &out->cfg,
                                   [&](shared::ConfigSection& root) { steer_cfg = geo::parse_steering_config(root); });
    DnsConfig& cfg = out->cfg;
    if (cfg.common.workers == 0) cfg.common.workers = std::max(1u, std::thread::hardware_concurrency());

    std::unique_ptr<geo::Steering> steering;
    if (cfg_ok && steer_cfg && !steer_cfg->empty()) {
        unsigned contexts = running_contexts_
                                ? running_contexts_
                                : query_contexts(cfg.common.workers, static_cast<unsigned>(cfg.common.listen.size()));
        steering = geo::Steering::build(*steer_cfg, contexts, diags);
        if (!steering) return false;
    }

    auto db = std::make_shared<ZoneDb>();
    bool ok = true;
    for (const auto& zc : cfg.zones) {
        if (zc.name.empty() || zc.file.empty() || !name_from_text(zc.name)) continue;
        shared::ConfigDiagnostics zd;
        std::shared_ptr<Zone> z = load_zone_file(zc.name, zc.file, zd);
        auto old = previous ? previous->get(*name_from_text(zc.name)) : nullptr;
        if (!z && old) {
            // A broken zone on reload keeps serving its previous version.
            for (const auto& e : zd.all())
                shared::log::error("dns", e.to_string());
            shared::log::error("dns", "zone failed to load; keeping the previous version",
                               {{"zone", zc.name}, {"file", zc.file}, {"serial", std::to_string(old->serial)}});
            db->add(old);
            continue;
        }
        for (const auto& e : zd.all()) {
            if (e.warning)
                diags.warning(e);
            else
                diags.error(e);
        }
        if (!z) {
            ok = false;
            continue;
        }
        if (steering) {
            const auto& names = steering->names();
            for (uint32_t i = 0; i < names.size(); i++) {
                auto wire = names[i].wire_name();
                std::string_view n(reinterpret_cast<const char*>(wire.data()), wire.size());
                if (!is_subdomain(n, z->apex)) continue;
                if (const Node* existing = z->find(n)) {
                    if (existing->find(rrtype::CNAME) || (names[i].steers(rrtype::A) && existing->find(rrtype::A)) ||
                        (names[i].steers(rrtype::AAAA) && existing->find(rrtype::AAAA))) {
                        diags.error_at(zc.file, 0,
                                       "steered name " + names[i].name() +
                                           " also has static records of a steered type (or a CNAME) in zone " +
                                           zc.name);
                        ok = false;
                    }
                }
                Node& node = z->ensure_node(n);
                node.steer = i;
                node.steered_types = static_cast<uint8_t>((names[i].steers(rrtype::A) ? kSteersA : 0) |
                                                          (names[i].steers(rrtype::AAAA) ? kSteersAaaa : 0));
            }
        }
        // Edited without raising the serial: served from now on (as BIND does), but secondaries, which compare
        // serials, keep the old version. Compared before signing, leaving out what the signer adds.
        if (old && old->serial == z->serial && !same_records(*old, *z, old->signer != nullptr))
            out->unchanged_serial.push_back({z->apex_text, zc.file, std::to_string(z->serial)});
        if (zc.dnssec.ksk && !sign_zone(zc, *z, diags)) {
            ok = false;
            continue;
        }
        if (!z->finalized()) z->finalize();
        // IXFR: what changed since the version being replaced, with that version's own history. A signed zone's
        // signatures change at every signing, so its secondaries get the whole zone.
        if (old && !z->signer) z->history = next_history(*old, *z, cfg.ixfr_history);
        compile_answers(*z);
        db->add(std::move(z));
    }
    if (steering) {
        // DNSSEC: steered answers of signed zones are signed as they are rendered (now, and at each health change).
        std::vector<std::pair<std::string, std::shared_ptr<const ZoneSigner>>> signers;
        bool any_signed = false;
        for (const auto& [apex, z] : db->zones()) {
            signers.emplace_back(apex, z->signer); // unsigned zones too: a name belongs to its closest zone
            any_signed |= z->signer != nullptr;
        }
        if (any_signed)
            steering->set_signer(
                [signers](std::span<const uint8_t> owner, uint16_t qtype, uint32_t ttl, const std::string& records,
                          std::string* out) {
                    std::string_view name(reinterpret_cast<const char*>(owner.data()), owner.size());
                    const ZoneSigner* best = nullptr;
                    size_t best_len = 0;
                    for (const auto& [apex, signer] : signers)
                        if (is_subdomain(name, apex) && apex.size() >= best_len) {
                            best = signer.get();
                            best_len = apex.size();
                        }
                    return best &&
                           best->sign_online(name, qtype, ttl, records, static_cast<uint64_t>(std::time(nullptr)), out);
                },
                0);
        for (const auto& sn : steering->names()) {
            auto wire = sn.wire_name();
            NameBuf nb;
            unsigned skip;
            if (!nb.assign_lower(wire.data(), wire.size()) || !db->find_zone(nb, &skip))
                diags.error_at(path, 0, "steered name " + sn.name() + " is not inside any configured zone");
        }
    }
    if (!cfg_ok || !ok || !diags.ok()) return false;

    auto settings = std::make_shared<ServiceSettings>();
    settings->engine.chaos_id = cfg.chaos_id;
    settings->engine.chaos_hostname = cfg.chaos_hostname;
    settings->engine.chaos_version = cfg.chaos_version;
    settings->engine.nsid = cfg.nsid;
    settings->engine.edns_buffer_size = cfg.edns_buffer_size;
    settings->axfr_allow = cfg.axfr_allow;
    for (const auto& [apex, z] : db->zones())
        settings->engine.signed_zones |= z->signer != nullptr;
    for (const auto& k : cfg.tsig_keys) {
        std::string err;
        if (auto key = make_tsig_key(k.name, k.algorithm, k.secret, k.min_mac_size, &err))
            settings->engine.tsig_keys.push_back(std::move(*key));
    }
    settings->tcp_idle_timeout_ms = cfg.tcp_idle_timeout_ms;
    settings->max_tcp_connections = cfg.max_tcp_connections;
    settings->max_tcp_connections_per_address = cfg.max_tcp_connections_per_address;
    settings->tcp_query_timeout_ms = cfg.tcp_query_timeout_ms;
    settings->tcp_write_timeout_ms = cfg.tcp_write_timeout_ms;
    settings->transfer_timeout_ms = cfg.transfer_timeout_ms;
    settings->query_log_sample = cfg.query_log_sample;
    settings->rrl = cfg.rrl;
    if (steering) {
        if (!failed_open_) failed_open_ = std::make_shared<FailedOpenTally>();
        auto hook = std::make_shared<GeoSteeringHook>(std::move(steering), failed_open_);
        settings->engine.steering = hook.get();
        settings->steering_owner = hook;
        out->steering = hook;
    }
    out->db = std::move(db);
    out->settings = std::move(settings);
    return true;
}

bool DnsApp::load(const std::string& config_path, shared::ConfigDiagnostics& diags) {
    config_path_ = config_path;
    State s;
    if (!build(config_path, diags, nullptr, &s)) {
        state_.cfg = std::move(s.cfg); // common() stays meaningful for the caller
        return false;
    }
    state_ = std::move(s);
    return true;
}

void DnsApp::register_metrics(shared::MetricsRegistry& m) {
    metrics_ = &m;
    static const char* rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"};
    for (size_t i = 0; i < ids_.by_rcode.size(); i++)
        ids_.by_rcode[i] = m.counter("meridian_dns_responses_total", "DNS responses sent, by rcode",
                                     std::string("rcode=\"") + rcodes[i] + "\"");
    for (size_t i = 0; i < ids_.by_qtype.size(); i++) {
        const char* t = i < std::size(ServerMetricIds::kTypes) ? rrtype_label(ServerMetricIds::kTypes[i]) : "other";
        ids_.by_qtype[i] =
            m.counter("meridian_dns_queries_by_type_total", "DNS queries by QTYPE", std::string("qtype=\"") + t + "\"");
    }
    ids_.udp = m.counter("meridian_dns_queries_total", "DNS queries received, by protocol", "protocol=\"udp\"");
    ids_.tcp = m.counter("meridian_dns_queries_total", "DNS queries received, by protocol", "protocol=\"tcp\"");
    ids_.dropped = m.counter("meridian_dns_dropped_total", "queries not answered (QR=1, too short, rate limited)");
    ids_.truncated = m.counter("meridian_dns_truncated_total", "responses sent with TC=1");
    ids_.rate_limited = m.counter("meridian_dns_rate_limited_total", "responses dropped or slipped by RRL");
    ids_.udp_send_errors = m.counter("meridian_dns_udp_send_errors_total", "UDP answers the kernel did not take");
    ids_.tcp_connections = m.gauge("meridian_dns_tcp_connections", "open DNS TCP connections");
    ids_.tcp_refused = m.counter("meridian_dns_tcp_refused_total",
                                 "New TCP connections closed at once at a connection limit (none idle to close)");
    ids_.tcp_reclaimed = m.counter("meridian_dns_tcp_reclaimed_total",
                                   "Idle TCP connections closed at max_tcp_connections to let a new one in");
    ids_.axfr = m.counter("meridian_dns_axfr_total", "zone transfers served");
    ids_.axfr_refused = m.counter("meridian_dns_axfr_refused_total", "zone transfers refused");
    ids_.axfr_failed = m.counter("meridian_dns_axfr_failed_total", "zone transfers that did not complete");
    ids_.tcp_timeouts = m.counter("meridian_dns_tcp_timeouts_total",
                                  "TCP connections closed for a slow query, undrained answers or a stalled transfer");
    m.gauge_fn("meridian_dns_steering_failed_open_total",
               "steered answers given while every candidate edge was unhealthy (Route53 fail-open)", "",
               [this] { return failed_open_ ? static_cast<double>(failed_open_->total()) : 0.0; });
    ids_.latency = m.histogram("meridian_dns_query_duration_seconds",
                               "time to build an answer (one query in 16 is timed: two clock reads per query cost more "
                               "than the rest of a cached answer)",
                               {1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2});
    for (const auto& zc : state_.cfg.zones) {
        std::string apex = name_from_text(zc.name).value_or("");
        m.gauge_fn("meridian_dns_zone_serial", "SOA serial of each loaded zone", "zone=\"" + name_to_text(apex) + "\"",
                   [this, apex] {
                       auto z = state_.db ? state_.db->get(apex) : nullptr;
                       return z ? static_cast<double>(z->serial) : 0.0;
                   });
    }
}

void DnsApp::publish() {
    for (auto& slot : workers_) {
        if (!slot->started) continue;
        QueryService* svc = slot->svc.get();
        auto db = state_.db;
        auto settings = state_.settings;
        slot->worker->post([svc, db, settings] { svc->update(db, settings); });
        for (auto& u : slot->udp)
            u->publish(db, settings);
    }
}

bool DnsApp::start(uv_loop_t* main_loop, shared::MetricsRegistry& metrics) {
    main_loop_ = main_loop;
    metrics_ = &metrics;
    if (main_loop_) notifier_ = std::make_unique<NotifySender>(main_loop_);
    if (main_loop_) {
        // DNSSEC: signed zones are signed again (through a reload of the running config) once their signatures
        // are due for refresh. A minute's check costs nothing and needs no re-arming across reloads.
        resign_timer_ = std::make_unique<uv_timer_t>();
        uv_timer_init(main_loop_, resign_timer_.get());
        resign_timer_->data = this;
        uv_timer_start(
            resign_timer_.get(),
            [](uv_timer_t* t) {
                auto* self = static_cast<DnsApp*>(t->data);
                uint64_t now = static_cast<uint64_t>(std::time(nullptr));
                for (const auto& [apex, z] : self->state_.db->zones())
                    if (z->signer && now >= z->resign_at) {
                        shared::log::info("dns", "signatures due for refresh: signing again", {{"zone", z->apex_text}});
                        self->reload(self->config_path_);
                        return;
                    }
            },
            60000, 60000);
        uv_unref(reinterpret_cast<uv_handle_t*>(resign_timer_.get()));
    }
    if (!state_.cfg.query_log_file.empty()) {
        if (!query_log_.open(state_.cfg.query_log_file)) {
            shared::log::error("dns", "cannot open query log",
                               {{"file", state_.cfg.query_log_file}, {"error", std::strerror(errno)}});
            return false;
        }
        if (int rc = query_log_.watch_reopen_signal(main_loop))
            shared::log::warn("dns", "query log will not be reopened on SIGUSR1", {{"error", uv_strerror(rc)}});
        auto s = std::make_shared<ServiceSettings>(*state_.settings);
        s->query_log_fd = query_log_.fd();
        state_.settings = s;
    }
    // Before any worker binds (and before the health checks, which take a while): refuse an address another process
    // serves over UDP or TCP (SO_REUSEPORT would silently share it) and resolve a port 0 once, for both protocols
    // and every worker. Reloads never rebind (listen needs a restart).
    std::vector<shared::SocketAddress> listen_addrs = state_.cfg.common.listen;
    for (auto& addr : listen_addrs) {
        std::string msg;
        if (listen_claims_.claim(&addr, true, true, &msg)) {
            shared::log::error("dns", "cannot listen", {{"addr", addr.to_string()}, {"error", msg}});
            return false;
        }
    }
    started_ = true;
    const unsigned workers = state_.cfg.common.workers;
    const auto nlisten = static_cast<unsigned>(state_.cfg.common.listen.size());
    running_contexts_ = query_contexts(workers, nlisten);
    // geo: every edge is checked once before any worker answers a steered name (blocks ≤ the longest timeout).
    if (const geo::Steering* st = steering_of(state_.steering)) {
        health_ = std::make_unique<health::HealthChecker>(main_loop, &metrics, metrics.shards() - 1);
        health_->watch(*st);
    }
    // Sized once, for the connections every worker's TCP listeners may hold (max_tcp_connections each).
    tcp_sources_ = std::make_unique<shared::SourceConnLimit>(
        shared::SourceConnLimit::open_bound(uint64_t{workers} * nlisten * state_.cfg.max_tcp_connections));
    for (unsigned i = 0; i < state_.cfg.common.workers; i++) {
        auto slot = std::make_unique<WorkerSlot>();
        slot->worker = std::make_unique<shared::Worker>(i);
        slot->svc = std::make_unique<QueryService>(i, i, metrics_, &ids_);
        slot->svc->update(state_.db, state_.settings);
        WorkerSlot* sp = slot.get();
        const auto listen = listen_addrs;
        const uint64_t rcvbuf = state_.cfg.udp_receive_buffer;
        auto db = state_.db;
        auto settings = state_.settings;
        shared::MetricsRegistry* metrics = metrics_;
        const ServerMetricIds* ids = &ids_;
        shared::SourceConnLimit* sources = tcp_sources_.get();
        bool ok = slot->worker->start(
            [sp, listen, rcvbuf, db, settings, metrics, ids, sources, workers, nlisten](shared::Worker& w) {
                for (unsigned j = 0; j < listen.size(); j++) {
                    const auto& addr = listen[j];
                    auto udp = std::make_unique<UdpServer>(w.index(), udp_context(workers, w.index(), nlisten, j),
                                                           metrics, ids);
                    auto tcp = std::make_unique<TcpServer>(*sp->svc, sources);
                    int rc = udp->start(addr, rcvbuf, db, settings);
                    int rc2 = rc ? 0 : tcp->start(w.loop(), addr);
                    sp->udp.push_back(std::move(udp));
                    sp->tcp.push_back(std::move(tcp));
                    if (rc || rc2) {
                        shared::log::error("dns", "cannot listen",
                                           {{"addr", addr.to_string()}, {"error", uv_strerror(rc ? rc : rc2)}});
                        w.fail();
                        return;
                    }
                    if (w.index() != 0) continue;
                    const ReceiveBufferResult& rb = sp->udp.back()->receive_buffer();
                    shared::log::info("dns", "listening",
                                      {{"udp", sp->udp.back()->address().to_string()},
                                       {"tcp", sp->tcp.back()->address().to_string()},
                                       {"udp_receive_buffer", std::to_string(rb.effective)}});
                    // Linux reports twice what it granted; less than asked means net.core.rmem_max capped it.
                    if (rcvbuf && static_cast<uint64_t>(rb.effective) / 2 < rcvbuf)
                        shared::log::warn("dns",
                                          "UDP receive buffer smaller than limits.udp_receive_buffer "
                                          "(not root: raise net.core.rmem_max)",
                                          {{"asked", std::to_string(rcvbuf)},
                                           {"got", std::to_string(rb.effective / 2)},
                                           {"error", rb.error ? std::strerror(rb.error) : ""}});
                }
            },
            [sp](shared::Worker&) {
                for (auto& u : sp->udp)
                    u->stop();
                for (auto& t : sp->tcp)
                    t->close();
            });
        slot->started = true;
        workers_.push_back(std::move(slot));
        if (!ok) return false;
    }
    for (const auto& [apex, z] : state_.db->zones())
        shared::log::info("dns", "zone loaded",
                          {{"zone", z->apex_text},
                           {"serial", std::to_string(z->serial)},
                           {"records", std::to_string(z->record_count)}});
    return true;
}

void DnsApp::reload(const std::string& config_path) {
    shared::ConfigDiagnostics diags;
    State next;
    if (!build(config_path, diags, state_.db.get(), &next)) {
        for (const auto& e : diags.all())
            shared::log::error("dns", e.to_string());
        shared::log::error("dns", "reload failed; the running configuration stays", {{"config", config_path}});
        return;
    }
    for (const auto& e : diags.all())
        shared::log::warn("dns", e.to_string());
    // Sockets and threads are made once at start (and their addresses claimed for this process): a reload never
    // rebinds. It says which such keys changed and keeps the running values in the new config, so the next reload
    // compares against what really runs (as the edge does).
    {
        auto addrs = [](const std::vector<shared::SocketAddress>& v) {
            std::string out;
            for (const auto& a : v)
                out += (out.empty() ? "" : ",") + a.to_string();
            return out;
        };
        auto opt_addr = [](const std::optional<shared::SocketAddress>& a) {
            return a ? a->to_string() : std::string();
        };
        auto keep = [](const char* key, auto& configured, const auto& running, const std::string& c,
                       const std::string& r) {
            if (c == r) return;
            shared::log::warn("dns", "reload: changing this key needs a restart; keeping the running value",
                              {{"key", key}, {"running", r}, {"configured", c}});
            configured = running;
        };
        auto& nc = next.cfg.common;
        const auto& oc = state_.cfg.common;
        keep("workers", nc.workers, oc.workers, std::to_string(nc.workers), std::to_string(oc.workers));
        keep("listen", nc.listen, oc.listen, addrs(nc.listen), addrs(oc.listen));
        keep("admin.listen", nc.admin_listen, oc.admin_listen, opt_addr(nc.admin_listen), opt_addr(oc.admin_listen));
    }
    if (next.cfg.query_log_file != query_log_.path())
        shared::log::warn("dns", "query_log.file changes take effect after a restart");
    auto s = std::make_shared<ServiceSettings>(*next.settings);
    s->query_log_fd = query_log_.fd();
    next.settings = s;
    // geo: check the new config's edges (new checks run once now) before its steering is published.
    if (const geo::Steering* st = steering_of(next.steering)) {
        // Log only what the new health state changes (a location still failing open was said already).
        if (const geo::Steering* prev = steering_of(state_.steering)) st->carry_log_state(*prev);
        if (!health_ && main_loop_)
            health_ = std::make_unique<health::HealthChecker>(main_loop_, metrics_, metrics_->shards() - 1);
        if (health_) health_->watch(*st);
    } else if (health_) {
        health_->close(); // kept: the metrics gauges it registered read it
    }
    auto old_db = state_.db;
    // RFC 1982 / RFC 1995: a secondary asks for the serial and transfers only a newer one, so it keeps the previous
    // contents; no NOTIFY is sent; the IXFR history cannot express a change without a serial step and is dropped,
    // so an IXFR from an older serial gets the whole zone, and one from this serial gets "up to date".
    for (const auto& [zone, file, serial] : next.unchanged_serial)
        shared::log::warn("dns",
                          "zone changed without a serial change: serving the new contents, but secondaries will not "
                          "see the change (raise the SOA serial and reload)",
                          {{"zone", zone}, {"file", file}, {"serial", serial}});
    state_.cfg = std::move(next.cfg);
    state_.db = std::move(next.db);
    state_.settings = std::move(next.settings);
    if (const geo::Steering* old = steering_of(state_.steering); old && console_ && old != steering_of(next.steering))
        console_->steering_replaced(*old);
    state_.steering = std::move(next.steering);
    publish();
    for (const auto& [apex, z] : state_.db->zones()) {
        auto old = old_db ? old_db->get(apex) : nullptr;
        if (old.get() == z.get()) continue;
        shared::log::info("dns", "zone loaded",
                          {{"zone", z->apex_text},
                           {"serial", std::to_string(z->serial)},
                           {"records", std::to_string(z->record_count)}});
        if (old && serial_newer(old->serial, z->serial) && !state_.cfg.notify.empty()) {
            const TsigKey* key = nullptr;
            if (!state_.cfg.notify_key.empty()) {
                std::string k = state_.cfg.notify_key;
                if (k.back() != '.') k += '.';
                std::string want = to_lower(name_from_text(k).value_or(""));
                for (const auto& t : state_.settings->engine.tsig_keys)
                    if (t.name == want) key = &t;
            }
            if (notifier_)
                notifier_->notify(*z, state_.cfg.notify, key);
            else
                send_notify(*z, state_.cfg.notify, key);
        }
        // RFC 1982: a lower serial looks older to every secondary, which keeps its copy and never transfers this one
        // (nor the next ones, until the serial passes the old value again).
        if (old && serial_newer(z->serial, old->serial))
            shared::log::warn("dns", "zone serial went backwards: secondaries will keep the previous version",
                              {{"zone", z->apex_text},
                               {"serial", std::to_string(z->serial)},
                               {"previous_serial", std::to_string(old->serial)}});
    }
    shared::log::info("dns", "reloaded",
                      {{"config", config_path}, {"zones", std::to_string(state_.db->zones().size())}});
}

void DnsApp::stop(std::function<void()> done) {
    if (resign_timer_) {
        uv_timer_stop(resign_timer_.get());
        // The handle's memory must outlive libuv's close: handed over to the close callback.
        uv_close(reinterpret_cast<uv_handle_t*>(resign_timer_.release()),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    }
    if (health_) health_->close();
    if (notifier_) notifier_->close();
    query_log_.close_watch();
    for (auto& slot : workers_)
        if (slot->started) slot->worker->request_stop();
    for (auto& slot : workers_)
        if (slot->started) slot->worker->join();
    workers_.clear();
    done();
}

shared::AdminResponse DnsApp::health() {
    shared::AdminResponse r;
    r.body = "ok\n";
    return r;
}

Explanation DnsApp::explain(const ExplainQuery& q) const {
    return explain_query(*state_.db, state_.settings->engine, steering_of(state_.steering), q, started_);
}

void DnsApp::add_admin_handlers(shared::AdminServer& admin) {
    DnsConsole::Sources src;
    src.registry = metrics_;
    src.ids = &ids_;
    src.steering = [this] { return steering_of(state_.steering); };
    src.health = [this] {
        return health_ && steering_of(state_.steering) ? health_->statuses()
                                                       : std::vector<health::HealthChecker::EdgeStatus>();
    };
    src.failed_open = [this] { return failed_open_ ? failed_open_->total() : 0; };
    console_ = std::make_unique<DnsConsole>(std::move(src));
    admin.add_handler([this](std::string_view path, shared::AdminResponse& out) {
        return console_->handle(path, out, main_loop_ ? uv_now(main_loop_) : 0);
    });
    // Main loop, like reload(): state_ is not swapped under the explanation.
    admin.add_request_handler([this](const shared::AdminRequest& req, shared::AdminResponse& out) {
        if (req.path != "/_meridian/explain") return false;
        if (req.method != "GET" && req.method != "HEAD") {
            out.status = 405;
            out.extra_headers = "Allow: GET, HEAD\r\n";
            out.body = "GET /_meridian/explain?name=NAME&type=A&client=IP[&ecs=PREFIX/LEN][&format=text]\n";
            return true;
        }
        auto name = shared::query_param(req.query, "name");
        auto type = shared::query_param(req.query, "type");
        auto client = shared::query_param(req.query, "client");
        auto ecs = shared::query_param(req.query, "ecs");
        auto format = shared::query_param(req.query, "format");
        ExplainQuery q;
        std::string err;
        if (!name || !client) {
            err = "name and client are required";
        } else if (format && *format != "json" && *format != "text") {
            err = "format: json or text";
        } else {
            parse_explain_query(*name, type ? *type : "A", *client, ecs ? *ecs : "", &q, &err);
        }
        if (!err.empty()) {
            out.status = 400;
            out.body = "explain: " + err +
                       "\nusage: GET /_meridian/explain?name=NAME&type=A&client=IP[&ecs=PREFIX/LEN][&format=text]\n";
            return true;
        }
        Explanation e = explain(q);
        if (format && *format == "text") {
            out.body = explanation_text(e);
        } else {
            out.content_type = "application/json";
            out.body = explanation_json(e);
        }
        return true;
    });
}

} // namespace dns
