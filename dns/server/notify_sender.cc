#include "dns/server/notify_sender.h"

#include <sys/socket.h>
#include <unistd.h>

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
            shared::log::warn("dns", "NOTIFY not sent", {{"zone", zone.apex_text}, {"to", t.to_string()},
                                                          {"error", std::strerror(errno)}});
        } else {
            sent++;
            shared::log::info("dns", "NOTIFY sent", {{"zone", zone.apex_text}, {"to", t.to_string()},
                                                      {"serial", std::to_string(zone.serial)}});
        }
        if (fd >= 0) ::close(fd);
    }
    return sent;
}

} // namespace dns
