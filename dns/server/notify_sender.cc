#include "dns/server/notify_sender.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "dns/engine/rr_writer.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/wire_writer.h"
#include "shared/log/log.h"

namespace dns {

std::vector<uint8_t> build_notify(const Zone& zone, uint16_t id, const TsigKey* key, uint64_t now_s) {
    std::vector<uint8_t> buf(1024);
    WireWriter w(buf.data(), buf.size());
    w.u16(id);
    w.u16(static_cast<uint16_t>((opcode::NOTIFY << 11) | flag::AA));
    w.u16(1);
    w.u16(1);
    w.u16(0);
    w.u16(0);
    w.name(zone.apex);
    w.u16(rrtype::SOA);
    w.u16(rrclass::IN);
    if (!write_rrset(w, zone.apex, *zone.soa, zone.soa->ttl)) w.patch_u16(6, 0);
    size_t n = w.pos();
    if (key) {
        size_t s = tsig_sign_request(buf.data(), n, buf.size(), *key, now_s);
        if (s) n = s;
    }
    buf.resize(n);
    return buf;
}

size_t send_notify(const Zone& zone, const std::vector<shared::SocketAddress>& targets, const TsigKey* key) {
    static std::mt19937 rng{std::random_device{}()};
    size_t sent = 0;
    for (const auto& t : targets) {
        auto msg = build_notify(zone, static_cast<uint16_t>(rng()), key, static_cast<uint64_t>(time(nullptr)));
        int fd = socket(t.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, msg.data(), msg.size(), 0, t.sa(), t.len) < 0) {
            shared::log::warn("dns", "NOTIFY not sent",
                              {{"zone", zone.apex_text}, {"to", t.to_string()}, {"error", std::strerror(errno)}});
        } else {
            sent++;
            shared::log::info(
                "dns", "NOTIFY sent",
                {{"zone", zone.apex_text}, {"to", t.to_string()}, {"serial", std::to_string(zone.serial)}});
        }
        if (fd >= 0) ::close(fd);
    }
    return sent;
}

struct NotifySender::Pending {
    NotifySender* owner = nullptr;
    uv_udp_t udp{};
    uv_timer_t timer{};
    shared::SocketAddress to;
    std::string apex, zone_text;
    uint32_t serial = 0;
    std::vector<uint8_t> msg; // unsigned NOTIFY, signed afresh (new time) on each send when there is a key
    std::optional<TsigKey> key;
    uint16_t id = 0;
    unsigned sent = 0;
    uint64_t timeout_ms = 0;
    int handles = 0;
    bool done = false;
    char rbuf[512];
};

namespace {
void on_pending_close(uv_handle_t* h) noexcept {
    auto* p = static_cast<NotifySender::Pending*>(h->data);
    if (--p->handles == 0) delete p;
}

bool same_address(const sockaddr* a, const shared::SocketAddress& b) {
    auto x = shared::SocketAddress::from_sockaddr(a);
    return x && x->to_string() == b.to_string();
}
} // namespace

NotifySender::~NotifySender() {
    // close() and a loop run release the pending ones; nothing may be left to call back into a destroyed sender.
    for (Pending* p : pending_)
        p->owner = nullptr;
}

void NotifySender::notify(const Zone& zone, const std::vector<shared::SocketAddress>& targets, const TsigKey* key) {
    static std::mt19937 rng{std::random_device{}()};
    for (const auto& t : targets) {
        for (Pending* old : std::vector<Pending*>(pending_))
            if (old->apex == zone.apex && old->to.to_string() == t.to_string()) finish(old);
        auto* p = new Pending;
        p->owner = this;
        p->to = t;
        p->apex = zone.apex;
        p->zone_text = zone.apex_text;
        p->serial = zone.serial;
        p->id = static_cast<uint16_t>(rng());
        p->msg = build_notify(zone, p->id);
        if (key) p->key = *key;
        p->timeout_ms = first_timeout_ms_;
        p->udp.data = p;
        p->timer.data = p;
        if (uv_udp_init(loop_, &p->udp) != 0) {
            delete p;
            continue;
        }
        p->handles = 1;
        uv_timer_init(loop_, &p->timer);
        p->handles = 2;
        pending_.push_back(p);
        // An ephemeral socket of its own: the secondary's answer comes back to it, matched by address and id.
        sockaddr_storage any{};
        any.ss_family = static_cast<sa_family_t>(t.family());
        int rc = uv_udp_bind(&p->udp, reinterpret_cast<const sockaddr*>(&any), 0);
        if (rc == 0)
            rc = uv_udp_recv_start(
                &p->udp,
                [](uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
                    auto* pp = static_cast<Pending*>(h->data);
                    *b = uv_buf_init(pp->rbuf, sizeof pp->rbuf);
                },
                on_recv);
        if (rc != 0) {
            shared::log::warn("dns", "NOTIFY not sent",
                              {{"zone", p->zone_text}, {"to", t.to_string()}, {"error", uv_strerror(rc)}});
            finish(p);
            continue;
        }
        send(p);
    }
}

void NotifySender::send(Pending* p) {
    std::vector<uint8_t> m = p->msg;
    if (p->key) {
        m.resize(p->msg.size() + 512);
        size_t n = tsig_sign_request(m.data(), p->msg.size(), m.size(), *p->key, static_cast<uint64_t>(time(nullptr)));
        m.resize(n ? n : p->msg.size());
    }
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(m.data()), static_cast<unsigned>(m.size()));
    int rc = uv_udp_try_send(&p->udp, &b, 1, p->to.sa());
    p->sent++;
    if (rc < 0)
        shared::log::warn("dns", "NOTIFY not sent",
                          {{"zone", p->zone_text}, {"to", p->to.to_string()}, {"error", uv_strerror(rc)}});
    else if (p->sent == 1)
        shared::log::info("dns", "NOTIFY sent",
                          {{"zone", p->zone_text}, {"to", p->to.to_string()}, {"serial", std::to_string(p->serial)}});
    uv_timer_start(&p->timer, on_timer, p->timeout_ms, 0);
    p->timeout_ms *= 2;
}

void NotifySender::on_timer(uv_timer_t* t) noexcept {
    auto* p = static_cast<Pending*>(t->data);
    NotifySender* self = p->owner;
    if (!self || p->done) return;
    if (p->sent < self->attempts_) return self->send(p);
    self->given_up_++;
    shared::log::warn("dns", "NOTIFY not answered; the secondary will notice at its SOA refresh",
                      {{"zone", p->zone_text},
                       {"to", p->to.to_string()},
                       {"serial", std::to_string(p->serial)},
                       {"attempts", std::to_string(p->sent)}});
    self->finish(p);
}

void NotifySender::on_recv(uv_udp_t* u, ssize_t n, const uv_buf_t*, const sockaddr* from, unsigned) noexcept {
    auto* p = static_cast<Pending*>(u->data);
    NotifySender* self = p->owner;
    if (!self || p->done || n < 12 || !from || !same_address(from, p->to)) return;
    const auto* r = reinterpret_cast<const uint8_t*>(p->rbuf);
    uint16_t id = static_cast<uint16_t>((r[0] << 8) | r[1]);
    uint16_t flags = static_cast<uint16_t>((r[2] << 8) | r[3]);
    if (id != p->id || !(flags & flag::QR) || ((flags >> 11) & 0xF) != opcode::NOTIFY) return;
    unsigned rc = flags & 0xF;
    if (rc == rcode::NOERROR) {
        self->acknowledged_++;
        shared::log::info("dns", "NOTIFY answered",
                          {{"zone", p->zone_text}, {"to", p->to.to_string()}, {"serial", std::to_string(p->serial)}});
    } else {
        // A refusal will not change on retry: the secondary's configuration must.
        shared::log::warn("dns", "NOTIFY refused by the secondary",
                          {{"zone", p->zone_text}, {"to", p->to.to_string()}, {"rcode", std::to_string(rc)}});
    }
    self->finish(p);
}

void NotifySender::finish(Pending* p) {
    if (p->done) return;
    p->done = true;
    pending_.erase(std::remove(pending_.begin(), pending_.end(), p), pending_.end());
    uv_udp_recv_stop(&p->udp);
    uv_timer_stop(&p->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&p->udp), on_pending_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&p->timer), on_pending_close);
}

void NotifySender::close() {
    for (Pending* p : std::vector<Pending*>(pending_))
        finish(p);
}

} // namespace dns
