#include "shared/http/http_client.h"

#include <charconv>

namespace shared {

bool parse_http_url(std::string_view url, HttpUrl* out, std::string* err) {
    auto lower_prefix = [&](std::string_view p) {
        if (url.size() < p.size()) return false;
        for (size_t i = 0; i < p.size(); ++i) {
            char c = url[i];
            if (c >= 'A' && c <= 'Z') c = char(c + 32);
            if (c != p[i]) return false;
        }
        return true;
    };
    HttpUrl u;
    if (lower_prefix("http://")) {
        url.remove_prefix(7);
    } else if (lower_prefix("https://")) {
        url.remove_prefix(8);
        u.tls = true;
        u.port = 443;
    } else {
        *err = "URL must start with http:// or https://";
        return false;
    }
    size_t end = url.find_first_of("/?#");
    std::string_view authority = url.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
    if (authority.find('@') != std::string_view::npos) {
        *err = "URL must not contain user information";
        return false;
    }
    std::string_view host, port;
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            *err = "unterminated '[' in URL host";
            return false;
        }
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                *err = "unexpected characters after ']' in URL";
                return false;
            }
            port = after.substr(1);
        }
    } else {
        size_t colon = authority.rfind(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (host.empty()) {
        *err = "URL has no host";
        return false;
    }
    if (authority.find(':') != std::string_view::npos || !port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (port.empty() || ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) {
            *err = "bad port in URL";
            return false;
        }
        u.port = uint16_t(v);
    }
    u.host = std::string(host);
    size_t frag = rest.find('#');
    if (frag != std::string_view::npos) rest = rest.substr(0, frag);
    if (rest.empty()) u.target = "/";
    else if (rest.front() == '?') u.target = "/" + std::string(rest);
    else u.target = std::string(rest);
    *out = std::move(u);
    return true;
}

struct HttpClientRequest::Impl final : HttpResponseHandler {
    uv_loop_t* loop = nullptr;
    Resolver* resolver = nullptr;
    HttpClientOptions opts;
    Callback cb;
    HttpClientResult result;
    uv_timer_t timer{};
    HttpConnection* conn = nullptr;
    Resolver::RequestId resolve_id = 0;
    uint64_t started_at = 0;
    bool starting = false;
    bool done = false;      // result is final
    bool delivered = false;
    bool cancelled = false;
    bool timer_closed = false;

    void begin();
    void on_resolved(int status, const std::vector<SocketAddress>& addrs);
    void finish(HttpError err, std::string detail);
    void deliver();
    void cancel();
    static void on_timer(uv_timer_t* t) noexcept;

    void on_response_head(const HttpResponseHead& head) override {
        result.status = head.status;
        result.headers = head.headers;
    }
    bool on_response_body(std::string_view data) override {
        size_t room = opts.max_body_bytes > result.body.size() ? opts.max_body_bytes - result.body.size() : 0;
        if (data.size() > room) result.body_cut = true;
        result.body.append(data.substr(0, room));
        return true;
    }
    void on_response_complete() override { finish(HttpError::None, {}); }
    void on_response_error(HttpError err) override { finish(err, conn ? conn->error_detail() : std::string()); }
};

std::unique_ptr<HttpClientRequest> HttpClientRequest::start(uv_loop_t* loop, Resolver* resolver,
                                                            HttpClientOptions opts, Callback cb) {
    auto* impl = new Impl;
    impl->loop = loop;
    impl->resolver = resolver;
    impl->opts = std::move(opts);
    impl->cb = std::move(cb);
    impl->started_at = uv_now(loop);
    uv_timer_init(loop, &impl->timer);
    impl->timer.data = impl;
    std::unique_ptr<HttpClientRequest> handle(new HttpClientRequest(impl));
    impl->starting = true;
    if (impl->opts.total_timeout_ms) uv_timer_start(&impl->timer, &Impl::on_timer, impl->opts.total_timeout_ms, 0);
    impl->begin();
    impl->starting = false;
    if (impl->done) uv_timer_start(&impl->timer, &Impl::on_timer, 0, 0);  // deliver on the next loop turn
    return handle;
}

void HttpClientRequest::Impl::begin() {
    if (opts.tls && !opts.tls_context) {
        finish(HttpError::TlsError, "https request without a TLS context");
        return;
    }
    resolve_id = resolver->resolve(opts.host, opts.port, AF_UNSPEC,
                                   [this](int status, const std::vector<SocketAddress>& addrs) {
                                       resolve_id = 0;
                                       on_resolved(status, addrs);
                                   });
}

void HttpClientRequest::Impl::on_resolved(int status, const std::vector<SocketAddress>& addrs) {
    if (done) return;
    if (status != 0 || addrs.empty()) {
        finish(HttpError::ResolveError, "resolving '" + opts.host + "': " + resolve_status_string(status));
        return;
    }
    HttpConnectionOptions co;
    co.connect_timeout_ms = opts.connect_timeout_ms;
    co.first_byte_timeout_ms = opts.first_byte_timeout_ms;
    co.idle_timeout_ms = opts.idle_timeout_ms;
    co.max_response_header_bytes = opts.max_response_header_bytes;
    if (opts.tls) {
        co.tls = opts.tls_context;
        co.tls_server_name = opts.host;
    }
    conn = HttpConnection::create(loop, addrs.front(), co);
    HttpHeaders headers = opts.headers;
    if (!find_header(headers, "host")) {
        bool v6 = opts.host.find(':') != std::string::npos;
        std::string h = v6 ? "[" + opts.host + "]" : opts.host;
        if (opts.port != (opts.tls ? 443 : 80)) h += ":" + std::to_string(opts.port);
        headers.insert(headers.begin(), HttpHeader{"Host", std::move(h)});
    }
    // One exchange only: tell the server not to keep the connection for us.
    if (!find_header(headers, "connection")) headers.push_back(HttpHeader{"Connection", "close"});
    HttpRequest req;
    req.method = opts.method;
    req.target = opts.target;
    req.headers = &headers;
    req.body = opts.body;
    conn->send(req, this);
}

void HttpClientRequest::Impl::finish(HttpError err, std::string detail) {
    if (done) return;
    done = true;
    result.error = err;
    result.detail = std::move(detail);
    result.elapsed_ms = uv_now(loop) - started_at;
    if (conn) {
        conn->close();
        conn = nullptr;
    }
    if (!starting) deliver();
}

void HttpClientRequest::Impl::deliver() {
    if (delivered || cancelled) return;
    delivered = true;
    uv_timer_stop(&timer);
    Callback c = std::move(cb);
    cb = nullptr;
    c(result);  // may destroy the handle, which calls cancel(): nothing of `this` is used after this line
}

void HttpClientRequest::Impl::on_timer(uv_timer_t* t) noexcept {
    auto* self = static_cast<Impl*>(t->data);
    if (self->cancelled) return;
    if (!self->done) {
        HttpError e = HttpError::TimeoutConnect;
        if (self->conn && self->conn->state() == HttpConnection::State::Busy)
            e = self->conn->response_started() ? HttpError::TimeoutIdle : HttpError::TimeoutFirstByte;
        self->finish(e, "no complete response within " + std::to_string(self->opts.total_timeout_ms) + " ms");
        return;
    }
    self->deliver();
}

void HttpClientRequest::Impl::cancel() {
    cancelled = true;
    cb = nullptr;
    if (resolve_id) resolver->cancel(resolve_id);
    resolve_id = 0;
    if (conn) {
        conn->close();
        conn = nullptr;
    }
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), [](uv_handle_t* h) { delete static_cast<Impl*>(h->data); });
}

HttpClientRequest::~HttpClientRequest() { impl_->cancel(); }

} // namespace shared
