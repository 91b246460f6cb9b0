#include "dns/server/rate_limiter.h"

#include <netinet/in.h>

#include <cstring>

namespace dns {

RrlDecision RateLimiter::check(const RrlConfig& cfg, const sockaddr* client, uint16_t kind, uint64_t name,
                               uint64_t now_s) noexcept {
    if (!cfg.enabled || !client || table_.empty()) return RrlDecision::send;
    uint64_t key = 1469598103934665603ull;
    auto mix = [&key](uint8_t b) { key = (key ^ b) * 1099511628211ull; };
    const uint8_t* addr;
    unsigned bits;
    if (client->sa_family == AF_INET) {
        addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(client)->sin_addr);
        bits = cfg.ipv4_prefix;
        mix(4);
    } else if (client->sa_family == AF_INET6) {
        addr = reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr.s6_addr;
        bits = cfg.ipv6_prefix;
        mix(6);
    } else {
        return RrlDecision::send;
    }
    for (unsigned i = 0; i < bits / 8; i++) mix(addr[i]);
    if (bits % 8) mix(static_cast<uint8_t>(addr[bits / 8] & (0xFF << (8 - bits % 8))));
    mix(static_cast<uint8_t>(kind));
    mix(static_cast<uint8_t>(kind >> 8));
    key ^= name;
    key *= 0x9E3779B97F4A7C15ull;
    Bucket& b = table_[key % table_.size()];
    if (b.key != key || b.second != now_s) {
        // A new second (or a colliding prefix taking the slot over) starts a fresh count.
        b.key = key;
        b.second = now_s;
        b.count = 0;
        b.dropped = 0;
    }
    if (++b.count <= cfg.responses_per_second) return RrlDecision::send;
    ++b.dropped;
    if (cfg.slip && b.dropped % cfg.slip == 0) return RrlDecision::slip;
    return RrlDecision::drop;
}

} // namespace dns
