// dns/server/tcp_source_limit.h: connections counted per address (IPv6 per /64) and released.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/server/tcp_source_limit.h"

using namespace dns;

namespace {
sockaddr_in v4(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}
sockaddr_in6 v6(const char* ip) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}
const sockaddr* sa(const void* p) {
    return static_cast<const sockaddr*>(p);
}
} // namespace

TEST_CASE("TCP source limit: per address, any port; released connections free their slot", "[dns][server][tcp]") {
    TcpSourceLimit l;
    auto a1 = v4("192.0.2.1", 1000), a2 = v4("192.0.2.1", 2000), b = v4("192.0.2.2", 1000);
    CHECK(l.acquire(sa(&a1), 2));
    CHECK(l.acquire(sa(&a2), 2));
    CHECK_FALSE(l.acquire(sa(&a1), 2)); // third from the same address, whatever the port
    CHECK(l.acquire(sa(&b), 2));
    CHECK(l.count(sa(&a1)) == 2);
    l.release(sa(&a2));
    CHECK(l.acquire(sa(&a1), 2));
    l.release(sa(&a1));
    l.release(sa(&a1));
    CHECK(l.count(sa(&a1)) == 0);
    // 0 = no limit.
    for (int i = 0; i < 100; i++)
        CHECK(l.acquire(sa(&b), 0));
}

TEST_CASE("TCP source limit: IPv6 counted per /64", "[dns][server][tcp]") {
    TcpSourceLimit l;
    auto x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"), z = v6("2001:db8:1:3::1");
    CHECK(l.acquire(sa(&x), 1));
    CHECK_FALSE(l.acquire(sa(&y), 1)); // same /64
    CHECK(l.acquire(sa(&z), 1));
    auto v = v4("0.0.0.1", 0); // an IPv4 address never shares a count with IPv6
    CHECK(l.acquire(sa(&v), 1));
}
