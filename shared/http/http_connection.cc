#include "shared/http/http_connection.h"

#include "shared/tls/tls_client_session.h"

#include <algorithm>
#include <cstring>

namespace shared {

namespace {
// One read buffer per thread: every read is fully processed (parsed, body handed on) before the next one.
constexpr size_t kReadBufSize = 64 * 1024;
thread_local char t_read_buf[kReadBufSize];
thread_local char t_plain_buf[kReadBufSize];

bool method_expects_body(std::string_view m) {
    return m == "POST" || m == "PUT" || m == "PATCH";
}

HttpError connect_error(int status) {
    switch (status) {
    case UV_ETIMEDOUT:
        return HttpError::TimeoutConnect;
    case UV_ECONNRESET:
        return HttpError::Reset;
    default:
        return HttpError::Refused; // ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL...
    }
}
} // namespace

struct HttpConnection::Parser final : ResponseParser::Listener {
    HttpConnection* conn;
    ResponseParser parser;
    bool complete = false;
    Parser(HttpConnection* c, size_t max_header) : conn(c), parser(max_header) {}
    bool on_head(const HttpResponseHead& head) override {
        if (!conn->handler_) return false;
        conn->handler_->on_response_head(head);
        return conn->state_ != State::Closed && conn->handler_;
    }
    bool on_interim(const HttpResponseHead& head) override {
        if (!conn->handler_) return false;
        conn->handler_->on_response_interim(head);
        return conn->state_ != State::Closed && conn->handler_;
    }
    bool on_body(std::string_view data) override {
        if (!conn->handler_) return false;
        bool more = conn->handler_->on_response_body(data);
        if (conn->state_ == State::Closed || !conn->handler_) return false;
        if (!more) conn->pause();
        return true;
    }
    void on_complete() override { complete = true; }
};

struct HttpConnection::WriteReq {
    uv_write_t req{};
    std::string data;
    HttpConnection* conn = nullptr;
    bool is_request = false;
};

HttpConnection* HttpConnection::create(uv_loop_t* loop, const SocketAddress& peer, const HttpConnectionOptions& opts) {
    return new HttpConnection(loop, peer, opts);
}

HttpConnection::HttpConnection(uv_loop_t* loop, const SocketAddress& peer, const HttpConnectionOptions& opts)
    : loop_(loop), peer_(peer), opts_(opts) {
    uv_tcp_init(loop_, &tcp_);
    tcp_.data = this;
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    open_handles_ = 2;
    parser_ = std::make_unique<Parser>(this, opts_.max_response_header_bytes);
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::send(const HttpRequest& req, HttpResponseHandler* handler) {
    if (state_ != State::New && state_ != State::Idle) return; // precondition violated: ignore, never crash
    handler_ = handler;
    idle_listener_ = nullptr;
    head_request_ = req.method == "HEAD";
    request_written_ = response_started_ = false;
    first_byte_ms_ = 0;
    detail_.clear();
    parser_->complete = false;
    parser_->parser.reset(parser_.get(), head_request_);

    std::string& r = request_bytes_;
    r.clear();
    r.reserve(64 + req.target.size() + req.body.size() + (req.headers ? req.headers->size() * 48 : 0));
    r.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
    if (req.headers) {
        for (const auto& h : *req.headers) {
            // The framing of the body we send is ours to state; a stale caller value would desync the origin.
            if (header_name_equals(h.name, "content-length") || header_name_equals(h.name, "transfer-encoding"))
                continue;
            r.append(h.name).append(": ").append(h.value).append("\r\n");
        }
    }
    if (!req.body.empty() || method_expects_body(req.method))
        r.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
    r.append("\r\n");
    r.append(req.body);

    if (state_ == State::New) {
        state_ = State::Connecting;
        phase_ = Phase::Connect;
        arm_timer(opts_.connect_timeout_ms);
        int rc = uv_tcp_connect(&connect_req_, &tcp_, peer_.sa(), &HttpConnection::on_connect_cb);
        if (rc != 0) {
            detail_ = std::string("connect: ") + uv_err_name(rc);
            pending_error_ = connect_error(rc);
            arm_timer(0);
        }
        return;
    }
    state_ = State::Busy;
    if (broken_) {
        // The pooled connection died between its last response and now: report it like a reset.
        detail_ = "connection closed by the peer while idle";
        pending_error_ = HttpError::Reset;
        arm_timer(0);
        return;
    }
    write_request();
}

void HttpConnection::on_connect_cb(uv_connect_t* req, int status) noexcept {
    static_cast<HttpConnection*>(req->handle->data)->on_connected(status);
}

void HttpConnection::on_connected(int status) {
    if (state_ != State::Connecting || pending_error_ != HttpError::None) return; // closed meanwhile (ECANCELED)
    if (status < 0) {
        fail(connect_error(status), std::string("connect: ") + uv_err_name(status));
        return;
    }
    uv_tcp_nodelay(&tcp_, 1);
    start_reading();
    if (opts_.tls) {
        tls_ = std::make_unique<TlsClientSession>(opts_.tls, opts_.tls_server_name,
                                                  opts_.tls_server_name + "|" + peer_.to_string());
        if (tls_->start() == TlsClientSession::Status::Error) {
            fail(HttpError::TlsError, tls_->error());
            return;
        }
        if (!flush_tls()) return;
        if (tls_->handshake_done()) connection_ready();
        return; // the handshake continues as the server's bytes arrive
    }
    connection_ready();
}

void HttpConnection::connection_ready() {
    state_ = State::Busy;
    write_request();
}

void HttpConnection::write_request() {
    phase_ = Phase::FirstByte;
    sent_at_ = uv_now(loop_);
    arm_timer(opts_.first_byte_timeout_ms);
    std::string wire;
    if (tls_) {
        if (!tls_->write_plaintext(request_bytes_)) {
            fail(HttpError::TlsError, tls_->error());
            return;
        }
        tls_->take_output(&wire);
    } else {
        wire = std::move(request_bytes_);
    }
    request_bytes_.clear();
    write_wire(std::move(wire), true);
}

bool HttpConnection::write_wire(std::string data, bool is_request) {
    if (data.empty()) {
        if (is_request && request_writes_ == 0) request_written_ = true;
        return true;
    }
    // A request usually fits the socket buffer: written here at once it needs no request object and no completion
    // callback, whose pass through libuv's pending queue also re-armed the socket (an epoll_ctl per origin request).
    // Anything left, or an error, takes the queued path below, which reports errors as it always did.
    // (libuv refuses, UV_EAGAIN, while the TCP connect is in progress or earlier writes are queued.)
    uv_buf_t now = uv_buf_init(data.data(), unsigned(data.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &now, 1);
    if (n == static_cast<int>(data.size())) {
        if (is_request && request_writes_ == 0) request_written_ = true;
        return true;
    }
    if (n > 0) data.erase(0, static_cast<size_t>(n));
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->conn = this;
    w->is_request = is_request;
    uv_buf_t b = uv_buf_init(w->data.data(), unsigned(w->data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, &HttpConnection::on_write_cb);
    if (rc != 0) {
        delete w;
        fail(HttpError::Reset, std::string("write: ") + uv_err_name(rc));
        return false;
    }
    if (is_request) ++request_writes_;
    return true;
}

void HttpConnection::on_write_cb(uv_write_t* req, int status) noexcept {
    auto* w = reinterpret_cast<WriteReq*>(req); // req is the first member
    HttpConnection* c = w->conn;
    bool is_request = w->is_request;
    delete w;
    c->on_write_done(status, is_request);
}

void HttpConnection::on_write_done(int status, bool is_request) {
    if (is_request && request_writes_ > 0) --request_writes_;
    if (state_ == State::Closed) return;
    if (status < 0) {
        // EPIPE / ECONNRESET: the origin went away. If it already answered, the read side reports it.
        if (handler_ && !response_started_) {
            fail(HttpError::Reset, std::string("write: ") + uv_err_name(status));
        } else if (!handler_) {
            idle_broken(); // e.g. a TLS ticket ack failed on a pooled connection
        } else {
            broken_ = true;
            keep_alive_ = false;
        }
        return;
    }
    if (is_request && request_writes_ == 0) request_written_ = true;
}

bool HttpConnection::flush_tls() {
    std::string out;
    if (!tls_ || !tls_->take_output(&out)) return true;
    return write_wire(std::move(out), false);
}

void HttpConnection::start_reading() {
    if (reading_ || paused_ || state_ == State::Closed) return;
    yield_read_ = false; // a yield left pending by a pause in between would cost a turn with nothing read
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &HttpConnection::on_alloc_cb,
                      &HttpConnection::on_read_cb) == 0)
        reading_ = true;
}

void HttpConnection::on_alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* c = static_cast<HttpConnection*>(h->data);
    if (c->yield_read_) {
        // No buffer: libuv ends this turn's reads with UV_ENOBUFS and leaves the socket registered, so the next
        // poll (level-triggered) reports it again.
        c->yield_read_ = false;
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    *buf = uv_buf_init(t_read_buf, kReadBufSize);
}

void HttpConnection::on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
    if (nread == UV_ENOBUFS) return; // a yield (on_alloc_cb): reading goes on next turn
    auto* c = static_cast<HttpConnection*>(s->data); // freed only by its close callbacks, on a later turn
    c->on_read(nread, buf->base);
    c->maybe_yield(nread);
}

// libuv reads a socket again at once while a read fills the buffer, up to 32 times (2 MiB) in one loop turn: a
// fast origin's whole large response was read and stored before the loop went on to wake the session that writes
// it to the viewer, so the viewer's first byte waited for the origin's last (a 1 MiB miss: 4.7 ms against nginx's
// 1.9 ms). After kFullReadsPerTurn full reads the connection yields, and reads on in the next turn, once the rest
// of the loop (the viewers' writes, other connections) had its turn. It yields by giving libuv no buffer for the
// next read, not by stopping and restarting reading: libuv re-registers a restarted socket with epoll, an
// EPOLL_CTL_ADD that fails (EEXIST) and a MOD, plus a zero-timeout poll for the idle handle that restarted it,
// three system calls per 128 KiB of a large miss.
void HttpConnection::maybe_yield(ssize_t nread) {
    constexpr uint8_t kFullReadsPerTurn = 2;
    if (state_ == State::Closed || !reading_ || nread != static_cast<ssize_t>(kReadBufSize)) {
        full_reads_ = 0;
        return;
    }
    if (++full_reads_ < kFullReadsPerTurn) return;
    full_reads_ = 0;
    yield_read_ = true;
}

void HttpConnection::on_read(ssize_t nread, const char* data) {
    if (state_ == State::Closed || nread == 0) return;
    if (nread < 0) {
        if (nread == UV_EOF) {
            handle_eof();
            return;
        }
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        reading_ = false;
        std::string why = std::string("read: ") + uv_err_name(int(nread));
        if (handler_) {
            if (state_ == State::Connecting && tls_)
                fail(HttpError::TlsError, why + " during TLS handshake");
            else
                fail(response_started_ ? HttpError::Truncated : HttpError::Reset, why);
        } else {
            idle_broken();
        }
        return;
    }
    last_read_ = uv_now(loop_);
    if (!tls_) {
        handle_plaintext(data, size_t(nread));
        return;
    }
    bool was_done = tls_->handshake_done();
    if (tls_->feed_ciphertext(data, size_t(nread)) == TlsClientSession::Status::Error) {
        flush_tls();
        if (handler_)
            fail(HttpError::TlsError, tls_->error());
        else
            idle_broken();
        return;
    }
    if (!flush_tls()) return;
    if (!was_done) {
        if (!tls_->handshake_done()) return;
        if (state_ == State::Connecting) connection_ready();
        if (state_ == State::Closed || !handler_) return;
    }
    for (;;) {
        long n = tls_->read_plaintext(t_plain_buf, sizeof t_plain_buf);
        if (n > 0) {
            handle_plaintext(t_plain_buf, size_t(n));
            if (state_ == State::Closed) return;
            continue;
        }
        if (n == 0) break;
        if (tls_->status() == TlsClientSession::Status::Closed) {
            handle_eof();
        } else if (handler_) {
            fail(HttpError::TlsError, tls_->error());
        } else {
            idle_broken();
        }
        return;
    }
    flush_tls(); // TLS 1.3 tickets / key updates may have produced output while reading
}

void HttpConnection::handle_plaintext(const char* data, size_t len) {
    if (!handler_ || state_ != State::Busy) {
        // Bytes nobody asked for: an idle connection in an unknown state is never reused.
        idle_broken();
        return;
    }
    if (!response_started_) {
        response_started_ = true;
        first_byte_ms_ = uv_now(loop_) - sent_at_;
        phase_ = Phase::Body;
        if (!paused_) arm_timer(opts_.idle_timeout_ms);
    }
    size_t consumed = 0;
    auto res = parser_->parser.feed(data, len, &consumed);
    if (state_ == State::Closed) return;
    switch (res) {
    case ResponseParser::Result::NeedMore:
        return;
    case ResponseParser::Result::Aborted:
        return;
    case ResponseParser::Result::Error:
        fail(HttpError::BadResponse, parser_->parser.error_reason());
        return;
    case ResponseParser::Result::Complete:
        // Bytes after the end of the response mean the origin and we disagree on framing: do not reuse.
        if (consumed != len) broken_ = true;
        finish_response();
        return;
    }
}

void HttpConnection::finish_response() {
    keep_alive_ = parser_->parser.keep_alive() && !broken_ && request_written_ && request_writes_ == 0;
    if (!keep_alive_) broken_ = true;
    ++completed_;
    state_ = State::Idle;
    phase_ = Phase::None;
    uv_timer_stop(&timer_);
    HttpResponseHandler* h = handler_;
    handler_ = nullptr;
    // Keep reading while idle so that a close by the peer is noticed before the connection is reused.
    paused_ = false;
    start_reading();
    h->on_response_complete();
}

void HttpConnection::handle_eof() {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
    if (!handler_) {
        idle_broken();
        return;
    }
    if (state_ == State::Connecting) {
        fail(tls_ ? HttpError::TlsError : HttpError::Reset, "connection closed during the TLS handshake");
        return;
    }
    broken_ = true;
    auto res = parser_->parser.finish();
    if (state_ == State::Closed) return;
    if (res == ResponseParser::Result::Complete) {
        finish_response();
        return;
    }
    if (res == ResponseParser::Result::Aborted) return;
    if (!response_started_)
        fail(HttpError::Reset, "connection closed before any response byte");
    else if (parser_->parser.truncated())
        fail(HttpError::Truncated, parser_->parser.error_reason());
    else
        fail(HttpError::BadResponse, parser_->parser.error_reason());
}

void HttpConnection::idle_broken() {
    broken_ = true;
    keep_alive_ = false;
    if (idle_listener_) {
        HttpIdleListener* l = idle_listener_;
        idle_listener_ = nullptr;
        l->on_idle_closed(this);
    }
}

void HttpConnection::fail(HttpError err, std::string detail) {
    if (state_ == State::Closed || !handler_) return;
    if (detail_.empty()) detail_ = std::move(detail);
    broken_ = true;
    keep_alive_ = false;
    uv_timer_stop(&timer_);
    phase_ = Phase::None;
    if (reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        reading_ = false;
    }
    HttpResponseHandler* h = handler_;
    handler_ = nullptr;
    h->on_response_error(err);
}

void HttpConnection::arm_timer(uint64_t ms) {
    uv_timer_start(&timer_, &HttpConnection::on_timer_cb, ms, 0);
}

void HttpConnection::on_timer_cb(uv_timer_t* t) noexcept {
    static_cast<HttpConnection*>(t->data)->on_timer();
}

void HttpConnection::on_timer() {
    if (state_ == State::Closed) return;
    if (pending_error_ != HttpError::None) {
        HttpError e = pending_error_;
        pending_error_ = HttpError::None;
        fail(e, detail_);
        return;
    }
    switch (phase_) {
    case Phase::Connect:
        fail(HttpError::TimeoutConnect, "no connection within " + std::to_string(opts_.connect_timeout_ms) + " ms");
        return;
    case Phase::FirstByte:
        fail(HttpError::TimeoutFirstByte,
             "no response byte within " + std::to_string(opts_.first_byte_timeout_ms) + " ms");
        return;
    case Phase::Body: {
        if (paused_) return;
        // uv_now is cached per tick: re-arm for the remainder instead of restarting the timer on every read.
        uint64_t now = uv_now(loop_);
        uint64_t idle = now - last_read_;
        if (idle >= opts_.idle_timeout_ms) {
            fail(HttpError::TimeoutIdle, "no response byte for " + std::to_string(opts_.idle_timeout_ms) + " ms");
            return;
        }
        arm_timer(opts_.idle_timeout_ms - idle);
        return;
    }
    case Phase::Parked:
        idle_broken();
        return;
    case Phase::None:
        return;
    }
}

void HttpConnection::pause() {
    if (paused_ || state_ == State::Closed) return;
    paused_ = true;
    if (reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        reading_ = false;
    }
    if (phase_ == Phase::Body) uv_timer_stop(&timer_);
}

void HttpConnection::resume() {
    if (!paused_ || state_ == State::Closed) return;
    paused_ = false;
    if (state_ == State::Busy || state_ == State::Idle) start_reading();
    if (phase_ == Phase::Body) {
        last_read_ = uv_now(loop_);
        arm_timer(opts_.idle_timeout_ms);
    }
}

void HttpConnection::park(HttpIdleListener* listener, uint32_t idle_ms) {
    if (state_ != State::Idle) return;
    idle_listener_ = listener;
    phase_ = Phase::Parked;
    arm_timer(idle_ms);
    start_reading();
}

void HttpConnection::close() {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    handler_ = nullptr;
    idle_listener_ = nullptr;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &HttpConnection::on_close_cb);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &HttpConnection::on_close_cb);
}

void HttpConnection::on_close_cb(uv_handle_t* h) noexcept {
    auto* c = static_cast<HttpConnection*>(h->data);
    if (--c->open_handles_ == 0) delete c;
}

} // namespace shared
