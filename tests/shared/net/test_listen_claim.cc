// One instance per listen address: a second claim (another process, or one that binds with SO_REUSEPORT behind our
// back) is refused, while the workers of the claiming instance still share the port with SO_REUSEPORT.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/loop/worker.h"
#include "shared/net/listen_claim.h"
#include "shared/net/listen_socket.h"

namespace {

shared::SocketAddress addr(const char* text) {
    auto a = shared::parse_socket_address(text, nullptr);
    REQUIRE(a);
    return *a;
}

bool has_ipv6_loopback() {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    close(fd);
    return ok;
}

} // namespace

TEST_CASE("listen claim: port 0 is chosen once; the claiming instance's workers share it", "[shared][net][claim]") {
    shared::ListenClaims claims;
    auto a = addr("127.0.0.1:0");
    std::string msg;
    REQUIRE(claims.claim(&a, true, true, &msg) == 0);
    CHECK(a.port() != 0);

    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t w1, w2;
    uv_udp_t u1, u2;
    CHECK(shared::tcp_listen_reuseport(&loop, &w1, a, 16, [](uv_stream_t*, int) {}) == 0);
    CHECK(shared::tcp_listen_reuseport(&loop, &w2, a, 16, [](uv_stream_t*, int) {}) == 0);
    CHECK(shared::udp_bind_reuseport(&loop, &u1, a, false) == 0);
    CHECK(shared::udp_bind_reuseport(&loop, &u2, a, false) == 0);
    CHECK(shared::bound_address(reinterpret_cast<uv_handle_t*>(&w2)).port() == a.port());
    CHECK(shared::bound_address(reinterpret_cast<uv_handle_t*>(&u2)).port() == a.port());

    // A second instance: the same address is refused, naming it, whether or not the first one's workers have bound.
    shared::ListenClaims second;
    auto b = a;
    CHECK(second.claim(&b, true, false, &msg) == UV_EADDRINUSE);
    CHECK_THAT(msg, Catch::Contains("bind tcp " + a.to_string() + ": Address already in use") &&
                        Catch::Contains("another process is serving it"));
    CHECK(second.claim(&b, false, true, &msg) == UV_EADDRINUSE);
    CHECK_THAT(msg, Catch::Contains("bind udp " + a.to_string()));
    // Also the wildcard address over the same port (the probe sees the overlap).
    auto any = addr("0.0.0.0:0");
    any.set_port(a.port());
    CHECK(second.claim(&any, true, false, &msg) == UV_EADDRINUSE);

    for (auto* h : {reinterpret_cast<uv_handle_t*>(&w1), reinterpret_cast<uv_handle_t*>(&w2),
                    reinterpret_cast<uv_handle_t*>(&u1), reinterpret_cast<uv_handle_t*>(&u2)})
        uv_close(h, nullptr);
    CHECK(shared::close_loop(&loop) == 0);

    // The sockets are gone but the first instance still holds its claim (it could rebind at any time).
    CHECK(second.claim(&b, true, false, &msg) == UV_EADDRINUSE);
    claims.release();
    CHECK(second.claim(&b, true, true, &msg) == 0);
}

TEST_CASE("listen claim: a port served by any other socket is refused, SO_REUSEPORT or not", "[shared][net][claim]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t other_tcp;
    uv_udp_t other_udp;
    // Another program listening with SO_REUSEPORT (nginx with `reuseport`, or an old Meridian): a plain
    // SO_REUSEPORT bind would join its group, the claim does not.
    REQUIRE(shared::tcp_listen_reuseport(&loop, &other_tcp, addr("127.0.0.1:0"), 16, [](uv_stream_t*, int) {}) == 0);
    auto taken = shared::bound_address(reinterpret_cast<uv_handle_t*>(&other_tcp));
    std::string msg;
    shared::ListenClaims claims;
    auto a = taken;
    CHECK(claims.claim(&a, true, false, &msg) == UV_EADDRINUSE);
    CHECK_THAT(msg, Catch::Contains(taken.to_string()));
    // UDP (a DNS server answering UDP on the port). Claimed for UDP alone: the same port number for TCP may be any
    // connection's local port on a busy machine.
    REQUIRE(shared::udp_bind_reuseport(&loop, &other_udp, addr("127.0.0.1:0"), false) == 0);
    auto udp_taken = shared::bound_address(reinterpret_cast<uv_handle_t*>(&other_udp));
    a = udp_taken;
    CHECK(claims.claim(&a, false, true, &msg) == UV_EADDRINUSE);
    CHECK_THAT(msg, Catch::Contains("bind udp " + udp_taken.to_string()));
    uv_close(reinterpret_cast<uv_handle_t*>(&other_tcp), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&other_udp), nullptr);
    CHECK(shared::close_loop(&loop) == 0);
}

TEST_CASE("listen claim: connections in TIME_WAIT on the port do not count", "[shared][net][claim]") {
    // A listener whose accepted connection closed first (server side in TIME_WAIT), as after a restart.
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    socklen_t len = sizeof sa;
    getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len);
    REQUIRE(listen(l, 4) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    int s = accept(l, nullptr, nullptr);
    REQUIRE(s >= 0);
    close(s); // the server closes first: its side ends in TIME_WAIT
    char buf[1];
    CHECK(read(c, buf, 1) == 0);
    close(c);
    close(l);
    usleep(50 * 1000);
    // The premise: a bind without SO_REUSEADDR is refused while the TIME_WAIT lasts.
    int plain = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(bind(plain, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0);
    close(plain);
    auto a = *shared::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa));
    shared::ListenClaims claims;
    std::string msg;
    CHECK(claims.claim(&a, true, false, &msg) == 0);
    INFO(msg);
}

TEST_CASE("listen claim: IPv6 is v6only, as the workers bind it", "[shared][net][claim]") {
    if (!has_ipv6_loopback()) return;
    shared::ListenClaims claims;
    auto v6 = addr("[::1]:0");
    std::string msg;
    REQUIRE(claims.claim(&v6, true, true, &msg) == 0);
    shared::ListenClaims other;
    auto again = v6;
    CHECK(other.claim(&again, true, false, &msg) == UV_EADDRINUSE);
    CHECK_THAT(msg, Catch::Contains("[::1]:" + std::to_string(v6.port())));

    // [::] is claimed v6only, as the workers bind it: a program on 0.0.0.0 of the same port is no conflict (a
    // dual-stack probe would collide with it).
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t v4_listener;
    REQUIRE(shared::tcp_listen_reuseport(&loop, &v4_listener, addr("0.0.0.0:0"), 16, [](uv_stream_t*, int) {}) == 0);
    auto any6 = addr("[::]:0");
    any6.set_port(shared::bound_address(reinterpret_cast<uv_handle_t*>(&v4_listener)).port());
    CHECK(other.claim(&any6, true, false, &msg) == 0);
    INFO(msg);
    uv_close(reinterpret_cast<uv_handle_t*>(&v4_listener), nullptr);
    CHECK(shared::close_loop(&loop) == 0);
}

TEST_CASE("listen claim: an address listed twice in one config is claimed once", "[shared][net][claim]") {
    shared::ListenClaims claims;
    auto a = addr("127.0.0.1:0");
    std::string msg;
    REQUIRE(claims.claim(&a, true, false, &msg) == 0);
    auto b = a;
    CHECK(claims.claim(&b, true, false, &msg) == 0);
}
