// Response rate limiting in the spirit of NSD/Knot RRL: responses per second per client prefix (/24 for IPv4,
// /56 for IPv6 by default), counted per (prefix, response kind, name) in a fixed table per worker (no allocation, no
// lock: each worker limits the clients the kernel steers to it). Over the limit, answers are dropped, except every
// `slip`-th, which is sent truncated (TC=1, no records) so a legitimate client retries over TCP.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <vector>

namespace dns {

struct RrlConfig {
    bool enabled = false;
    uint32_t responses_per_second = 20;
    uint32_t slip = 2; // 0 = never slip
    uint8_t ipv4_prefix = 24;
    uint8_t ipv6_prefix = 56;
    // Buckets per answering thread (each counts one (prefix, kind, name) for the current second). Keyed by name as
    // well, a busy server has many more keys than clients; a key that lands on a taken bucket takes it over, which
    // resets the count there, so a small table lets a flood through. Knot: 393,241; NSD: 1,000,000.
    uint32_t table_size = 65536;
};

enum class RrlDecision : uint8_t { send, drop, slip };

class RateLimiter {
public:
    explicit RateLimiter(size_t buckets = 0) : table_(buckets) {}
    // Sizes the table (0 frees it); counts start over. Called when settings change, never per query.
    void resize(size_t buckets) {
        if (buckets == table_.size()) return;
        std::vector<Bucket>(buckets).swap(table_);
    }
    size_t size() const noexcept { return table_.size(); }
    // `kind` separates answers from errors/NXDOMAIN (e.g. the rcode); `name` is a hash of the answer's name (the
    // query name, or the imputed one: the zone for NXDOMAIN, the delegation for referrals; 0 for errors), so each
    // (prefix, kind, name) has its own budget; `now_s` is the caller's clock in seconds.
    RrlDecision check(const RrlConfig& cfg, const sockaddr* client, uint16_t kind, uint64_t name,
                      uint64_t now_s) noexcept;

private:
    struct Bucket {
        uint64_t key = 0;
        uint64_t second = 0;
        uint32_t count = 0;
        uint32_t dropped = 0;
    };
    std::vector<Bucket> table_;
};

} // namespace dns
