#include "shared/http/admin_server.h"

#include <llhttp.h>
#include <strings.h>

#include <cstring>
#include <vector>

#include "shared/http/bearer_token.h"
#include "shared/log/log.h"
#include "shared/metrics/metrics.h"
#include "shared/net/listen_socket.h"

namespace shared {

namespace {
constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxHeaderBytes = 16384;

struct Conn;
} // namespace

struct AdminServer::Impl {
    uv_loop_t* loop;
    MetricsRegistry* metrics;
    std::function<AdminResponse()> health;
    std::vector<Handler> handlers;
    std::vector<RequestHandler> request_handlers;
    std::vector<RequestHandler> own_auth_handlers;
    std::string token;
    uv_tcp_t listener{};
    bool listening = false;
    bool closed = false;
    std::vector<Conn*> conns;
    AdminLimits limits;
    uint64_t evicted = 0;

    static void on_connection(uv_stream_t* server, int status) noexcept;
    AdminResponse respond(std::string_view method, std::string_view url, std::string_view authorization,
                          std::string_view body);
};

namespace {

const char* reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 413:
        return "Content Too Large";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

struct Conn {
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    llhttp_t parser{};
    AdminServer::Impl* srv = nullptr;
    AdminConnClock clock;
    std::string url;
    std::string field;         // the header name being read
    std::string authorization; // its value when it is Authorization
    std::string body;
    bool in_value = false;
    std::string pending; // bytes read after a complete request, parsed once its response is taken
    size_t header_bytes = 0;
    bool keep_alive = true;
    bool closing = false;
    int pending_close = 0;
    char buf[4096];

    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

    void close() {
        if (closing) return;
        closing = true;
        auto& v = srv->conns;
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i] == this) {
                v[i] = v.back();
                v.pop_back();
                break;
            }
        pending_close = 2;
        auto done = [](uv_handle_t* h) {
            auto* c = static_cast<Conn*>(h->data);
            if (--c->pending_close == 0) delete c;
        };
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp), done);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer), done);
    }

    // One timer per connection, set to the current phase's deadline. Bytes arriving within a phase never move it.
    void enter(AdminConnPhase phase) {
        if (closing) return;
        clock.phase = phase;
        clock.since_ms = uv_now(tcp.loop);
        uv_timer_start(
            &timer, [](uv_timer_t* t) noexcept { static_cast<Conn*>(t->data)->close(); },
            clock.deadline_ms(srv->limits) - clock.since_ms, 0);
    }

    void send(const AdminResponse& r, bool head, bool close_after) {
        struct Write {
            uv_write_t req;
            std::string data;
        };
        auto* w = new Write;
        w->data = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
                  "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
                  "\r\nCache-Control: no-store\r\n" + r.extra_headers + (close_after ? "Connection: close\r\n" : "") +
                  "\r\n";
        if (!head) w->data += r.body;
        uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
        w->req.data = w;
        // Nothing more is read until the client has taken this response, so a client that pipelines requests and
        // never reads queues at most one response here.
        uv_read_stop(stream());
        enter(AdminConnPhase::sending);
        int rc = uv_write(&w->req, stream(), &b, 1, [](uv_write_t* req, int status) {
            auto* wr = static_cast<Write*>(req->data);
            auto* c = static_cast<Conn*>(req->handle->data);
            delete wr;
            if (status == 0) c->written();
        });
        if (rc != 0) {
            delete w;
            close();
            return;
        }
        if (close_after) {
            // Half-close after the response is flushed: shutdown waits for queued writes.
            auto* sreq = new uv_shutdown_t;
            sreq->data = this;
            if (uv_shutdown(sreq, stream(), [](uv_shutdown_t* r, int) {
                    auto* c = static_cast<Conn*>(r->data);
                    delete r;
                    c->close();
                }) != 0) {
                delete sreq;
                close();
            }
        }
    }

    // The response left our buffers: wait for the next request, starting with what was already read.
    void written() {
        if (closing || !keep_alive) return;
        enter(AdminConnPhase::idle);
        llhttp_resume(&parser);
        std::string rest = std::move(pending);
        pending.clear();
        if (!rest.empty()) {
            enter(AdminConnPhase::request);
            if (!feed(rest.data(), rest.size())) return;
        }
        start_reading();
    }

    void start_reading();

    // Parses bytes; false when the connection stopped reading (a response is being sent, or it is closing).
    bool feed(const char* data, size_t len);

    void fail(int status) {
        AdminResponse r;
        r.status = status;
        r.body = std::string(reason(status)) + "\n";
        keep_alive = false;
        send(r, false, true);
    }
};

int on_url(llhttp_t* p, const char* at, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    if (c->url.size() + len > kMaxUrl) {
        llhttp_set_error_reason(p, "uri too long");
        return HPE_USER;
    }
    c->url.append(at, len);
    return 0;
}

int count_header_bytes(llhttp_t* p, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    c->header_bytes += len;
    if (c->header_bytes > kMaxHeaderBytes) {
        llhttp_set_error_reason(p, "headers too large");
        return HPE_USER;
    }
    return 0;
}

int on_header_field(llhttp_t* p, const char* at, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    if (c->in_value) {
        c->field.clear();
        c->in_value = false;
    }
    c->field.append(at, len);
    return count_header_bytes(p, len);
}

int on_header_value(llhttp_t* p, const char* at, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    c->in_value = true;
    if (c->field.size() == 13 && strncasecmp(c->field.data(), "authorization", 13) == 0)
        c->authorization.append(at, len);
    return count_header_bytes(p, len);
}

int on_body(llhttp_t* p, const char* at, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    if (c->body.size() + len > AdminRequest::kMaxBody) {
        llhttp_set_error_reason(p, "body too large");
        return HPE_USER;
    }
    c->body.append(at, len);
    return 0;
}

int on_message_begin(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    c->url.clear();
    c->field.clear();
    c->authorization.clear();
    c->body.clear();
    c->in_value = false;
    c->header_bytes = 0;
    return 0;
}

int on_message_complete(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    std::string_view method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    AdminResponse r = c->srv->respond(method, c->url, c->authorization, c->body);
    c->keep_alive = llhttp_should_keep_alive(p) != 0 && !c->srv->closed;
    c->send(r, method == "HEAD", !c->keep_alive);
    // Pause either way: the rest of the input waits until this response is taken (or is ignored after a close).
    return HPE_PAUSED;
}

const llhttp_settings_t* settings() {
    static llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = on_message_begin;
        st.on_url = on_url;
        st.on_header_field = on_header_field;
        st.on_header_value = on_header_value;
        st.on_body = on_body;
        st.on_message_complete = on_message_complete;
        return st;
    }();
    return &s;
}

bool Conn::feed(const char* data, size_t len) {
    llhttp_errno_t err = llhttp_execute(&parser, data, len);
    if (err == HPE_OK) return !closing;
    if (err == HPE_PAUSED) {
        if (keep_alive) {
            const char* pos = llhttp_get_error_pos(&parser);
            if (pos >= data && pos <= data + len) pending.assign(pos, data + len - pos);
        }
        return false;
    }
    const char* why = llhttp_get_error_reason(&parser);
    int status = 400;
    if (err == HPE_USER && why && !std::strcmp(why, "uri too long")) status = 414;
    if (err == HPE_USER && why && !std::strcmp(why, "headers too large")) status = 431;
    if (err == HPE_USER && why && !std::strcmp(why, "body too large")) status = 413;
    fail(status);
    return false;
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
    auto* c = static_cast<Conn*>(s->data);
    if (nread < 0) {
        c->close();
        return;
    }
    if (nread == 0) return;
    // The first byte of a request after a keep-alive wait starts its deadline; later bytes never move it.
    if (c->clock.phase == AdminConnPhase::idle) c->enter(AdminConnPhase::request);
    c->feed(c->buf, static_cast<size_t>(nread));
}

void Conn::start_reading() {
    uv_read_start(
        stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
            auto* cc = static_cast<Conn*>(h->data);
            *b = uv_buf_init(cc->buf, sizeof cc->buf);
        },
        on_read);
}

} // namespace

AdminResponse AdminServer::Impl::respond(std::string_view method, std::string_view url, std::string_view authorization,
                                         std::string_view body) {
    AdminResponse r;
    size_t q = url.find('?');
    std::string_view path = url.substr(0, q);
    AdminRequest req{method, path, q == std::string_view::npos ? std::string_view() : url.substr(q + 1), authorization,
                     body};
    for (auto& h : own_auth_handlers)
        if (h(req, r)) return r;
    if (!token.empty() && path != "/_meridian/health" && check_bearer(authorization, token) != BearerCheck::ok) {
        r.status = 401;
        r.body = "Authorization: Bearer <admin token> is required (admin.token_file)\n";
        // Basic too, so a browser asks for it (any user name, the token as password) and the console page opens.
        r.extra_headers =
            "WWW-Authenticate: Bearer realm=\"meridian\"\r\nWWW-Authenticate: Basic realm=\"meridian\"\r\n";
        return r;
    }
    for (auto& h : request_handlers)
        if (h(req, r)) return r;
    if (method != "GET" && method != "HEAD") {
        r.status = 405;
        r.body = "only GET and HEAD\n";
        return r;
    }
    if (path == "/_meridian/metrics") {
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics ? metrics->render() : "";
        return r;
    }
    if (path == "/_meridian/health") return health ? health() : AdminResponse{200, r.content_type, "ok\n", {}};
    for (auto& h : handlers)
        if (h(path, r)) return r;
    r.status = 404;
    r.body = "not found\n";
    return r;
}

void AdminServer::Impl::on_connection(uv_stream_t* server, int status) noexcept {
    auto* self = static_cast<Impl*>(server->data);
    if (status < 0) return;
    auto* c = new Conn;
    c->srv = self;
    uv_tcp_init(self->loop, &c->tcp);
    uv_timer_init(self->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    self->conns.push_back(c);
    if (uv_accept(server, c->stream()) != 0) {
        c->close();
        return;
    }
    // Full: make room rather than refuse, so slow or idle clients cannot lock out a health check.
    if (self->conns.size() > self->limits.max_connections) {
        std::vector<AdminConnClock> clocks;
        clocks.reserve(self->conns.size() - 1);
        for (size_t i = 0; i + 1 < self->conns.size(); ++i)
            clocks.push_back(self->conns[i]->clock);
        Conn* victim = self->conns[pick_admin_eviction(clocks, self->limits)];
        ++self->evicted;
        if (self->evicted == 1 || self->evicted % 1000 == 0)
            log::warn("admin", "connection limit reached: closing the longest-waiting connection",
                      {{"max_connections", std::to_string(self->limits.max_connections)},
                       {"evicted_total", std::to_string(self->evicted)}});
        victim->close();
    }
    llhttp_init(&c->parser, HTTP_REQUEST, settings());
    c->parser.data = c;
    c->enter(AdminConnPhase::request);
    c->start_reading();
}

AdminServer::AdminServer(uv_loop_t* loop, MetricsRegistry* metrics, std::function<AdminResponse()> health,
                         AdminLimits limits)
    : impl_(new Impl) {
    impl_->limits = limits;
    if (impl_->limits.max_connections == 0) impl_->limits.max_connections = 1;
    impl_->loop = loop;
    impl_->metrics = metrics;
    impl_->health = std::move(health);
}

AdminServer::~AdminServer() {
    close();
}

void AdminServer::add_handler(Handler h) {
    impl_->handlers.push_back(std::move(h));
}

void AdminServer::add_request_handler(RequestHandler h, bool own_auth) {
    (own_auth ? impl_->own_auth_handlers : impl_->request_handlers).push_back(std::move(h));
}

void AdminServer::set_token(std::string token) {
    impl_->token = std::move(token);
}

int AdminServer::listen(const SocketAddress& addr) {
    impl_->listener.data = impl_.get();
    int rc = tcp_listen_reuseport(impl_->loop, &impl_->listener, addr, 128, &Impl::on_connection);
    impl_->listening = true; // initialized either way, so close() must close it
    impl_->listener.data = impl_.get();
    return rc;
}

SocketAddress AdminServer::address() const {
    return bound_address(reinterpret_cast<const uv_handle_t*>(&impl_->listener));
}

void AdminServer::close() {
    if (!impl_ || impl_->closed) return;
    impl_->closed = true;
    if (impl_->listening) uv_close(reinterpret_cast<uv_handle_t*>(&impl_->listener), nullptr);
    auto conns = impl_->conns;
    for (auto* c : conns)
        c->close();
}

} // namespace shared
