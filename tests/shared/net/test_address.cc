#include <catch2/catch.hpp>

#include "shared/net/address.h"

TEST_CASE("socket addresses parse from config strings", "[shared][net]") {
    std::string err;
    auto a = shared::parse_socket_address("127.0.0.1:5300", &err);
    REQUIRE(a);
    CHECK(a->family() == AF_INET);
    CHECK(a->port() == 5300);
    CHECK(a->to_string() == "127.0.0.1:5300");
    auto b = shared::parse_socket_address("[::1]:80", &err);
    REQUIRE(b);
    CHECK(b->family() == AF_INET6);
    CHECK(b->to_string() == "[::1]:80");
    CHECK(shared::parse_socket_address("*:80", &err)->to_string() == "0.0.0.0:80");
    CHECK_FALSE(shared::parse_socket_address("::1:80", &err));
    CHECK(err == "IPv6 addresses need brackets: \"[::1]:port\"");
    CHECK_FALSE(shared::parse_socket_address("127.0.0.1:70000", &err));
    CHECK(err == "invalid port \"70000\"");
    CHECK_FALSE(shared::parse_socket_address("127.0.0.1", &err));
    CHECK_FALSE(shared::parse_socket_address("[::1]80", &err));
    CHECK_FALSE(shared::parse_socket_address(":80", &err));
    std::string host;
    uint16_t port;
    CHECK(shared::split_host_port("origin.example:8443", &host, &port, &err));
    CHECK(host == "origin.example");
    CHECK(port == 8443);
}
