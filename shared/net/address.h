// Socket addresses from config strings: "127.0.0.1:8080", "[::1]:5300", "*:80" (IPv4 any), "[::]:80".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace shared {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t len = 0;
    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
    int family() const { return storage.ss_family; }
    uint16_t port() const;
    void set_port(uint16_t p);
    std::string to_string() const;   // "127.0.0.1:8080" / "[::1]:5300"
    std::string ip_string() const;   // "127.0.0.1" / "::1"
    static std::optional<SocketAddress> from_sockaddr(const sockaddr* sa);
};

// Parses a literal IP address with a port. On failure returns nullopt and sets *err to a reason.
std::optional<SocketAddress> parse_socket_address(std::string_view s, std::string* err);
// Splits "host:port" / "[v6]:port" into host and port without resolving (for origins with names).
bool split_host_port(std::string_view s, std::string* host, uint16_t* port, std::string* err);

} // namespace shared
