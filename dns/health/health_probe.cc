#include "dns/health/health_probe.h"

#include <cstring>

#include "shared/http/http_client.h"
#include "shared/net/address.h"
#include "shared/net/resolver.h"

namespace dns::health {

namespace {

class TcpProbe;

// The uv handles outlive a cancelled probe: they close asynchronously and free this.
struct TcpConnect {
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    uv_connect_t req{};
    HealthProbe::Done done;
    TcpProbe* owner = nullptr;
    CheckResult on_timer; // what the timer reports: a timeout, or a connect error found synchronously
    int open_handles = 0;
    bool finished = false;

    void finish(const CheckResult& r);
    void close() {
        auto on_close = [](uv_handle_t* h) noexcept {
            auto* self = static_cast<TcpConnect*>(h->data);
            if (--self->open_handles == 0) delete self;
        };
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp)))
            uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_close);
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer)))
            uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_close);
    }
};

class TcpProbe final : public HealthProbe {
public:
    explicit TcpProbe(TcpConnect* c) : c_(c) { c->owner = this; }
    ~TcpProbe() override {
        if (!c_) return;
        c_->owner = nullptr;
        c_->finished = true;
        c_->done = nullptr;
        c_->close();
    }
    TcpConnect* c_;
};

void TcpConnect::finish(const CheckResult& r) {
    if (finished) return;
    finished = true;
    if (owner) owner->c_ = nullptr;
    owner = nullptr;
    HealthProbe::Done d = std::move(done);
    close();
    if (d) d(r); // may destroy the probe: it no longer points here
}

class HttpProbe final : public HealthProbe {
public:
    std::unique_ptr<shared::HttpClientRequest> req;
};

} // namespace

std::unique_ptr<HealthProbe> HealthProbe::start(uv_loop_t* loop, shared::Resolver* resolver,
                                                std::shared_ptr<shared::TlsClientContext> tls,
                                                const geo::HealthCheckConfig& cfg, Done done) {
    using Type = geo::HealthCheckConfig::Type;
    if (cfg.type == Type::tcp) {
        auto addr = shared::Resolver::parse_numeric(cfg.address, cfg.port);
        auto* c = new TcpConnect();
        c->done = std::move(done);
        uv_tcp_init(loop, &c->tcp);
        uv_timer_init(loop, &c->timer);
        c->tcp.data = c->timer.data = c->req.data = c;
        c->open_handles = 2;
        c->on_timer.detail = "connect timeout";
        auto probe = std::make_unique<TcpProbe>(c);
        int rc = addr ? uv_tcp_connect(&c->req, &c->tcp, addr->sa(),
                                       [](uv_connect_t* req, int status) noexcept {
                                           auto* c = static_cast<TcpConnect*>(req->data);
                                           if (status == UV_ECANCELED) return; // closed by finish() or cancel
                                           CheckResult r;
                                           r.ok = status == 0;
                                           r.detail = status == 0 ? "connected" : uv_err_name(status);
                                           c->finish(r);
                                       })
                      : UV_EINVAL;
        uint64_t timeout = cfg.timeout_ms;
        if (rc != 0) { // report on the next loop turn, never from inside start()
            c->on_timer.detail = std::string("connect: ") + uv_err_name(rc);
            timeout = 0;
        }
        uv_timer_start(
            &c->timer,
            [](uv_timer_t* t) noexcept {
                auto* c = static_cast<TcpConnect*>(t->data);
                c->finish(c->on_timer);
            },
            timeout, 0);
        return probe;
    }

    shared::HttpClientOptions o;
    o.tls = cfg.type == Type::https;
    o.tls_context = tls;
    // HTTPS verifies the certificate against `host`, so connect by name then; HTTP connects to the address and
    // sends `host` as the Host header.
    o.host = o.tls ? cfg.host : cfg.address;
    o.port = cfg.port;
    o.target = cfg.path;
    if (!o.tls && cfg.host != cfg.address) o.headers.push_back({"Host", cfg.host});
    o.headers.push_back({"User-Agent", "meridian-dns-health"});
    o.headers.push_back({"Connection", "close"});
    uint32_t t = static_cast<uint32_t>(cfg.timeout_ms);
    o.connect_timeout_ms = t;
    o.first_byte_timeout_ms = t;
    o.idle_timeout_ms = t;
    o.total_timeout_ms = t;
    o.max_body_bytes = 64 * 1024;
    auto probe = std::make_unique<HttpProbe>();
    geo::HealthCheckConfig copy = cfg;
    probe->req = shared::HttpClientRequest::start(
        loop, resolver, std::move(o), [copy, done = std::move(done)](const shared::HttpClientResult& res) {
            CheckResult r;
            if (res.error != shared::HttpError::None) {
                r.detail = std::string(shared::http_error_name(res.error));
                if (!res.detail.empty()) r.detail += ": " + res.detail;
            } else {
                r = judge_http(res.status, res.body, copy);
            }
            done(r);
        });
    return probe;
}

} // namespace dns::health
