#include "dns/config/address_acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace dns {

std::optional<Cidr> parse_cidr(std::string_view s, std::string* err) {
    std::string text(s);
    Cidr c;
    int bits = -1;
    auto slash = text.find('/');
    if (slash != std::string::npos) {
        std::string b = text.substr(slash + 1);
        text.resize(slash);
        if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos) {
            *err = "bad prefix length in \"" + std::string(s) + "\"";
            return std::nullopt;
        }
        bits = std::stoi(b);
    }
    if (inet_pton(AF_INET, text.c_str(), c.addr) == 1) {
        c.family = AF_INET;
        if (bits < 0) bits = 32;
        if (bits > 32) {
            *err = "prefix length over 32 in \"" + std::string(s) + "\"";
            return std::nullopt;
        }
    } else if (inet_pton(AF_INET6, text.c_str(), c.addr) == 1) {
        c.family = AF_INET6;
        if (bits < 0) bits = 128;
        if (bits > 128) {
            *err = "prefix length over 128 in \"" + std::string(s) + "\"";
            return std::nullopt;
        }
    } else {
        *err = "\"" + std::string(s) + "\" is not an IP address or CIDR prefix";
        return std::nullopt;
    }
    c.bits = static_cast<uint8_t>(bits);
    return c;
}

namespace {
bool prefix_match(const uint8_t* a, const uint8_t* b, unsigned bits) {
    unsigned full = bits / 8;
    if (std::memcmp(a, b, full) != 0) return false;
    unsigned rest = bits % 8;
    if (!rest) return true;
    uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}
} // namespace

bool AddressAcl::allows(const sockaddr* sa) const noexcept {
    if (!sa) return false;
    const uint8_t* addr = nullptr;
    int family = sa->sa_family;
    if (family == AF_INET) {
        addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
    } else if (family == AF_INET6) {
        addr = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        if (std::memcmp(addr, mapped, 12) == 0) {
            family = AF_INET;
            addr += 12;
        }
    } else {
        return false;
    }
    for (const auto& c : entries_)
        if (c.family == family && prefix_match(addr, c.addr, c.bits)) return true;
    return false;
}

} // namespace dns
