#include "dns/server/tcp_server.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "dns/engine/query_engine.h"
#include "dns/engine/zone_transfer.h"
#include "dns/server/tsig_session.h"
#include "dns/wire/dns_constants.h"
#include "shared/log/log.h"
#include "shared/net/listen_socket.h"

namespace dns {

namespace {
constexpr size_t kHighWater = 1 << 20; // stop reading a client whose answers pile up
constexpr size_t kLowWater = 256 << 10;
} // namespace

struct TcpServer::Conn {
    TcpServer* srv = nullptr;
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    std::vector<uint8_t> in = std::vector<uint8_t>(4096);
    size_t in_len = 0;
    uint64_t last_active = 0;
    int open_handles = 0;
    int pending_writes = 0;
    bool closing = false;
    bool reading = false;
    bool eof = false;
    sockaddr_storage peer{};

    static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
        auto* c = static_cast<Conn*>(h->data);
        if (c->in.size() - c->in_len < 1024) c->in.resize(std::min<size_t>(c->in.size() * 2, 65537 + 4096));
        *buf = uv_buf_init(reinterpret_cast<char*>(c->in.data() + c->in_len),
                           static_cast<unsigned>(c->in.size() - c->in_len));
    }
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        auto* c = static_cast<Conn*>(s->data);
        if (nread < 0) {
            c->eof = true;
            if (c->pending_writes == 0) c->srv->close_conn(c);
            else uv_read_stop(s);
            return;
        }
        c->in_len += static_cast<size_t>(nread);
        c->last_active = uv_now(c->srv->loop_);
        c->srv->process(c);
    }
    static void on_timer(uv_timer_t* t) noexcept {
        auto* c = static_cast<Conn*>(t->data);
        uint64_t idle = c->srv->svc_.settings().tcp_idle_timeout_ms;
        uint64_t now = uv_now(c->srv->loop_);
        if (now - c->last_active >= idle) {
            c->srv->close_conn(c); // RFC 7766 §6.2.3: the server may close idle connections
            return;
        }
        uv_timer_start(&c->timer, on_timer, idle - (now - c->last_active), 0);
    }
    static void on_close(uv_handle_t* h) noexcept {
        auto* c = static_cast<Conn*>(h->data);
        if (--c->open_handles == 0) delete c;
    }
};

namespace {
struct WriteReq {
    uv_write_t req{};
    std::vector<uint8_t> data;
    TcpServer::Conn* conn = nullptr;
};
} // namespace

TcpServer::~TcpServer() = default;

int TcpServer::start(uv_loop_t* loop, const shared::SocketAddress& addr) {
    loop_ = loop;
    int rc = shared::tcp_listen_reuseport(loop, &listener_, addr, 1024, on_connection);
    initialized_ = true;
    listener_.data = this;
    return rc;
}

shared::SocketAddress TcpServer::address() const {
    return shared::bound_address(reinterpret_cast<const uv_handle_t*>(&listener_));
}

void TcpServer::close() {
    closing_ = true;
    if (initialized_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_)))
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    auto conns = conns_;
    for (Conn* c : conns) close_conn(c);
}

void TcpServer::on_connection(uv_stream_t* s, int status) noexcept {
    auto* self = static_cast<TcpServer*>(s->data);
    if (status < 0 || self->closing_) return;
    auto* c = new Conn;
    c->srv = self;
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
        c->closing = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Conn::on_close);
        return;
    }
    auto& m = *self->svc_.metrics();
    if (self->conns_.size() >= self->svc_.settings().max_tcp_connections) {
        m.inc(self->svc_.worker(), self->svc_.ids().tcp_refused);
        c->closing = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Conn::on_close);
        return;
    }
    int len = sizeof c->peer;
    uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&c->peer), &len);
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_init(self->loop_, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    c->last_active = uv_now(self->loop_);
    uv_timer_start(&c->timer, Conn::on_timer, self->svc_.settings().tcp_idle_timeout_ms, 0);
    self->conns_.push_back(c);
    m.gauge_add(self->svc_.worker(), self->svc_.ids().tcp_connections, 1);
    c->reading = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), Conn::on_alloc, Conn::on_read);
}

void TcpServer::close_conn(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    conns_.erase(std::remove(conns_.begin(), conns_.end(), c), conns_.end());
    svc_.metrics()->gauge_add(svc_.worker(), svc_.ids().tcp_connections, -1);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), Conn::on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Conn::on_close);
}

void TcpServer::send(Conn* c, std::vector<uint8_t> framed) {
    auto* w = new WriteReq;
    w->data = std::move(framed);
    w->conn = c;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    c->pending_writes++;
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, [](uv_write_t* req, int status) noexcept {
        auto* w = static_cast<WriteReq*>(req->data);
        Conn* c = w->conn;
        delete w;
        c->pending_writes--;
        if (c->closing) return;
        if (status < 0 || (c->eof && c->pending_writes == 0)) {
            c->srv->close_conn(c);
            return;
        }
        auto* s = reinterpret_cast<uv_stream_t*>(&c->tcp);
        if (!c->reading && uv_stream_get_write_queue_size(s) < kLowWater) {
            c->reading = true;
            uv_read_start(s, Conn::on_alloc, Conn::on_read);
            c->srv->process(c); // queries that arrived while paused
        }
    });
    if (rc < 0) {
        c->pending_writes--;
        delete w;
        close_conn(c);
        return;
    }
    auto* s = reinterpret_cast<uv_stream_t*>(&c->tcp);
    if (c->reading && uv_stream_get_write_queue_size(s) > kHighWater) {
        c->reading = false;
        uv_read_stop(s);
    }
}

bool TcpServer::transfer(Conn* c, const uint8_t* msg, size_t mlen, const AnswerInfo& info) {
    const auto* peer = reinterpret_cast<const sockaddr*>(&c->peer);
    auto* m = svc_.metrics();
    const auto& st = svc_.settings();
    // Allowed by address, or by a TSIG the engine verified (RFC 8945); the engine itself answered a bad TSIG with
    // NOTAUTH, so a signed request here is a verified one, and every message of its answer is signed.
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_s = static_cast<uint64_t>(ts.tv_sec);
    std::unique_ptr<TsigSession> tsig = TsigSession::for_request(msg, mlen, info, now_s);
    bool allowed = st.axfr_allow.allows(peer) || tsig;
    uint8_t refuse_rcode = rcode::REFUSED;
    if (!allowed) {
        m->inc(svc_.worker(), svc_.ids().axfr_refused);
        shared::log::warn("dns", "zone transfer refused", {{"zone", info.zone->apex_text}});
        size_t n = write_response_header(msg, info.question_end, out_.data(), out_.size());
        if (!n) {
            close_conn(c);
            return false;
        }
        out_[2] &= static_cast<uint8_t>(~(flag::AA >> 8));
        out_[3] = static_cast<uint8_t>((out_[3] & 0xF0) | refuse_rcode);
        std::vector<uint8_t> framed(2 + n);
        framed[0] = static_cast<uint8_t>(n >> 8);
        framed[1] = static_cast<uint8_t>(n);
        std::memcpy(framed.data() + 2, out_.data(), n);
        send(c, std::move(framed));
        return true;
    }
    m->inc(svc_.worker(), svc_.ids().axfr);
    std::vector<uint8_t> all;
    bool sign_ok = true;
    auto append = [&all](const uint8_t* p, size_t len) {
        all.push_back(static_cast<uint8_t>(len >> 8));
        all.push_back(static_cast<uint8_t>(len));
        all.insert(all.end(), p, p + len);
    };
    // Messages stay well under 64 KiB so a TSIG record always fits after them.
    bool ok = write_axfr(*info.zone, msg, info.question_end, out_.data(), 16384, [&](const uint8_t* p, size_t len) {
        if (!tsig) return append(p, len);
        // The message builder's buffer has room past its 16 KiB cap: sign in place (RFC 8945 §5.3.1).
        size_t n = tsig->sign(const_cast<uint8_t*>(p), len, out_.size(), now_s);
        if (!n) sign_ok = false;
        else append(p, n);
    });
    if (!ok || !sign_ok) {
        shared::log::error("dns", ok ? "zone transfer failed: TSIG signing failed"
                                     : "zone transfer failed: an RRset does not fit a message",
                           {{"zone", info.zone->apex_text}});
        close_conn(c);
        return false;
    }
    shared::log::info("dns", "zone transfer", {{"zone", info.zone->apex_text}, {"serial", std::to_string(info.zone->serial)},
                                               {"tsig", tsig ? tsig->key_name() : "-"}});
    send(c, std::move(all));
    return true;
}

void TcpServer::process(Conn* c) {
    size_t pos = 0;
    while (!c->closing && c->reading && c->in_len - pos >= 2) {
        size_t mlen = (size_t(c->in[pos]) << 8) | c->in[pos + 1];
        if (c->in_len - pos < 2 + mlen) {
            if (c->in.size() < 2 + mlen + 1024) c->in.resize(2 + mlen + 1024);
            break;
        }
        const uint8_t* msg = c->in.data() + pos + 2;
        pos += 2 + mlen;
        AnswerInfo info;
        const auto* peer = reinterpret_cast<const sockaddr*>(&c->peer);
        size_t n = svc_.handle(msg, mlen, out_.data(), out_.size(), true, peer, &info);
        if (info.kind == AnswerKind::transfer && info.zone) {
            if (!transfer(c, msg, mlen, info)) return;
            continue;
        }
        if (n == 0) {
            if (info.kind == AnswerKind::dropped) continue;
            close_conn(c);
            return;
        }
        std::vector<uint8_t> framed(2 + n);
        framed[0] = static_cast<uint8_t>(n >> 8);
        framed[1] = static_cast<uint8_t>(n);
        std::memcpy(framed.data() + 2, out_.data(), n);
        send(c, std::move(framed));
    }
    if (pos) {
        std::memmove(c->in.data(), c->in.data() + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

} // namespace dns
