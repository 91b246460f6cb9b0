#include "dns/server/tcp_source_limit.h"

#include <netinet/in.h>

#include <cstring>

namespace dns {

bool TcpSourceLimit::key_of(const sockaddr* peer, __uint128_t* key) noexcept {
    if (!peer) return false;
    if (peer->sa_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(peer);
        *key = (static_cast<__uint128_t>(1) << 64) | ntohl(a->sin_addr.s_addr);
        return true;
    }
    if (peer->sa_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(peer);
        uint64_t hi;
        std::memcpy(&hi, a->sin6_addr.s6_addr, 8);
        *key = (static_cast<__uint128_t>(2) << 64) ^ hi;
        return true;
    }
    return false;
}

bool TcpSourceLimit::acquire(const sockaddr* peer, uint32_t limit) {
    __uint128_t k;
    if (!key_of(peer, &k)) return true;
    std::lock_guard lock(mu_);
    uint32_t& n = counts_[k];
    if (limit && n >= limit) {
        if (n == 0) counts_.erase(k);
        return false;
    }
    n++;
    return true;
}

void TcpSourceLimit::release(const sockaddr* peer) {
    __uint128_t k;
    if (!key_of(peer, &k)) return;
    std::lock_guard lock(mu_);
    auto it = counts_.find(k);
    if (it == counts_.end()) return;
    if (--it->second == 0) counts_.erase(it);
}

uint32_t TcpSourceLimit::count(const sockaddr* peer) const {
    __uint128_t k;
    if (!key_of(peer, &k)) return 0;
    std::lock_guard lock(mu_);
    auto it = counts_.find(k);
    return it == counts_.end() ? 0 : it->second;
}

} // namespace dns
