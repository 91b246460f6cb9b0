#include "dns/server/tcp_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include "dns/engine/query_engine.h"
#include "dns/engine/zone_transfer.h"
#include "dns/server/tsig_session.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/query.h"
#include "shared/log/log.h"
#include "shared/net/listen_socket.h"
#include "shared/net/tcp_ack_progress.h"

#if defined(__SANITIZE_ADDRESS__)
#define MERIDIAN_DNS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MERIDIAN_DNS_ASAN 1
#endif
#endif
#ifdef MERIDIAN_DNS_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace dns {

namespace {
constexpr size_t kInitialInput = 4096;
constexpr size_t kMaxInput = 65537 + 4096;  // one whole message and the start of the next
constexpr uint64_t kProgressCheckMs = 1000; // how often unacknowledged output is sampled for progress
// Queries one connection may have answered per loop turn before it waits for the next turn: clients pipelining
// thousands of queries each cannot make one turn last seconds while a new client waits (libuv reads up to 32 times
// per connection per turn). NSD and Knot answer one query per connection per readiness event; a few more amortize
// the turn's cost for a client that pipelines legitimately. Dropped queries count too: they cost no output, so
// backpressure would never stop them.
constexpr uint32_t kTurnQueries = 32;
// A spare connection keeps output buffers up to this capacity (an ordinary answer's); a transfer's are freed.
constexpr size_t kSpareOutput = 4096;

// A spare connection's memory is poisoned under AddressSanitizer, so a use after close is reported as it would be
// if the connection had been freed.
void poison(void* p, size_t n) {
#ifdef MERIDIAN_DNS_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p, (void)n;
#endif
}
void unpoison(void* p, size_t n) {
#ifdef MERIDIAN_DNS_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p, (void)n;
#endif
}

uint64_t unix_now_s() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec);
}

std::string peer_text(const sockaddr* sa) {
    shared::SocketAddress a;
    std::memcpy(&a.storage, sa, sizeof(sockaddr_storage));
    a.len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    return a.to_string();
}
} // namespace

struct TcpServer::Transfer {
    std::unique_ptr<ZoneTransfer> stream;
    std::unique_ptr<TsigSession> tsig;
    uint64_t started_ms = 0;
    size_t bytes = 0;
};

struct TcpServer::Conn {
    TcpServer* srv = nullptr;
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    uv_write_t wreq{};
    std::vector<uint8_t> in; // kInitialInput bytes or more (take_conn), grown for a large query
    size_t in_len = 0;
    std::vector<uint8_t> out;     // framed answers not yet handed to libuv
    std::vector<uint8_t> writing; // the bytes of the one write in flight
    bool writing_now = false;
    uint64_t last_active = 0;   // last whole query read or write completed (idle timeout)
    uint64_t query_started = 0; // first byte of the query being received (query timeout)
    uint64_t progress_at = 0;   // last time the peer acknowledged output, or output started (write timeout)
    shared::TcpAckProgress ack; // write progress is what the peer acknowledged, not what the kernel took
    uint64_t turn = 0;          // the server's loop turn turn_answers counts in
    uint32_t turn_answers = 0;  // queries answered in that turn (kTurnQueries)
    bool deferred = false;      // waits in the server's deferred_ for the next turn
    size_t slot = 0;            // index in the server's conns_
    std::unique_ptr<Transfer> xfr;
    int open_handles = 0;
    bool closing = false;
    bool reading = false;
    bool eof = false;
    bool source_counted = false; // in the server's sources_, under `source`
    bool peer_known = false;
    bool own_event = false; // the loop is running this connection's read or timer callback (close_socket_early)
    shared::PeerAddress source;
    sockaddr_storage peer{};

    // The client's address, asked of the kernel the first time something needs it (the per-address limit, an
    // answer that depends on it, the transfer ACL, a log line): a one-query connection to a server without
    // steering, query log or per-address limit never asks. Zero (AF_UNSPEC) when the socket is gone by then.
    const sockaddr* peer_sa() {
        if (!peer_known) {
            peer_known = true;
            shared::accepted_peer(&tcp, &peer);
        }
        return reinterpret_cast<const sockaddr*>(&peer);
    }
    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

    // Back to a new connection's state, keeping the buffers' memory: the input at kInitialInput bytes (contents
    // left as they are: only in_len bytes are ever read), the output buffers when ordinary answers sized them.
    void reset() {
        std::vector<uint8_t> keep_in = std::move(in), keep_out = std::move(out), keep_writing = std::move(writing);
        *this = Conn{};
        if (keep_in.size() != kInitialInput) std::vector<uint8_t>(kInitialInput).swap(keep_in);
        in = std::move(keep_in);
        keep_out.clear();
        keep_writing.clear();
        if (keep_out.capacity() <= kSpareOutput) out = std::move(keep_out);
        if (keep_writing.capacity() <= kSpareOutput) writing = std::move(keep_writing);
    }

    // Closes the socket before uv_close does, so that libuv skips its EPOLL_CTL_DEL (one system call of the seven a
    // one-query connection made): closing the last descriptor of a socket removes it from every epoll set anyway.
    // libuv makes the call for two reasons, neither of which holds here. Another process may hold the socket (a
    // fork): meridian-dns forks only before it opens any (shared/process/privileges.cc). And the epoll batch libuv
    // is dispatching may still hold an event for the descriptor, which the descriptor's next owner would get: only
    // while the loop runs this connection's own read callback (epoll reports a descriptor once per batch, and this
    // is its event) or its timer (outside the poll phase) is there none, hence own_event. The socket must not be
    // watched any more (no write queued; reading is stopped here), so that libuv's table of watched descriptors no
    // longer points at this handle; libuv 1.44 to 1.52 then closes a stream whose descriptor is -1 without touching
    // it (uv__io_close, uv__stream_close). gdnsd's libev skips the call the same way.
    void close_socket_early() {
#if defined(__linux__) && UV_VERSION_MAJOR == 1
        if (!own_event || writing_now || tcp.write_queue_size != 0) return;
        uv_read_stop(stream());
        uv__io_t& w = tcp.io_watcher;
        if (w.pevents != 0 || w.fd < 0) return;
        ::close(w.fd);
        w.fd = -1;
#endif
    }
    size_t pending_output() const {
        return out.size() + (writing_now ? tcp.write_queue_size : 0);
    }
    // Output the kernel took but the peer did not acknowledge (as of the last sample) is pending like output libuv
    // still holds: the kernel's send buffer absorbs up to megabytes, which a client that never reads must not keep
    // past tcp_write_timeout. Known from the timer's samples, so the per-query path makes no system call.
    bool output_pending() const {
        return writing_now || !out.empty() || xfr || !ack.settled();
    }
    // Samples the acknowledged bytes; returns whether the peer read something since the last sample. Bytes moving
    // from libuv's queue into a kernel send buffer that grew are not progress.
    bool sample_progress(uint64_t now) {
        if (!ack.sample(&tcp)) return false;
        progress_at = now;
        return true;
    }
    // A whole query waits in the input (only while the output is backed up or a transfer runs).
    bool has_complete() const {
        if (in_len < 2) return false;
        size_t mlen = (size_t(in[0]) << 8) | in[1];
        return in_len >= 2 + mlen;
    }

    static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
        auto* c = static_cast<Conn*>(h->data);
        if (c->in.size() - c->in_len < 1024 && c->in.size() < kMaxInput)
            c->in.resize(std::min<size_t>(c->in.size() * 2, kMaxInput));
        *buf = uv_buf_init(reinterpret_cast<char*>(c->in.data() + c->in_len),
                           static_cast<unsigned>(c->in.size() - c->in_len));
    }
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        auto* c = static_cast<Conn*>(s->data);
        // A connection closed here stays allocated until its close callbacks, so the flag can be cleared after.
        c->own_event = true;
        c->handle_read(nread);
        c->own_event = false;
    }
    void handle_read(ssize_t nread) {
        if (nread < 0) {
            eof = true;
            reading = false;
            uv_read_stop(stream());
            if (nread != UV_EOF) return srv->close_conn(this, "read error");
            // Half-closed: answer what was asked, then close (RFC 7766 §6.2.2).
            srv->process(this);
            return;
        }
        if (nread == 0) return;
        if (in_len == 0) query_started = uv_now(srv->loop_);
        in_len += static_cast<size_t>(nread);
        srv->process(this);
    }
    static void on_close(uv_handle_t* h) noexcept {
        auto* c = static_cast<Conn*>(h->data);
        if (--c->open_handles == 0) c->srv->recycle(c);
    }
};

TcpServer::~TcpServer() {
    for (Conn* c : spare_) {
        unpoison(c, sizeof *c);
        delete c;
    }
}

TcpServer::Conn* TcpServer::take_conn() {
    Conn* c;
    if (spare_.empty()) {
        c = new Conn;
        c->in.resize(kInitialInput);
    } else {
        c = spare_.back();
        spare_.pop_back();
        unpoison(c, sizeof *c);
    }
    c->srv = this;
    return c;
}

void TcpServer::recycle(Conn* c) {
    if (closing_ || spare_.size() >= kSpareConns) {
        delete c;
        return;
    }
    c->reset();
    poison(c, sizeof *c);
    spare_.push_back(c);
}

int TcpServer::start(uv_loop_t* loop, const shared::SocketAddress& addr) {
    loop_ = loop;
    uv_check_init(loop, &turn_check_);
    turn_check_.data = this;
    uv_check_start(&turn_check_, on_turn);
    uv_unref(reinterpret_cast<uv_handle_t*>(&turn_check_)); // counting turns keeps no loop alive
    uv_idle_init(loop, &resume_);
    resume_.data = this;
    spare_.reserve(kSpareConns);
    eager_reads_.init(loop);
    // A DNS client speaks first, so the kernel holds a connection until its query arrives: the listener wakes once
    // per connection with the query readable, and read_now() answers it without a poll round trip. A client that
    // sends nothing is accepted after about shared::kDeferAcceptSeconds and then meets tcp_idle_timeout as before.
    int rc = shared::tcp_listen_reuseport(loop, &listener_, addr, shared::kListenBacklog, on_connection,
                                          shared::kDeferAcceptSeconds);
    initialized_ = true;
    listener_.data = this;
    return rc;
}

shared::SocketAddress TcpServer::address() const {
    return shared::bound_address(reinterpret_cast<const uv_handle_t*>(&listener_));
}

void TcpServer::close() {
    closing_ = true;
    if (initialized_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_))) {
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&turn_check_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&resume_), nullptr);
        eager_reads_.close(nullptr, nullptr);
    }
    auto conns = conns_;
    for (Conn* c : conns)
        close_conn(c, "server stopping");
}

void TcpServer::on_connection(uv_stream_t* s, int status) noexcept {
    auto* self = static_cast<TcpServer*>(s->data);
    if (status < 0 || self->closing_) return;
    Conn* c = self->take_conn();
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    auto refuse = [&] {
        self->svc_.metrics()->inc(self->svc_.worker(), self->svc_.ids().tcp_refused);
        if (c->source_counted) self->sources_->release(c->source);
        c->closing = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Conn::on_close);
    };
    if (uv_accept(s, c->stream()) != 0) {
        c->closing = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Conn::on_close);
        return;
    }
    const ServiceSettings& st = self->svc_.settings();
    // The address first: a client over its own limit must not close someone's idle connection on its way out. With
    // no limit nothing is counted (nor the address asked for): a reload that sets one counts from then on.
    if (self->sources_ && st.max_tcp_connections_per_address != 0 &&
        shared::PeerAddress::from_sockaddr(c->peer_sa(), &c->source)) {
        auto admit = self->sources_->acquire(c->source, st.max_tcp_connections_per_address);
        if (admit == shared::SourceConnLimit::Admit::refused) return refuse();
        c->source_counted = admit == shared::SourceConnLimit::Admit::counted;
    }
    if (self->conns_.size() >= st.max_tcp_connections && !self->reclaim_idle()) return refuse();
    uv_timer_init(self->loop_, &c->timer);
    c->timer.data = c;
    c->wreq.data = c;
    c->open_handles = 2;
    c->last_active = uv_now(self->loop_);
    c->slot = self->conns_.size();
    self->conns_.push_back(c);
    self->svc_.metrics()->gauge_add(self->svc_.worker(), self->svc_.ids().tcp_connections, 1);
    // libuv accepts until the queue is empty: answering every connection here would let a flood of one-query
    // connections hold the worker in this loop. Past the turn's budget the query waits for epoll.
    if (self->eager_reads_.take()) return self->read_now(c);
    self->update_reading(c);
    self->arm_timer(c);
}

void TcpServer::read_now(Conn* c) {
    // Deferred accept (listen()) means the query is usually waiting: read it here, so the loop turn that
    // accepts a connection also answers it, instead of registering it and answering in a later turn. Syncookies, or
    // a client that sent nothing within the defer time, skip the deferral: then the read finds nothing (EAGAIN) and
    // libuv reads when data comes.
    uv_os_fd_t fd;
    ssize_t n = -1;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&c->tcp), &fd) == 0) {
        do
            n = ::read(fd, c->in.data(), c->in.size());
        while (n < 0 && errno == EINTR);
    } else {
        errno = EAGAIN;
    }
    if (n > 0) {
        c->query_started = uv_now(loop_);
        c->in_len = static_cast<size_t>(n);
        return process(c); // reads on (update_reading) or closes, and arms the timer
    }
    if (n == 0) return close_conn(c, nullptr); // closed before asking anything
    if (errno != EAGAIN && errno != EWOULDBLOCK) return close_conn(c, "read error");
    update_reading(c);
    arm_timer(c);
}

bool TcpServer::reclaim_idle() {
    Conn* oldest = nullptr;
    size_t n = conns_.size();
    for (size_t k = 0; k < kReclaimScan && k < n; ++k) {
        Conn* c = conns_[(reclaim_at_ + k) % n];
        if (c->closing || c->in_len != 0 || c->writing_now || !c->out.empty() || c->xfr) continue;
        // An answer counts as pending until the client acknowledged it, which only a sample (one ioctl) tells.
        if (!c->ack.settled()) c->sample_progress(uv_now(loop_));
        if (c->output_pending()) continue;
        if (!oldest || c->last_active < oldest->last_active) oldest = c;
    }
    reclaim_at_ = n ? (reclaim_at_ + kReclaimScan) % n : 0;
    if (!oldest) return false;
    svc_.metrics()->inc(svc_.worker(), svc_.ids().tcp_reclaimed);
    close_conn(oldest, "idle connection closed at max_tcp_connections");
    return true;
}

void TcpServer::close_conn(Conn* c, const char* why) {
    if (c->closing) return;
    if (c->xfr) end_transfer(c, why ? why : "connection closed");
    c->closing = true;
    if (why && shared::log::enabled(shared::log::Level::debug))
        shared::log::debug("dns", "TCP connection closed", {{"client", peer_text(c->peer_sa())}, {"reason", why}});
    // The last connection takes this one's place: a search and a shift of the whole list per close cost O(open
    // connections) each, with thousands open under a stream of one-query connections.
    conns_[c->slot] = conns_.back();
    conns_[c->slot]->slot = c->slot;
    conns_.pop_back();
    if (c->deferred) deferred_.erase(std::remove(deferred_.begin(), deferred_.end(), c), deferred_.end());
    if (c->source_counted) sources_->release(c->source);
    svc_.metrics()->gauge_add(svc_.worker(), svc_.ids().tcp_connections, -1);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), Conn::on_close);
    c->close_socket_early();
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Conn::on_close);
}

bool TcpServer::can_process(const Conn* c) const {
    return !c->closing && !c->xfr && c->pending_output() < kOutputHigh;
}

bool TcpServer::finished(const Conn* c) const {
    return c->eof && !c->xfr && c->out.empty() && !c->writing_now && !c->has_complete();
}

void TcpServer::update_reading(Conn* c) {
    if (c->closing) return;
    // A deferred connection is not read either: its input holds queries to answer on its next turn.
    bool want = !c->eof && !c->deferred && can_process(c);
    if (want == c->reading) return;
    c->reading = want;
    if (want) {
        // The client could not send while we did not read: the query deadline starts again.
        c->query_started = uv_now(loop_);
        uv_read_start(c->stream(), Conn::on_alloc, Conn::on_read);
    } else {
        uv_read_stop(c->stream());
    }
}

void TcpServer::append(Conn* c, const uint8_t* msg, size_t len) {
    // One allocation for a new connection's first answer, not one per push_back and insert.
    if (c->out.capacity() == 0) c->out.reserve(std::max<size_t>(len + 2, 512));
    c->out.push_back(static_cast<uint8_t>(len >> 8));
    c->out.push_back(static_cast<uint8_t>(len));
    c->out.insert(c->out.end(), msg, msg + len);
}

void TcpServer::flush(Conn* c) {
    if (c->closing || c->writing_now || c->out.empty()) return;
    // The write deadline starts with this write only if the peer had taken everything written before it (as the
    // last sample saw: a sample is at most kProgressCheckMs old while output is unacknowledged, and the deadline
    // is only enforced after a fresh one).
    if (c->ack.settled()) c->progress_at = uv_now(loop_);
    c->ack.handed(c->out.size());
    size_t sent = 0;
    // Answers below kOutputHigh are written at once when the socket takes them: a completed uv_write costs the
    // loop a pending callback and an epoll_ctl when libuv drops its write interest, per answer. Only there: the
    // query loop stopped for a reason other than pending output (so no whole query waits for a write to complete
    // and process it), and a transfer is pumped by on_write only. Written from the output buffer itself, which
    // keeps its memory for the next answers.
    if (!c->xfr && c->out.size() < kOutputHigh) {
        uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(c->out.data()), static_cast<unsigned>(c->out.size()));
        int n = uv_try_write(c->stream(), &b, 1);
        if (n == static_cast<int>(b.len)) {
            c->out.clear();
            return;
        }
        if (n < 0 && n != UV_EAGAIN) return close_conn(c, "write error");
        if (n > 0) sent = static_cast<size_t>(n);
    }
    c->writing.swap(c->out);
    c->out.clear();
    uv_buf_t b =
        uv_buf_init(reinterpret_cast<char*>(c->writing.data() + sent), static_cast<unsigned>(c->writing.size() - sent));
    int rc = uv_write(&c->wreq, c->stream(), &b, 1, on_write);
    if (rc < 0) return close_conn(c, "write error");
    c->writing_now = true;
}

void TcpServer::on_write(uv_write_t* req, int status) noexcept {
    auto* c = static_cast<Conn*>(req->data);
    c->writing_now = false;
    if (c->closing) return;
    TcpServer* srv = c->srv;
    if (status < 0) return srv->close_conn(c, "write error");
    c->writing.clear();
    // A transfer's or a large answer's buffer is not kept by an idle connection.
    if (c->writing.capacity() > 2 * kOutputHigh && !c->xfr) std::vector<uint8_t>().swap(c->writing);
    c->last_active = uv_now(srv->loop_);
    if (c->xfr) srv->pump_transfer(c);
    if (!c->closing) srv->process(c);
}

void TcpServer::arm_timer(Conn* c) {
    if (c->closing) return;
    const ServiceSettings& st = svc_.settings();
    uint64_t now = uv_now(loop_);
    uint64_t deadline = UINT64_MAX;
    if (c->output_pending()) {
        uint64_t t = c->xfr ? st.transfer_timeout_ms : st.tcp_write_timeout_ms;
        deadline = std::min(c->progress_at + t, now + kProgressCheckMs);
    }
    // Only while reading: a connection we stopped reading (its answers are not drained) is the write timeout's.
    if (c->reading && c->in_len > 0 && !c->has_complete())
        deadline = std::min(deadline, c->query_started + st.tcp_query_timeout_ms);
    if (!c->output_pending() && c->in_len == 0) {
        uint64_t idle = st.tcp_idle_timeout_ms;
        // Under pressure idle connections make room sooner (NSD halves its timeout the same way).
        if (conns_.size() * 2 > st.max_tcp_connections) idle = std::min(idle, st.tcp_query_timeout_ms);
        deadline = std::min(deadline, c->last_active + idle);
    }
    if (deadline == UINT64_MAX) return;
    uv_timer_start(&c->timer, on_timer, deadline > now ? deadline - now : 0, 0);
}

void TcpServer::on_timer(uv_timer_t* t) noexcept {
    auto* c = static_cast<Conn*>(t->data);
    c->own_event = true;
    c->srv->expire(c);
    c->own_event = false;
}

void TcpServer::expire(Conn* c) {
    const ServiceSettings& st = svc_.settings();
    uint64_t now = uv_now(loop_);
    if (c->output_pending()) {
        c->sample_progress(now);
        uint64_t limit = c->xfr ? st.transfer_timeout_ms : st.tcp_write_timeout_ms;
        // All acknowledged now: nothing is pending and the idle timeout applies.
        if (c->output_pending() && now - c->progress_at >= limit) {
            svc_.metrics()->inc(svc_.worker(), svc_.ids().tcp_timeouts);
            return close_conn(c, c->xfr ? "transfer_timeout" : "tcp_write_timeout");
        }
    }
    if (c->reading && c->in_len > 0 && !c->has_complete() && now - c->query_started >= st.tcp_query_timeout_ms) {
        svc_.metrics()->inc(svc_.worker(), svc_.ids().tcp_timeouts);
        return close_conn(c, "tcp_query_timeout");
    }
    if (!c->output_pending() && c->in_len == 0) {
        uint64_t idle = st.tcp_idle_timeout_ms;
        if (conns_.size() * 2 > st.max_tcp_connections) idle = std::min(idle, st.tcp_query_timeout_ms);
        // RFC 7766 §6.2.3: the server may close idle connections.
        if (now - c->last_active >= idle) return close_conn(c, nullptr);
    }
    arm_timer(c);
}

bool TcpServer::start_transfer(Conn* c, const uint8_t* msg, size_t mlen, const AnswerInfo& info) {
    auto* m = svc_.metrics();
    const auto& st = svc_.settings();
    // Allowed by address, or by a TSIG the engine verified (RFC 8945); the engine itself answered a bad TSIG with
    // NOTAUTH, so a signed request here is a verified one, and every message of its answer is signed.
    uint64_t now_s = unix_now_s();
    std::unique_ptr<TsigSession> tsig = TsigSession::for_request(msg, mlen, info, now_s);
    std::shared_ptr<const Zone> zone = svc_.db().get(info.zone->apex);
    if (!zone || (!st.axfr_allow.allows(c->peer_sa()) && !tsig)) {
        m->inc(svc_.worker(), svc_.ids().axfr_refused);
        shared::log::warn("dns", "zone transfer refused",
                          {{"zone", info.zone->apex_text}, {"client", peer_text(c->peer_sa())}});
        size_t n = write_response_header(msg, info.question_end, out_.data(), out_.size());
        if (!n) {
            close_conn(c, "bad transfer request");
            return false;
        }
        out_[2] &= static_cast<uint8_t>(~(flag::AA >> 8));
        out_[3] = static_cast<uint8_t>((out_[3] & 0xF0) | rcode::REFUSED);
        append(c, out_.data(), n);
        return true;
    }
    ParsedQuery pq;
    parse_query(msg, mlen, &pq);
    std::optional<uint32_t> serial;
    if (pq.ixfr_soa) serial = pq.ixfr_serial;
    m->inc(svc_.worker(), svc_.ids().axfr);
    c->xfr = std::make_unique<Transfer>();
    c->xfr->stream =
        std::make_unique<ZoneTransfer>(std::move(zone), msg, info.question_end, info.qtype == rrtype::IXFR, serial);
    c->xfr->tsig = std::move(tsig);
    c->xfr->started_ms = uv_now(loop_);
    pump_transfer(c);
    return !c->closing;
}

void TcpServer::pump_transfer(Conn* c) {
    Transfer* x = c->xfr.get();
    while (x && !c->closing && !x->stream->done() && c->out.size() < kTransferHigh) {
        // Messages up to 64 KiB (RFC 5936 §2.2), short of it by the TSIG record's room when signed.
        size_t cap = out_.size() - (x->tsig ? x->tsig->reserve() : 0);
        size_t n = x->stream->next(out_.data(), cap);
        if (n == 0) {
            if (x->stream->failed()) return close_conn(c, "a record does not fit a message");
            break;
        }
        if (x->tsig) {
            n = x->tsig->sign(out_.data(), n, out_.size(), unix_now_s());
            if (!n) return close_conn(c, "TSIG signing failed");
        }
        append(c, out_.data(), n);
        x->bytes += n + 2;
    }
    if (x && x->stream->done() && c->out.empty() && !c->writing_now) {
        end_transfer(c, nullptr);
        return;
    }
    flush(c);
}

void TcpServer::end_transfer(Conn* c, const char* failure) {
    Transfer* x = c->xfr.get();
    const ZoneTransfer& s = *x->stream;
    std::string zone = s.zone().apex_text, serial = std::to_string(s.zone().serial), client = peer_text(c->peer_sa());
    std::string messages = std::to_string(s.messages()), records = std::to_string(s.records());
    std::string bytes = std::to_string(x->bytes), ms = std::to_string(uv_now(loop_) - x->started_ms);
    std::string key = x->tsig ? x->tsig->key_name() : "-";
    if (failure) svc_.metrics()->inc(svc_.worker(), svc_.ids().axfr_failed);
    if (failure)
        shared::log::warn("dns", "zone transfer failed",
                          {{"zone", zone},
                           {"serial", serial},
                           {"kind", transfer_kind_name(s.kind())},
                           {"client", client},
                           {"tsig", key},
                           {"messages", messages},
                           {"records", records},
                           {"bytes", bytes},
                           {"ms", ms},
                           {"reason", failure}});
    else
        shared::log::info("dns", "zone transfer completed",
                          {{"zone", zone},
                           {"serial", serial},
                           {"kind", transfer_kind_name(s.kind())},
                           {"client", client},
                           {"tsig", key},
                           {"messages", messages},
                           {"records", records},
                           {"bytes", bytes},
                           {"ms", ms}});
    c->xfr.reset();
}

void TcpServer::process(Conn* c) {
    size_t pos = 0;
    uint64_t now = uv_now(loop_);
    if (c->turn != turn_) {
        c->turn = turn_;
        c->turn_answers = 0;
    }
    bool over_budget = false;
    while (can_process(c) && c->in_len - pos >= 2) {
        size_t mlen = (size_t(c->in[pos]) << 8) | c->in[pos + 1];
        if (c->in_len - pos < 2 + mlen) break;
        if (c->turn_answers >= kTurnQueries) {
            over_budget = true;
            break;
        }
        ++c->turn_answers;
        const uint8_t* msg = c->in.data() + pos + 2;
        pos += 2 + mlen;
        c->last_active = now;
        AnswerInfo info;
        size_t n = svc_.handle(msg, mlen, out_.data(), out_.size(), true,
                               svc_.tcp_answers_use_client() ? c->peer_sa() : nullptr, &info);
        if (info.kind == AnswerKind::transfer && info.zone) {
            if (!start_transfer(c, msg, mlen, info)) return;
            continue;
        }
        if (n == 0) {
            if (info.kind == AnswerKind::dropped) continue;
            return close_conn(c, "unanswerable query");
        }
        append(c, out_.data(), n);
    }
    if (c->closing) return;
    if (pos) {
        std::memmove(c->in.data(), c->in.data() + pos, c->in_len - pos);
        c->in_len -= pos;
        c->query_started = now; // whatever follows is the next query's start
    }
    if (c->in_len == 0 && c->in.size() > kInitialInput) std::vector<uint8_t>(kInitialInput).swap(c->in);
    flush(c);
    if (c->closing) return;
    if (finished(c)) return close_conn(c, nullptr);
    if (over_budget) defer(c);
    update_reading(c);
    arm_timer(c);
}

void TcpServer::defer(Conn* c) {
    if (c->deferred) return;
    c->deferred = true;
    deferred_.push_back(c);
    // While connections wait, the loop polls without blocking: their turn comes right after the others'.
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&resume_))) uv_idle_start(&resume_, on_resume);
}

void TcpServer::on_turn(uv_check_t* h) noexcept {
    ++static_cast<TcpServer*>(h->data)->turn_;
}

void TcpServer::on_resume(uv_idle_t* h) noexcept {
    auto* self = static_cast<TcpServer*>(h->data);
    // Processing one connection closes or defers only that one, so the list taken here stays valid.
    self->resuming_.swap(self->deferred_);
    for (Conn* c : self->resuming_) {
        c->deferred = false;
        self->process(c);
    }
    self->resuming_.clear();
    if (self->deferred_.empty()) uv_idle_stop(&self->resume_);
}

} // namespace dns
