// An allow-list of CIDR prefixes ("192.0.2.0/24", "2001:db8::/32", a bare address = a host) matched against
// client addresses (AXFR access).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dns {

struct Cidr {
    int family = 0; // AF_INET / AF_INET6
    uint8_t bits = 0;
    uint8_t addr[16] = {};
};

std::optional<Cidr> parse_cidr(std::string_view s, std::string* err);

class AddressAcl {
public:
    void add(const Cidr& c) { entries_.push_back(c); }
    bool empty() const { return entries_.empty(); }
    // IPv4-mapped IPv6 clients match IPv4 entries.
    bool allows(const sockaddr* sa) const noexcept;

private:
    std::vector<Cidr> entries_;
};

} // namespace dns
