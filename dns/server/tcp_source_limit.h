// Open TCP connections per client address, across every worker of the process (SO_REUSEPORT spreads one client's
// connections over all of them), so one address cannot take the connection slots good clients need. IPv6 clients
// are counted per /64, the smallest block one host is usually given. Taken once per accepted connection (not per
// query), so a mutex is enough.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace dns {

class TcpSourceLimit {
  public:
    // Counts one more connection from `peer` when it has fewer than `limit` (0 = no limit, still counted).
    bool acquire(const sockaddr* peer, uint32_t limit);
    void release(const sockaddr* peer);
    uint32_t count(const sockaddr* peer) const;

  private:
    static bool key_of(const sockaddr* peer, __uint128_t* key) noexcept;
    mutable std::mutex mu_;
    struct Hash {
        size_t operator()(__uint128_t k) const noexcept {
            uint64_t a = static_cast<uint64_t>(k), b = static_cast<uint64_t>(k >> 64);
            return static_cast<size_t>((a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull);
        }
    };
    std::unordered_map<__uint128_t, uint32_t, Hash> counts_;
};

} // namespace dns
