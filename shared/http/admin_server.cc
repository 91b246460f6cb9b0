#include "shared/http/admin_server.h"

#include <llhttp.h>

#include <cstring>
#include <vector>

#include "shared/log/log.h"
#include "shared/metrics/metrics.h"
#include "shared/net/listen_socket.h"

namespace shared {

namespace {
constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxHeaderBytes = 16384;
constexpr size_t kMaxConnections = 64;
// nginx's shape, per connection: a request must arrive whole within kRequestTimeoutMs of its first byte (bytes
// dribbled in do not extend it), a keep-alive connection may sit idle between requests for kIdleTimeoutMs, and a
// response must be taken by the client within kSendTimeoutMs.
constexpr uint64_t kRequestTimeoutMs = 10000;
constexpr uint64_t kIdleTimeoutMs = 30000;
constexpr uint64_t kSendTimeoutMs = 10000;

struct Conn;
} // namespace

struct AdminServer::Impl {
    uv_loop_t* loop;
    MetricsRegistry* metrics;
    std::function<AdminResponse()> health;
    std::vector<Handler> handlers;
    uv_tcp_t listener{};
    bool listening = false;
    bool closed = false;
    std::vector<Conn*> conns;

    static void on_connection(uv_stream_t* server, int status) noexcept;
    AdminResponse respond(std::string_view method, std::string_view url);
};

namespace {

const char* reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
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
    std::string url;
    size_t header_bytes = 0;
    bool keep_alive = true;
    bool closing = false;
    int pending_close = 0;
    // One request at a time: while its response is being written the parser is paused and the socket not read, so
    // a client that pipelines requests and never reads holds one response, not one per request. Bytes read past the
    // paused request wait in `held` (at most one read's worth).
    bool writing = false;
    std::string held;
    uint64_t request_start = 0; // first byte of the request being received; 0 between requests
    uint64_t last_active = 0;   // last response written or connection accepted (idle timeout)
    uint64_t write_start = 0;   // when the response in flight was queued (send timeout)
    char buf[4096];

    uint64_t now() const { return uv_now(srv->loop); }

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

    uint64_t deadline() const {
        if (writing) return write_start + kSendTimeoutMs;
        if (request_start) return request_start + kRequestTimeoutMs;
        return last_active + kIdleTimeoutMs;
    }
    void arm() {
        if (closing) return;
        uint64_t d = deadline(), n = now();
        uv_timer_start(
            &timer, [](uv_timer_t* t) noexcept { static_cast<Conn*>(t->data)->close(); }, d > n ? d - n : 0, 0);
    }

    void send(const AdminResponse& r, bool head, bool close_after) {
        struct Write {
            uv_write_t req;
            std::string data;
            bool close_after;
        };
        auto* w = new Write;
        w->data = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
                  "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
                  "\r\nCache-Control: no-store\r\n" + (close_after ? "Connection: close\r\n" : "") + "\r\n";
        if (!head) w->data += r.body;
        w->close_after = close_after;
        uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
        w->req.data = w;
        int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp), &b, 1, [](uv_write_t* req, int status) {
            auto* wr = static_cast<Write*>(req->data);
            auto* c = static_cast<Conn*>(req->handle->data);
            bool close_after = wr->close_after;
            delete wr;
            if (c->closing || close_after) return; // closing: the shutdown below (or close()) finishes it
            if (status < 0) return c->close();
            c->written();
        });
        if (rc != 0) {
            delete w;
            close();
            return;
        }
        writing = true;
        write_start = now();
        request_start = 0;
        if (close_after) {
            // Half-close after the response is flushed: shutdown waits for queued writes.
            auto* sreq = new uv_shutdown_t;
            sreq->data = this;
            if (uv_shutdown(sreq, reinterpret_cast<uv_stream_t*>(&tcp), [](uv_shutdown_t* r, int) {
                    auto* c = static_cast<Conn*>(r->data);
                    delete r;
                    c->close();
                }) != 0) {
                delete sreq;
                close();
                return;
            }
        }
        arm();
    }

    // The response in flight was taken by the kernel: parse what was held back, then read again.
    void written() {
        writing = false;
        last_active = now();
        llhttp_resume(&parser);
        std::string rest;
        rest.swap(held);
        if (!rest.empty()) {
            request_start = now();
            feed(rest.data(), rest.size());
        }
        if (closing || writing) return;
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&tcp),
            [](uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
                auto* cc = static_cast<Conn*>(h->data);
                *b = uv_buf_init(cc->buf, sizeof cc->buf);
            },
            on_read_cb);
        arm();
    }

    void feed(const char* data, size_t len);
    static void on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept;

    void fail(int status) {
        AdminResponse r;
        r.status = status;
        r.body = std::string(reason(status)) + "\n";
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
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

int on_header_bytes(llhttp_t* p, const char*, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    c->header_bytes += len;
    if (c->header_bytes > kMaxHeaderBytes) {
        llhttp_set_error_reason(p, "headers too large");
        return HPE_USER;
    }
    return 0;
}

int on_message_begin(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    c->url.clear();
    c->header_bytes = 0;
    return 0;
}

int on_message_complete(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    std::string_view method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    AdminResponse r = c->srv->respond(method, c->url);
    c->keep_alive = llhttp_should_keep_alive(p) != 0 && !c->srv->closed;
    c->send(r, method == "HEAD", !c->keep_alive);
    return HPE_PAUSED; // the next request waits for this response to be written
}

const llhttp_settings_t* settings() {
    static llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = on_message_begin;
        st.on_url = on_url;
        st.on_header_field = on_header_bytes;
        st.on_header_value = on_header_bytes;
        st.on_message_complete = on_message_complete;
        return st;
    }();
    return &s;
}

void Conn::on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
    auto* c = static_cast<Conn*>(s->data);
    if (nread < 0) {
        c->close();
        return;
    }
    if (nread == 0) return;
    if (!c->request_start) {
        c->request_start = c->now();
        c->arm();
    }
    c->feed(c->buf, static_cast<size_t>(nread));
}

void Conn::feed(const char* data, size_t len) {
    llhttp_errno_t err = llhttp_execute(&parser, data, len);
    if (err == HPE_OK) return;
    if (err == HPE_PAUSED) { // a response is in flight
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
        if (!closing && keep_alive) {
            const char* stop = llhttp_get_error_pos(&parser);
            if (stop >= data && stop < data + len) held.assign(stop, static_cast<size_t>(data + len - stop));
        }
        return;
    }
    const char* why = llhttp_get_error_reason(&parser);
    int status = 400;
    if (err == HPE_USER && why && !std::strcmp(why, "uri too long")) status = 414;
    if (err == HPE_USER && why && !std::strcmp(why, "headers too large")) status = 431;
    fail(status);
}

// At the connection limit a new connection (an operator's health check or scrape) is never refused: the connection
// that has been idle longest goes, else the one whose request has been arriving longest, else the oldest writer.
Conn* eviction_victim(const std::vector<Conn*>& conns) {
    Conn* best = nullptr;
    auto rank = [](const Conn* c) { return c->writing ? 2 : c->request_start ? 1 : 0; };
    auto since = [](const Conn* c) {
        return c->writing ? c->write_start : c->request_start ? c->request_start : c->last_active;
    };
    for (Conn* c : conns)
        if (!best || rank(c) < rank(best) || (rank(c) == rank(best) && since(c) < since(best))) best = c;
    return best;
}

} // namespace

AdminResponse AdminServer::Impl::respond(std::string_view method, std::string_view url) {
    AdminResponse r;
    std::string_view path = url.substr(0, url.find('?'));
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
    if (path == "/_meridian/health") return health ? health() : AdminResponse{200, r.content_type, "ok\n"};
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
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
        self->conns.push_back(c);
        c->close();
        return;
    }
    if (self->conns.size() >= kMaxConnections) eviction_victim(self->conns)->close();
    self->conns.push_back(c);
    llhttp_init(&c->parser, HTTP_REQUEST, settings());
    c->parser.data = c;
    c->last_active = c->now();
    c->arm();
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
            auto* cc = static_cast<Conn*>(h->data);
            *b = uv_buf_init(cc->buf, sizeof cc->buf);
        },
        Conn::on_read_cb);
}

AdminServer::AdminServer(uv_loop_t* loop, MetricsRegistry* metrics, std::function<AdminResponse()> health)
    : impl_(new Impl) {
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
