#include "edge/server/client_conn.h"

#include <strings.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "edge/server/conn_buffer_pool.h"
#include "shared/log/log.h"
#include "shared/net/listen_socket.h"

namespace edge {
namespace {
constexpr size_t kReadBufferBytes = ConnBufferPool::kReadBufferBytes;
// TLS: ciphertext read at once (a full record and its header), and how much ciphertext may wait in uv writes
// before more plaintext is encrypted (the rest waits as references into the response's own buffers).
constexpr size_t kTlsReadBytes = (16 << 10) + 512;
constexpr size_t kTlsFlightBytes = 64 << 10;
constexpr size_t kTlsRecordBytes = 16 << 10;

// Per worker thread, not per connection: ciphertext is handed to the SSL in the read callback that follows the
// allocation (libuv calls them back to back), and small pieces are gathered for one SSL_write; neither outlives the
// call, so an idle TLS connection holds neither.
struct TlsScratch {
    char in[kTlsReadBytes];
    char gather[kTlsRecordBytes];
};
TlsScratch& tls_scratch() {
    thread_local TlsScratch s;
    return s;
}
constexpr size_t kMaxFreeWriteReqs = 256;
constexpr size_t kMaxBigWriteReqs = 16;
constexpr size_t kBigWriteBytes = kTlsRecordBytes + 1024;
} // namespace

ClientConn::ClientConn(ConnSet* set, RequestHandler* handler, const ConnSettings& settings)
    : set_(set), handler_(handler), settings_(settings), parser_(settings.limits) {}

ClientConn::~ClientConn() {
    release_source(); // (close() or refuse() did, on every path there is)
    ConnBufferPool& pool = ConnBufferPool::local();
    pool.give_read_buffer(in_);
    pool.give_head(head_);
}

std::string& ClientConn::head_buffer() {
    if (head_.capacity() < ConnBufferPool::kHeadBytes) ConnBufferPool::local().take_head(head_);
    return head_;
}

void ClientConn::take_in() {
    if (in_) return;
    in_ = ConnBufferPool::local().take_read_buffer();
    in_start_ = in_end_ = 0;
}

void ClientConn::give_back_idle() {
    if (processing_) return;
    // Closing: nothing reads the buffer any more (a burst of viewers leaving at once must not hold a buffer each
    // until their close callbacks run).
    if (in_ && (in_start_ == in_end_ || closing_)) {
        ConnBufferPool::local().give_read_buffer(in_);
        in_ = nullptr;
        in_start_ = in_end_ = 0;
    }
    // (A session that holds a closed connection may still log its request: the parser keeps it until then.)
    if (!closing_ && !in_request_ && !parser_.in_message() && !parser_.headers_done() && !h2_)
        parser_.release_storage();
}

ClientConn* ClientConn::accept(uv_stream_t* server, ConnSet* set, RequestHandler* handler,
                               const ConnSettings& settings) {
    auto* c = new ClientConn(set, handler, settings);
    uv_tcp_init(server->loop, &c->tcp_);
    c->tcp_.data = c;
    c->open_handles_ = 1;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
        c->closing_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), on_close);
        return nullptr;
    }
    return c;
}

bool ClientConn::count_source(uint32_t limit) {
    shared::SourceConnLimit* sources = set_->sources();
    if (!sources) return true;
    sockaddr_storage ss;
    if (!shared::accepted_peer(&tcp_, &ss) ||
        !shared::PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), &source_))
        return true; // no address to count it under (the viewer is gone already: it ends at its first read)
    source_known_ = true;
    switch (sources->acquire(source_, limit)) {
    case shared::SourceConnLimit::Admit::refused:
        return false;
    case shared::SourceConnLimit::Admit::counted:
        source_counted_ = true;
        return true;
    case shared::SourceConnLimit::Admit::uncounted:
        return true;
    }
    return true;
}

void ClientConn::release_source() {
    if (!source_counted_) return;
    source_counted_ = false;
    set_->sources()->release(source_);
}

void ClientConn::refuse() {
    release_source();
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
}

void ClientConn::start(const std::shared_ptr<shared::TlsServerContext>* tls, bool input_waiting) {
    if (tls && *tls) {
        tls_ = std::make_unique<ViewerTls>(*tls);
        parser_.set_secure(true); // the viewer protocol policy reads it
    } else {
        h2c_possible_ = settings_.http2.enabled && settings_.http2.h2c;
    }
    uv_loop_t* loop = tcp_.loop;
    uv_timer_init(loop, &timer_);
    timer_.data = this;
    open_handles_ = 2;
    // (TCP_NODELAY: inherited from the listener, shared/net/listen_socket.h; the peer's address: peer_ip_text.)
    id_ = set_->next_id();
    set_->add(this);
    handler_->on_conn_open();
    last_activity_ms_ = uv_now(loop);
    if (tls_) {
        if (!tls_->ok()) return close();
        // The handshake has its own deadline (limits.handshake_timeout), then the request headers theirs.
        request_begun_ = true;
        request_start_ms_ = last_activity_ms_;
    }
    start_reading();
    arm_timer();
    // Reading was started above, so the fd is registered with epoll only at the loop's next poll: a request read and
    // answered here, its connection closed, never costs the epoll_ctl/epoll_wait round trip.
    if (input_waiting) read_now();
}

std::string_view ClientConn::peer_ip_text() const {
    if (peer_asked_) return peer_ip_;
    peer_asked_ = true;
    if (source_known_) {
        char buf[46];
        source_.write_text(buf);
        peer_ip_ = buf;
        return peer_ip_;
    }
    sockaddr_storage ss;
    if (shared::accepted_peer(&tcp_, &ss)) {
        if (auto a = shared::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss))) peer_ip_ = a->ip_string();
    }
    return peer_ip_;
}

void ClientConn::read_now() {
    uv_os_fd_t fd = -1;
    if (!reading_ || uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return;
    auto* s = reinterpret_cast<uv_stream_t*>(&tcp_);
    uv_buf_t buf;
    on_alloc(reinterpret_cast<uv_handle_t*>(&tcp_), kReadBufferBytes, &buf);
    ssize_t n;
    do
        n = ::recv(fd, buf.base, buf.len, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        n = UV_EOF;
    } else if (n < 0) {
        n = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : uv_translate_sys_error(errno);
    }
    on_read(s, n, &buf);
}

void ClientConn::start_reading() {
    if (reading_ || closing_ || eof_) return;
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read) == 0) reading_ = true;
}

void ClientConn::stop_reading() {
    if (!reading_) return;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
}

void ClientConn::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* c = static_cast<ClientConn*>(h->data);
    if (c->tls_) {
        *buf = uv_buf_init(tls_scratch().in, static_cast<unsigned>(kTlsReadBytes));
        return;
    }
    c->take_in(); // only now: an idle connection holds no read buffer
    if (c->in_start_ == c->in_end_ || c->lingering_) c->in_start_ = c->in_end_ = 0;
    if (c->in_end_ == kReadBufferBytes && c->in_start_ > 0) {
        std::memmove(c->in_, c->in_ + c->in_start_, c->in_end_ - c->in_start_);
        c->in_end_ -= c->in_start_;
        c->in_start_ = 0;
    }
    *buf = uv_buf_init(c->in_ + c->in_end_, static_cast<unsigned>(kReadBufferBytes - c->in_end_));
}

void ClientConn::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
    auto* c = static_cast<ClientConn*>(s->data);
    if (nread == UV_ENOBUFS) {
        // Pipelined requests filled the buffer while one is answered: read again once it is consumed.
        c->stop_reading();
        return;
    }
    if (nread < 0) {
        if (c->tls_ && !c->closing_ && !c->lingering_) c->tls_count_transport_end(nread);
        c->on_read_end(nread);
        c->give_back_idle();
        return;
    }
    if (nread == 0) {
        c->give_back_idle(); // EAGAIN: the buffer libuv asked for was not used
        return;
    }
    if (c->tls_) {
        c->tls_on_ciphertext(buf->base, static_cast<size_t>(nread));
        c->give_back_idle();
        return;
    }
    uint64_t now = uv_now(c->loop());
    c->last_activity_ms_ = now;
    if (c->lingering_) { // drained and discarded
        c->in_start_ = c->in_end_ = 0;
        c->give_back_idle();
        return;
    }
    if (!c->in_request_ && !c->request_begun_) {
        // header_timeout is a deadline from this byte: blank lines or a dribbled request do not move it.
        c->request_begun_ = true;
        c->request_start_ms_ = now;
    }
    c->in_end_ += static_cast<size_t>(nread);
    if (c->in_end_ == kReadBufferBytes) c->stop_reading();
    c->input_drained_ = static_cast<size_t>(nread) < buf->len;
    c->process_input();
    c->input_drained_ = false;
    c->give_back_idle();
}

void ClientConn::on_read_end(ssize_t nread) {
    stop_reading();
    if (lingering_) {
        close(); // the viewer finished sending (or reset): nothing left to lose
        return;
    }
    if (nread == UV_EOF && in_request_) {
        // Half-close after sending the request: still answer it, then close.
        eof_ = true;
        keep_alive_ = false;
        return;
    }
    if (nread == UV_EOF && in_start_ != in_end_) {
        eof_ = true;
        process_input();
        if (!in_request_) close();
        return;
    }
    close();
}

void ClientConn::tls_on_ciphertext(const char* data, size_t len) {
    // One write for everything this input causes: a full handshake with a request in its last flight (as browsers
    // and s_time send it) answers with session tickets, the response and, for a closing one, close_notify, which
    // were four writes (each a syscall and, on loopback, a wakeup of the viewer) and are one now.
    tls_corked_ = true;
    tls_on_ciphertext_corked(data, len);
    tls_corked_ = false;
    if (closing_ || !tls_) return; // (answer_plain_http drops the TLS side: its answer is plain)
    tls_flush_output();
    std::string& out = tls_->output();
    if (!in_request_ && out.empty() && out.capacity() > kTlsRecordBytes + 1024) std::string().swap(out);
}

void ClientConn::tls_on_ciphertext_corked(const char* data, size_t len) {
    uint64_t now = uv_now(loop());
    last_activity_ms_ = now;
    if (lingering_) return; // drained and discarded
    bool was_done = tls_->handshake_done();
    ViewerTls::Status st = tls_->feed(data, len);
    tls_flush_output(); // handshake records, alerts, session tickets
    if (closing_) return;
    if (st == ViewerTls::Status::error) {
        // Plain HTTP or garbage on the TLS port, no common version or cipher, an unknown name without a default.
        shared::log::debug("edge", "TLS handshake failed",
                           {{"client", peer_ip_text()},
                            {"reason", tls_handshake_failure_name(tls_->failure())},
                            {"detail", tls_->error_reason()}});
        if (!tls_->handshake_done() && tls_->failure() == TlsHandshakeFailure::http_request) {
            answer_plain_http();
            return;
        }
        close();
        return;
    }
    if (!tls_->handshake_done()) return;
    if (!was_done) {
        // From here on the header timeout counts from the first byte of a request, as on plain HTTP.
        request_begun_ = false;
        if (tls_->alpn() == "h2") {
            start_h2();
            if (closing_) return;
        }
        arm_timer();
    }
    if (!in_request_) {
        process_input(); // pulls the plaintext (tls_pull) and parses it
    } else {
        tls_pull(); // a response is in progress: take what fits, parse once it is done
    }
    if (closing_) return;
    if (!in_request_ && !request_begun_ && !lingering_ && tls_->partial_record()) {
        // Half a record is a request begun: header_timeout bounds it from its first byte, so a viewer dribbling
        // a record (or stopping mid-record) cannot hold the connection by the keep-alive timeout alone.
        request_begun_ = true;
        request_start_ms_ = now;
        arm_timer();
    }
}

void ClientConn::tls_count_transport_end(ssize_t nread) {
    ViewerTlsStats& st = viewer_tls_stats();
    if (!tls_->handshake_done()) {
        st.count(TlsHandshakeFailure::closed);
    } else if (nread != UV_EOF) {
        if (in_request_ || phase() != Phase::idle) st.count(TlsConnectionError::reset);
    } else if (in_request_ && !eof_) {
        st.count(TlsConnectionError::eof_mid_response);
    }
}

void ClientConn::answer_plain_http() {
    // nginx's answer to plain HTTP on an HTTPS port (its 497, sent as 400): the viewer gets a readable reason
    // instead of a reset. The connection speaks plain HTTP for this one answer, then lingers (the rest of the
    // request is read and discarded) and closes.
    tls_.reset();
    in_start_ = in_end_ = 0;
    in_request_ = true;
    response_ended_ = false;
    keep_alive_ = false;
    rejected_ = true;
    handler_->reject(*this, 400, "The plain HTTP request was sent to HTTPS port");
}

bool ClientConn::tls_pull() {
    bool got = false;
    while (!closing_) {
        take_in();
        if (in_start_ == in_end_) in_start_ = in_end_ = 0;
        if (in_end_ == kReadBufferBytes && in_start_ > 0) {
            std::memmove(in_, in_ + in_start_, in_end_ - in_start_);
            in_end_ -= in_start_;
            in_start_ = 0;
        }
        if (in_end_ == kReadBufferBytes) {
            stop_reading(); // read on once the parser consumed some (process_input)
            break;
        }
        long r = tls_->read(in_ + in_end_, kReadBufferBytes - in_end_);
        if (r > 0) {
            if (!in_request_ && !request_begun_) {
                request_begun_ = true;
                request_start_ms_ = uv_now(loop());
            }
            in_end_ += static_cast<size_t>(r);
            got = true;
            continue;
        }
        if (r == 0) break;
        if (r == -1) {
            // close_notify: the viewer sends nothing more, as a TCP half-close says.
            if (!eof_) {
                bool busy = processing_;
                stop_reading();
                if (in_request_) {
                    eof_ = true;
                    keep_alive_ = false;
                } else if (!busy) {
                    on_read_end(UV_EOF);
                } else {
                    eof_ = true;
                }
            }
            break;
        }
        shared::log::debug("edge", "TLS read failed", {{"client", peer_ip_text()}, {"reason", tls_->error_reason()}});
        close();
        break;
    }
    return got;
}

void ClientConn::start_h2() {
    h2c_possible_ = false;
    // The viewer's preface and SETTINGS must arrive within header_timeout, as a request's headers would.
    request_begun_ = false;
    request_start_ms_ = uv_now(loop());
    h2_ = std::make_unique<H2Session>(*this, handler_, H2Limits{settings_.http2, settings_.limits}, tls_ != nullptr);
    if (!h2_->start()) close();
}

bool ClientConn::detect_h2c() {
    // RFC 9113 §3.3: a client that knows the server speaks HTTP/2 sends the preface straight away.
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t avail = in_end_ - in_start_;
    if (avail == 0) return true;
    size_t k = std::min(avail, kPreface.size());
    if (std::memcmp(in_ + in_start_, kPreface.data(), k) != 0) {
        h2c_possible_ = false; // HTTP/1.1 (the preface's "PRI" method is no request the edge answers)
        return true;
    }
    if (k < kPreface.size()) return false;
    start_h2();
    return true;
}

void ClientConn::h2_process_input() {
    for (;;) {
        if (in_start_ < in_end_) {
            // nghttp2 takes every byte (it keeps partial frames itself), so in_ is free again right away.
            size_t n = in_end_ - in_start_;
            size_t off = in_start_;
            in_start_ = in_end_ = 0;
            h2_->on_input(in_ + off, n);
        }
        if (closing_ || input_paused_ || close_after_write_) break;
        if (!tls_ || !tls_pull()) break;
    }
    if (closing_) return;
    if (eof_) {
        close();
        return;
    }
    if (!input_paused_ && !close_after_write_) start_reading();
    arm_timer();
}

void ClientConn::pause_input(bool paused) {
    if (input_paused_ == paused || closing_) return;
    input_paused_ = paused;
    if (paused) {
        stop_reading();
    } else {
        start_reading();
        process_input(); // TLS: plaintext the SSL still holds
    }
}

void ClientConn::close_transport() {
    if (closing_ || lingering_) return;
    if (!output_pending()) {
        h2_finish();
        return;
    }
    close_after_write_ = true; // on_write closes once the queue is written (the send timeout bounds the wait)
    stop_reading();
}

void ClientConn::h2_finish() {
    // The GOAWAY is written; a viewer still sending (a flood) would make close() send RST, which can destroy the
    // GOAWAY before it is read: linger as after an HTTP/1.1 answer.
    if (eof_ || drain_ || settings_.lingering_time_ms == 0) {
        close();
        return;
    }
    start_linger();
}

void ClientConn::process_input() {
    if (processing_ || lingering_) return;
    processing_ = true;
    if (tls_) tls_pull();
    if (h2c_possible_ && !h2_ && !detect_h2c()) {
        processing_ = false; // the rest of what may be the preface is still to come
        if (closing_) return;
        if (in_end_ < kReadBufferBytes) start_reading();
        arm_timer();
        return;
    }
    if (h2_) {
        h2_process_input();
        processing_ = false;
        return;
    }
    for (;;) {
        while (!in_request_ && !closing_ && in_start_ < in_end_) {
            auto r = parser_.feed(in_ + in_start_, in_end_ - in_start_);
            in_start_ += r.consumed;
            if (in_start_ == in_end_) in_start_ = in_end_ = 0;
            if (r.status == RequestParser::Status::need_more) {
                maybe_send_continue();
                break;
            }
            in_request_ = true;
            response_ended_ = false;
            if (r.status == RequestParser::Status::complete) {
                const HttpRequest& req = parser_.request();
                keep_alive_ = req.keep_alive && !drain_ && !eof_;
                handler_->handle(*this, req);
            } else {
                keep_alive_ = false;
                rejected_ = true;
                handler_->reject(*this, parser_.error_status(), parser_.error_reason());
            }
            if (in_request_ || lingering_) break; // answered later; maybe_finish_response() continues the loop
            request_begun_ = in_start_ < in_end_;
            if (request_begun_) request_start_ms_ = uv_now(loop());
        }
        // TLS: the SSL may hold more plaintext than in_ took.
        if (!tls_ || in_request_ || closing_ || lingering_ || !tls_pull()) break;
    }
    processing_ = false;
    if (closing_ || lingering_) return;
    if (!in_request_) {
        if (eof_) {
            close();
            return;
        }
        if (in_end_ < kReadBufferBytes) start_reading();
        arm_timer();
    }
}

void ClientConn::maybe_send_continue() {
    // RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" may wait for this before sending the body.
    if (continue_sent_ || !parser_.headers_done() || parser_.request().version_minor == 0) return;
    std::string_view expect = parser_.request().header("expect");
    if (expect.size() != 12 || strncasecmp(expect.data(), "100-continue", 12) != 0) return;
    continue_sent_ = true;
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init(const_cast<char*>(kContinue), sizeof kContinue - 1);
    queue(&b, 1);
}

ClientConn::Phase ClientConn::phase() const {
    if (lingering_) return Phase::linger;
    if (h2_) {
        if (!h2_->preface_received()) return Phase::header;
        return h2_->active_streams() > 0 || output_pending() ? Phase::response : Phase::idle;
    }
    if (in_request_) return Phase::response;
    if (parser_.headers_done()) return Phase::body;
    if (request_begun_ || parser_.in_message() || in_start_ != in_end_) return Phase::header;
    return Phase::idle;
}

uint64_t ClientConn::deadline(Phase ph, uint64_t now) const {
    switch (ph) {
    case Phase::idle:
        return last_activity_ms_ + settings_.keepalive_timeout_ms;
    case Phase::header:
        if (tls_ && !tls_->handshake_done()) return request_start_ms_ + settings_.handshake_timeout_ms;
        return request_start_ms_ + settings_.header_timeout_ms;
    case Phase::body:
        return last_activity_ms_ + settings_.body_timeout_ms;
    case Phase::response: {
        // HTTP/2: the requests still arriving on the connection's streams have the header and body timeouts.
        uint64_t arrival =
            h2_ ? h2_->arrival_deadline(settings_.header_timeout_ms, settings_.body_timeout_ms) : UINT64_MAX;
        // While the response is produced and nothing waits for the socket, the exchange has its own timeouts.
        if (output_pending()) return std::min(arrival, last_write_ms_ + settings_.send_timeout_ms);
        // HTTP/2: response bytes the viewer's flow-control windows hold back count as unsent.
        if (h2_ && h2_->blocked()) return std::min(arrival, h2_->last_progress_ms() + settings_.send_timeout_ms);
        return std::min(arrival, now + settings_.keepalive_timeout_ms);
    }
    case Phase::linger:
        return std::min(linger_start_ms_ + settings_.lingering_time_ms,
                        last_activity_ms_ + settings_.lingering_timeout_ms);
    }
    return now;
}

void ClientConn::arm_timer() {
    if (closing_) return;
    timer_by(deadline(phase(), uv_now(loop())));
}

void ClientConn::timer_by(uint64_t deadline_ms) {
    // Re-arm on fire (STYLE.md, idle timers): a keep-alive request only moves last_activity_ms_; the timer, armed
    // for an earlier deadline, fires and re-arms itself for the remainder. uv_timer_start per request is a heap
    // removal plus insertion on every hit; here it happens only when a deadline moves earlier (a request that
    // arrives in pieces gets the shorter header timeout).
    if (timer_armed_ && timer_due_ms_ <= deadline_ms) return;
    uint64_t now = uv_now(loop());
    uint64_t delay = deadline_ms > now ? deadline_ms - now : 0;
    uv_timer_start(&timer_, on_timer, delay, 0);
    timer_armed_ = true;
    timer_due_ms_ = now + delay;
}

void ClientConn::on_timer(uv_timer_t* t) noexcept {
    auto* c = static_cast<ClientConn*>(t->data);
    c->timer_armed_ = false;
    if (c->closing_) return;
    uint64_t now = uv_now(c->loop());
    Phase ph = c->phase();
    uint64_t due = c->deadline(ph, now);
    if (now < due) {
        c->timer_by(due);
        return;
    }
    switch (ph) {
    case Phase::linger:
        c->close();
        return;
    case Phase::idle:
        if (c->h2_) {
            c->h2_->close_idle(); // GOAWAY first, so the viewer knows no stream was lost
            if (!c->closing_) c->arm_timer();
            return;
        }
        c->close();
        return;
    case Phase::header:
    case Phase::body:
        if (c->h2_) {
            shared::log::debug("edge", "HTTP/2 preface timed out", {{"client", c->peer_ip_text()}});
            c->close();
            return;
        }
        if (c->tls_ && !c->tls_->handshake_done()) {
            // A handshake that never finishes: nothing can be answered on it.
            viewer_tls_stats().count(TlsHandshakeFailure::timeout);
            shared::log::debug("edge", "TLS handshake timed out", {{"client", c->peer_ip_text()}});
            c->close();
            return;
        }
        if (c->tls_ && c->tls_->partial_record()) {
            viewer_tls_stats().count(TlsConnectionError::stalled_record);
            shared::log::debug("edge", "TLS record stalled", {{"client", c->peer_ip_text()}});
        }
        // Slowloris (headers, or blank lines, that never end) or a stalled upload.
        c->in_request_ = true;
        c->response_ended_ = false;
        c->keep_alive_ = false;
        c->no_linger_ = true;
        c->stop_reading();
        c->handler_->reject(*c, 408, ph == Phase::header ? "request headers timed out" : "request body timed out");
        return;
    case Phase::response:
        if (c->h2_ && c->h2_->arrival_deadline(c->settings_.header_timeout_ms, c->settings_.body_timeout_ms) <= now) {
            c->h2_->expire_arrivals(now, c->settings_.header_timeout_ms, c->settings_.body_timeout_ms);
            if (!c->closing_) c->arm_timer();
            return;
        }
        if (c->output_pending() && c->sent_.sample(&c->tcp_)) {
            // No write completed, but the viewer acknowledged bytes: it reads, slower than the kernel's send
            // buffer drains to the point where libuv may write again. Still served.
            c->last_write_ms_ = now;
            c->arm_timer();
            return;
        }
        // nginx's send_timeout: the viewer stopped reading; its buffers and descriptors go back.
        shared::log::debug("edge", "send timeout", {{"client", c->peer_ip_text()}});
        if (c->tls_) viewer_tls_stats().count(TlsConnectionError::send_timeout);
        c->abort();
        return;
    }
}

// The worker's idle write requests (a request is only needed while its bytes wait for the socket): freed with the
// thread, and bounded as ConnBufferPool is.
struct ClientConn::WriteReqPool {
    WriteReq* head = nullptr;
    size_t count = 0;
    size_t big = 0; // requests whose buffer is larger than a TLS record
    static WriteReqPool& local() {
        thread_local WriteReqPool p;
        return p;
    }
    ~WriteReqPool() {
        while (head) {
            WriteReq* r = head;
            head = r->next_free;
            delete r;
        }
    }
};

ClientConn::WriteReq* ClientConn::get_req() {
    WriteReqPool& f = WriteReqPool::local();
    WriteReq* r;
    if (f.head) {
        r = f.head;
        f.head = r->next_free;
        --f.count;
        if (r->owned.capacity() > kBigWriteBytes) --f.big;
    } else {
        r = new WriteReq{};
    }
    r->conn = this;
    r->next_free = nullptr;
    return r;
}

void ClientConn::put_req(WriteReq* r) {
    WriteReqPool& f = WriteReqPool::local();
    if (f.count >= kMaxFreeWriteReqs) {
        delete r;
        return;
    }
    r->owned.clear();
    // A streamed TLS response's ciphertext buffer goes round (the list is a stack: its next flush takes it back);
    // beyond a few such, the list keeps only record-sized ones (enough for small responses without an allocation).
    if (r->owned.capacity() > kBigWriteBytes) {
        if (f.big >= kMaxBigWriteReqs)
            std::string().swap(r->owned);
        else
            ++f.big;
    }
    r->resumes_file = false;
    r->conn = nullptr;
    r->next_free = f.head;
    f.head = r;
    ++f.count;
}

void ClientConn::note_output_start() {
    if (output_pending()) return;
    last_write_ms_ = uv_now(loop());
    timer_by(last_write_ms_ + settings_.send_timeout_ms);
}

void ClientConn::submit(WriteReq* r, const uv_buf_t* bufs, unsigned n) {
    note_output_start();
    size_t total = 0;
    for (unsigned i = 0; i < n; ++i)
        total += bufs[i].len;
    r->bytes = total;
    r->req.data = r;
    if (writes_in_flight_ == 0) sent_.sample(&tcp_); // the send timeout's baseline: output starts to wait
    if (uv_write(&r->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, n, on_write) != 0) {
        put_req(r);
        close();
        return;
    }
    sent_.handed(total);
    ++writes_in_flight_;
    queued_bytes_ += total;
}

size_t ClientConn::write_now(const uv_buf_t* bufs, unsigned n) {
    // A uv_write that completes at once still costs a deferred callback and, when the queue drains, an epoll_ctl
    // (libuv 1.44 re-registers the fd in uv__drain), i.e. one extra syscall per response. Writing directly while
    // libuv's queue is empty keeps a response to one writev; uv_try_write refuses (EAGAIN) when bytes are still
    // queued, which keeps the output in order.
    if (queued_bytes_ != 0) return 0;
    int rc = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, n);
    if (rc >= 0) {
        sent_.handed(static_cast<uint64_t>(rc));
        return static_cast<size_t>(rc);
    }
    if (rc != UV_EAGAIN) close();
    return 0;
}

bool ClientConn::write(const OutBuf* bufs, unsigned n) {
    // libuv takes uv_buf_t; convert in groups of 4 on the stack (the hit path allocates nothing).
    while (n > 0 && !closing_) {
        unsigned k = n > 4 ? 4 : n;
        uv_buf_t part[4];
        for (unsigned i = 0; i < k; ++i)
            part[i] = uv_buf_init(const_cast<char*>(bufs[i].data), static_cast<unsigned>(bufs[i].len));
        queue(part, k);
        bufs += k;
        n -= k;
    }
    return !closing_;
}

void ClientConn::queue(const uv_buf_t* bufs, unsigned n) {
    if (closing_ || n == 0) return;
    if (tls_) {
        tls_queue(bufs, n);
        return;
    }
    flush_file_rest(); // bytes queued after a file send keep their order behind it
    if (closing_) return;
    size_t skip = write_now(bufs, n);
    if (closing_) return;
    // Queue what the socket did not take, starting inside the buffer where the direct write stopped.
    while (n > 0 && skip >= bufs->len) {
        skip -= bufs->len;
        ++bufs;
        --n;
    }
    // libuv copies arrays of more than 4 buffers to the heap; split them instead.
    while (n > 0) {
        unsigned k = n > 4 ? 4 : n;
        uv_buf_t part[4];
        for (unsigned i = 0; i < k; ++i)
            part[i] = bufs[i];
        part[0].base += skip;
        part[0].len -= static_cast<decltype(part[0].len)>(skip);
        skip = 0;
        submit(get_req(), part, k);
        if (closing_) return;
        bufs += k;
        n -= k;
    }
}

bool ClientConn::write_file(const OutBuf* head_out, unsigned n, const FileSpan& body) {
    if (closing_) return false;
    uv_buf_t mem = uv_buf_init(const_cast<char*>(body.mem), static_cast<unsigned>(body.len));
    uv_os_fd_t sock = -1;
    if (tls_ || queued_bytes_ != 0 || n > 4 || uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock) != 0) {
        write(head_out, n);
        queue(&mem, 1);
        return !closing_;
    }
    uv_buf_t head[4];
    for (unsigned i = 0; i < n; ++i)
        head[i] = uv_buf_init(const_cast<char*>(head_out[i].data), static_cast<unsigned>(head_out[i].len));
    // The head goes first with MSG_MORE, so it leaves in one segment with the body's first bytes although
    // TCP_NODELAY is on; sendfile then adds the file's pages to the socket by reference.
    iovec iov[4];
    size_t head_len = 0;
    for (unsigned i = 0; i < n; ++i) {
        iov[i] = iovec{head[i].base, head[i].len};
        head_len += head[i].len;
    }
    size_t head_sent = 0;
    if (head_len > 0) {
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = n;
        ssize_t r;
        do
            r = ::sendmsg(sock, &m, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
        while (r < 0 && errno == EINTR);
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            close();
            return false;
        }
        head_sent = r > 0 ? static_cast<size_t>(r) : 0;
        sent_.handed(head_sent);
    }
    if (head_sent < head_len) {
        // The socket is full already: queue the rest of the head, and the body behind it from memory.
        uv_buf_t rest[4];
        unsigned k = 0;
        for (unsigned i = 0; i < n; ++i) {
            if (head_sent >= head[i].len) {
                head_sent -= head[i].len;
                continue;
            }
            rest[k] = head[i];
            rest[k].base += head_sent;
            rest[k].len -= static_cast<decltype(rest[k].len)>(head_sent);
            head_sent = 0;
            ++k;
        }
        queue(rest, k);
        queue(&mem, 1);
        return !closing_;
    }
    note_output_start();
    file_rest_ = body;
    queued_bytes_ += body.len;
    send_file_rest();
    return !closing_;
}

void ClientConn::send_file_rest() {
    uv_os_fd_t sock = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock) != 0) {
        flush_file_rest();
        return;
    }
    FileSpan& f = file_rest_;
    while (f.len > 0) {
        off_t off = static_cast<off_t>(f.off);
        ssize_t r = ::sendfile(sock, f.fd, &off, f.len);
        if (r > 0) {
            last_write_ms_ = uv_now(loop());
            sent_.handed(static_cast<uint64_t>(r));
            f.off += static_cast<uint64_t>(r);
            f.mem += r;
            f.len -= static_cast<size_t>(r);
            queued_bytes_ -= static_cast<uint64_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            f.len = 0;
            close();
            return;
        } else if (r == 0) {
            flush_file_rest(); // the file is shorter than promised: send the rest from memory
            return;
        } else {
            break;
        }
    }
    if (f.len == 0) return;
    // The socket is full. A one-byte write of the next body byte waits for room the way every queued write does
    // (libuv polls for POLLOUT); its completion sends the rest from the file (on_write).
    uv_buf_t b = uv_buf_init(const_cast<char*>(f.mem), 1);
    ++f.off;
    ++f.mem;
    --f.len;
    queued_bytes_ -= 1;
    WriteReq* r = get_req();
    r->resumes_file = true;
    submit(r, &b, 1);
}

void ClientConn::flush_file_rest() {
    if (file_rest_.len == 0) return;
    uv_buf_t b = uv_buf_init(const_cast<char*>(file_rest_.mem), static_cast<unsigned>(file_rest_.len));
    queued_bytes_ -= file_rest_.len;
    file_rest_.len = 0;
    submit(get_req(), &b, 1);
}

void ClientConn::tls_queue(const uv_buf_t* bufs, unsigned n) {
    note_output_start();
    for (unsigned i = 0; i < n; ++i) {
        if (bufs[i].len == 0) continue;
        tls_q_.push_back(TlsPiece{bufs[i].base, 0, bufs[i].len});
        tls_plain_queued_ += bufs[i].len;
        queued_bytes_ += bufs[i].len;
    }
    tls_pump();
}

void ClientConn::tls_queue_copy(std::string_view s) {
    note_output_start();
    tls_q_.push_back(TlsPiece{nullptr, tls_copies_.size(), s.size()});
    tls_copies_.append(s);
    tls_plain_queued_ += s.size();
    queued_bytes_ += s.size();
    tls_pump();
}

void ClientConn::tls_pump() {
    if (closing_ || !tls_->handshake_done()) return;
    while (tls_q_head_ < tls_q_.size() && queued_bytes_ - tls_plain_queued_ < kTlsFlightBytes) {
        // One record per call: a large piece is encrypted in record-sized slices, small ones (a head, then a short
        // body) are gathered into one record.
        TlsPiece& p = tls_q_[tls_q_head_];
        const char* data = p.ref ? p.ref : tls_copies_.data() + p.off;
        const char* src;
        size_t len;
        if (p.len >= kTlsRecordBytes || tls_q_head_ + 1 == tls_q_.size()) {
            src = data;
            len = p.len < kTlsRecordBytes ? p.len : kTlsRecordBytes;
            p.len -= len;
            if (p.ref)
                p.ref += len;
            else
                p.off += len;
            if (p.len == 0) ++tls_q_head_;
        } else {
            char* gather = tls_scratch().gather;
            size_t used = 0;
            while (tls_q_head_ < tls_q_.size() && used < kTlsRecordBytes) {
                TlsPiece& q = tls_q_[tls_q_head_];
                const char* d = q.ref ? q.ref : tls_copies_.data() + q.off;
                size_t k = std::min(q.len, kTlsRecordBytes - used);
                std::memcpy(gather + used, d, k);
                used += k;
                q.len -= k;
                if (q.ref)
                    q.ref += k;
                else
                    q.off += k;
                if (q.len == 0) ++tls_q_head_;
            }
            src = gather;
            len = used;
        }
        tls_plain_queued_ -= len;
        queued_bytes_ -= len;
        if (!tls_->write(src, len)) {
            shared::log::debug("edge", "TLS write failed",
                               {{"client", peer_ip_text()}, {"reason", tls_->error_reason()}});
            close();
            return;
        }
        if (tls_->output_pending() >= kTlsFlightBytes) {
            tls_flush_output();
            if (closing_) return;
        }
    }
    if (tls_q_head_ == tls_q_.size()) {
        tls_q_.clear();
        tls_q_head_ = 0;
        tls_copies_.clear();
        if (tls_copies_.capacity() > kTlsFlightBytes) std::string().swap(tls_copies_); // a streamed body's peak
    }
    tls_flush_output();
}

void ClientConn::tls_flush_output(bool force) {
    std::string& out = tls_->output();
    if (out.empty() || closing_) return;
    if (tls_corked_ && !force && out.size() < kTlsFlightBytes) return;
    // As on plain HTTP, what the socket takes at once costs no write request (only while nothing is queued, so the
    // ciphertext stays in order).
    size_t done = 0;
    if (queued_bytes_ == tls_plain_queued_ && writes_in_flight_ == 0) {
        uv_buf_t direct = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
        int rc = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &direct, 1);
        if (rc < 0 && rc != UV_EAGAIN) {
            // The viewer reset (EPIPE, ECONNRESET): counted as when a queued write or a read finds it.
            out.clear();
            if (!lingering_) tls_count_transport_end(rc);
            close();
            return;
        }
        done = rc > 0 ? static_cast<size_t>(rc) : 0;
        sent_.handed(done);
    }
    if (done == out.size()) {
        out.clear();
        return;
    }
    WriteReq* r = get_req();
    r->owned.clear();
    r->owned.swap(out); // the request takes the ciphertext without a copy; the SSL writes on into its old buffer
    uv_buf_t b = uv_buf_init(r->owned.data() + done, static_cast<unsigned>(r->owned.size() - done));
    submit(r, &b, 1);
}

bool ClientConn::write_copy(std::string_view s) {
    if (closing_) return false;
    if (s.empty()) return true;
    if (tls_) {
        tls_queue_copy(s);
        return !closing_;
    }
    flush_file_rest();
    if (closing_) return false;
    uv_buf_t direct = uv_buf_init(const_cast<char*>(s.data()), static_cast<unsigned>(s.size()));
    size_t done = write_now(&direct, 1);
    if (closing_) return false;
    if (done == s.size()) return true;
    s.remove_prefix(done);
    WriteReq* r = get_req();
    r->owned.assign(s.data(), s.size());
    uv_buf_t b = uv_buf_init(r->owned.data(), static_cast<unsigned>(r->owned.size()));
    submit(r, &b, 1);
    return !closing_;
}

void ClientConn::pin(Ref<CachedObject> obj) {
    if (closing_) return; // nothing will be written from it
    if (pinned_count_ < pinned_.size()) {
        pinned_[pinned_count_++] = std::move(obj);
    } else {
        pinned_more_.push_back(std::move(obj));
    }
}

void ClientConn::on_write(uv_write_t* req, int status) noexcept {
    auto* r = static_cast<WriteReq*>(req->data);
    ClientConn* c = r->conn;
    bool resumes_file = r->resumes_file;
    c->queued_bytes_ -= r->bytes;
    --c->writes_in_flight_;
    c->put_req(r);
    c->last_write_ms_ = uv_now(c->loop());
    if (c->writes_in_flight_ != 0 && status == 0) c->sent_.sample(&c->tcp_); // the baseline from here
    if (status < 0) {
        if (c->tls_ && !c->closing_ && status != UV_ECANCELED) viewer_tls_stats().count(TlsConnectionError::reset);
        c->close();
        return;
    }
    if (c->closing_) return;
    if (c->close_after_notify_) {
        if (c->writes_in_flight_ == 0) c->close();
        return;
    }
    if (resumes_file && c->file_rest_.len > 0) {
        // Nothing was queued behind the probe byte (a later write would have flushed the rest to memory).
        c->send_file_rest();
        if (c->closing_) return;
    }
    if (c->tls_plain_queued_ != 0) {
        c->tls_pump();
        if (c->closing_) return;
    }
    if (c->close_after_write_) {
        if (!c->output_pending() && !c->lingering_) c->h2_finish();
        return;
    }
    if (c->h2_ && c->queued_bytes_ <= c->settings_.client_buffer_bytes / 2) {
        c->h2_->on_transport_writable();
        if (c->closing_) return;
        c->arm_timer();
    }
    if (c->exchange_ && c->queued_bytes_ <= c->settings_.client_buffer_bytes / 2) c->exchange_->on_writable();
    c->maybe_finish_response();
}

void ClientConn::end_response(bool keep_alive) {
    if (!in_request_) return;
    response_ended_ = true;
    exchange_ = nullptr;
    if (!keep_alive) keep_alive_ = false;
    maybe_finish_response();
}

void ClientConn::maybe_finish_response() {
    if (closing_ || !in_request_ || !response_ended_ || writes_in_flight_ != 0 || tls_plain_queued_ != 0) return;
    for (size_t i = 0; i < pinned_count_; ++i)
        pinned_[i].reset();
    pinned_count_ = 0;
    if (!pinned_more_.empty()) std::vector<Ref<CachedObject>>().swap(pinned_more_);
    ConnBufferPool::local().give_head(head_); // no write refers to it any more
    if (tls_) {
        // (The output may still hold this response's ciphertext, corked: tls_on_ciphertext trims it after sending.)
        if (tls_->output().empty() && tls_->output().capacity() > kTlsRecordBytes + 1024)
            std::string().swap(tls_->output());
    }
    in_request_ = false;
    response_ended_ = false;
    continue_sent_ = false;
    last_activity_ms_ = uv_now(loop());
    if (!keep_alive_ || drain_) {
        finish_connection();
        return;
    }
    parser_.next();
    request_begun_ = in_start_ < in_end_;
    if (request_begun_) request_start_ms_ = last_activity_ms_;
    process_input();
    give_back_idle();
}

void ClientConn::finish_connection() {
    // nginx's lingering close (ngx_http_set_lingering_close): when the viewer may still be sending (the request
    // was refused part-way, pipelined bytes wait, or the socket has unread input), half-close our side so the
    // answer is delivered, then read and discard until the viewer closes, lingering_timeout passes without
    // input, or lingering_time is up.
    if (eof_ || no_linger_ || drain_ || settings_.lingering_time_ms == 0) {
        close_after_output();
        return;
    }
    bool unread = rejected_ || in_start_ != in_end_ || parser_.in_message();
    // A response answered within the read that took its request, when that read drained the socket: nothing came
    // since (nginx trusts its read event's `ready` flag the same way), so the ioctl is skipped. (A viewer that sends
    // more after `Connection: close` in these microseconds may see a reset, as with nginx.)
    if (!unread && !input_drained_) {
        uv_os_fd_t fd = -1;
        int pending = 0;
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0 && ::ioctl(fd, FIONREAD, &pending) == 0) {
            unread = pending > 0;
        }
    }
    if (!unread) {
        close_after_output();
        return;
    }
    start_linger();
}

void ClientConn::close_after_output() {
    if (!tls_ || tls_->output().empty()) {
        close();
        return;
    }
    // A response answered inside tls_on_ciphertext still waits in the SSL's output (corked): it leaves with
    // close_notify in one write, and the connection closes once that is written (close() alone would send only
    // what the socket takes at once).
    tls_->shutdown();
    tls_flush_output(true);
    if (closing_) return;
    if (writes_in_flight_ == 0) {
        close();
        return;
    }
    stop_reading(); // nothing more is read after close_notify
    close_after_notify_ = true;
    arm_timer(); // keepalive_timeout bounds a viewer that stops reading now
}

void ClientConn::start_linger() {
    lingering_ = true;
    in_start_ = in_end_ = 0;
    linger_start_ms_ = last_activity_ms_ = uv_now(loop());
    if (tls_) {
        // close_notify before the FIN (uv_shutdown waits for the queued writes): the viewer sees a clean end.
        tls_->shutdown();
        tls_flush_output(true);
        if (closing_) return;
    }
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), on_shutdown) != 0) {
        close();
        return;
    }
    start_reading();
    arm_timer();
}

void ClientConn::on_shutdown(uv_shutdown_t* req, int status) noexcept {
    auto* c = static_cast<ClientConn*>(req->data);
    if (c->closing_) return; // cancelled by close(); the handles' close callbacks free the connection
    if (status < 0) c->close();
}

void ClientConn::abort() {
    close();
}

void ClientConn::close_when_idle() {
    drain_ = true;
    keep_alive_ = false;
    if (h2_) {
        h2_->drain(); // GOAWAY; the connection closes once its streams are answered
        return;
    }
    if (!in_request_) close(); // also ends a lingering close
}

bool ClientConn::idle_since(uint64_t* since) const {
    if (closing_ || h2_ || holds_ != 0 || output_pending() || phase() != Phase::idle) return false;
    *since = last_activity_ms_;
    return true;
}

void ClientConn::close() {
    if (closing_) return;
    closing_ = true;
    file_rest_.len = 0;
    stop_reading();
    if (tls_) {
        // Best effort: the ciphertext not sent yet (a corked response) and close_notify, in one direct write, only
        // when nothing else waits to be written (it must not jump the queue).
        tls_->shutdown();
        std::string& out = tls_->output();
        if (!out.empty() && writes_in_flight_ == 0) {
            uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
            uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
        }
        out.clear();
        queued_bytes_ -= tls_plain_queued_;
        tls_plain_queued_ = 0;
        tls_q_.clear();
        tls_q_head_ = 0;
    }
    // Whoever may still ask for the address (a session's log line) gets it after the socket is gone.
    if (in_request_ || holds_ != 0 || exchange_ || h2_) peer_ip_text();
    if (ViewerEvents* ex = exchange_) {
        exchange_ = nullptr;
        ex->on_viewer_gone();
    }
    if (h2_) h2_->on_transport_closed();
    set_->remove(this);
    release_source();
    handler_->on_conn_close();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void ClientConn::on_close(uv_handle_t* h) noexcept {
    auto* c = static_cast<ClientConn*>(h->data);
    if (--c->open_handles_ != 0) return;
    if (c->holds_ == 0) {
        delete c;
        return;
    }
    // A session still holds this object: give back what only the socket needed (libuv has cancelled the writes by
    // now, so nothing reads the pinned bodies any more).
    for (size_t i = 0; i < c->pinned_count_; ++i)
        c->pinned_[i].reset();
    c->pinned_count_ = 0;
    std::vector<Ref<CachedObject>>().swap(c->pinned_more_);
    ConnBufferPool::local().give_read_buffer(c->in_);
    c->in_ = nullptr;
    ConnBufferPool::local().give_head(c->head_);
}

void ClientConn::release() {
    if (--holds_ == 0 && open_handles_ == 0 && closing_) delete this;
}

uint64_t ClientConn::request_elapsed_ms() const {
    uint64_t now = uv_now(tcp_.loop);
    return now > request_start_ms_ ? now - request_start_ms_ : 0;
}

void ConnSet::add(ClientConn* c) {
    c->prev_ = nullptr;
    c->next_ = head_;
    if (head_) head_->prev_ = c;
    head_ = c;
    ++count_;
}

void ConnSet::remove(ClientConn* c) {
    if (cursor_ == c) cursor_ = c->next_;
    if (c->prev_)
        c->prev_->next_ = c->next_;
    else if (head_ == c)
        head_ = c->next_;
    else
        return; // not in the set
    if (c->next_) c->next_->prev_ = c->prev_;
    c->prev_ = c->next_ = nullptr;
    --count_;
}

bool ConnSet::reclaim_idle() {
    ClientConn* oldest = nullptr;
    uint64_t oldest_at = UINT64_MAX;
    ClientConn* c = cursor_ ? cursor_ : head_;
    for (size_t n = 0; c && n < kReclaimScan && n < count_; ++n) {
        uint64_t since;
        if (c->idle_since(&since) && since < oldest_at) {
            oldest = c;
            oldest_at = since;
        }
        c = c->next_ ? c->next_ : head_;
    }
    cursor_ = c;
    if (!oldest) return false;
    oldest->close_when_idle(); // idle: closes now (and leaves the set)
    return true;
}

void ConnSet::drain() {
    for (ClientConn* c = head_; c;) {
        ClientConn* next = c->next_;
        c->close_when_idle();
        c = next;
    }
}

} // namespace edge

namespace edge {

void ConnSet::goaway_http2() {
    for (ClientConn* c = head_; c;) {
        ClientConn* next = c->next_;
        if (c->http2()) c->close_when_idle();
        c = next;
    }
}

void ConnSet::close_all() {
    for (ClientConn* c = head_; c;) {
        ClientConn* next = c->next_;
        c->abort();
        c = next;
    }
}

} // namespace edge
