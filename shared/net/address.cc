#include "shared/net/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace shared {

uint16_t SocketAddress::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return 0;
}

void SocketAddress::set_port(uint16_t p) {
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(p);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(p);
}

std::string SocketAddress::ip_string() const {
    char buf[INET6_ADDRSTRLEN] = "";
    if (family() == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
    else if (family() == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof buf);
    return buf;
}

std::string SocketAddress::to_string() const {
    if (family() == AF_INET6) return "[" + ip_string() + "]:" + std::to_string(port());
    return ip_string() + ":" + std::to_string(port());
}

std::optional<SocketAddress> SocketAddress::from_sockaddr(const sockaddr* sa) {
    SocketAddress a;
    if (!sa) return std::nullopt;
    if (sa->sa_family == AF_INET) {
        std::memcpy(&a.storage, sa, sizeof(sockaddr_in));
        a.len = sizeof(sockaddr_in);
    } else if (sa->sa_family == AF_INET6) {
        std::memcpy(&a.storage, sa, sizeof(sockaddr_in6));
        a.len = sizeof(sockaddr_in6);
    } else {
        return std::nullopt;
    }
    return a;
}

bool split_host_port(std::string_view s, std::string* host, uint16_t* port, std::string* err) {
    std::string_view h, p;
    if (!s.empty() && s[0] == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            if (err) *err = "expected \"[ipv6]:port\"";
            return false;
        }
        h = s.substr(1, close - 1);
        p = s.substr(close + 2);
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string_view::npos) {
            if (err) *err = "expected \"host:port\"";
            return false;
        }
        h = s.substr(0, colon);
        p = s.substr(colon + 1);
        if (h.find(':') != std::string_view::npos) {
            if (err) *err = "IPv6 addresses need brackets: \"[::1]:port\"";
            return false;
        }
    }
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v > 65535) {
        if (err) *err = "invalid port \"" + std::string(p) + "\"";
        return false;
    }
    if (h.empty()) {
        if (err) *err = "missing host";
        return false;
    }
    *host = std::string(h);
    *port = static_cast<uint16_t>(v);
    return true;
}

std::optional<SocketAddress> parse_socket_address(std::string_view s, std::string* err) {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(s, &host, &port, err)) return std::nullopt;
    SocketAddress a;
    if (host == "*") host = "0.0.0.0";
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len = sizeof(sockaddr_in);
        return a;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len = sizeof(sockaddr_in6);
        return a;
    }
    if (err) *err = "\"" + host + "\" is not an IP address";
    return std::nullopt;
}

} // namespace shared
