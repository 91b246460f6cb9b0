// tcp_listen_reuseport's deferred accept: set only when asked (the DNS daemon's TCP listener and the admin listener
// keep accepting at once), and then the kernel holds a connection back from accept until its first bytes arrive.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "shared/net/listen_socket.h"
#include "support/accept_burst.h"

namespace {

shared::SocketAddress loopback() {
    auto a = shared::parse_socket_address("127.0.0.1:0", nullptr);
    REQUIRE(a);
    return *a;
}

int defer_accept_of(uv_tcp_t* tcp) {
    uv_os_fd_t fd;
    REQUIRE(uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) == 0);
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len) == 0);
    return v;
}

int connect_to(int port) {
    int fd = test_support::connect_loopback(port);
    REQUIRE(fd >= 0);
    return fd;
}

struct Accepted {
    int count = 0;
};

void count_accept(uv_stream_t* server, int status) {
    if (status < 0) return;
    auto* t = new uv_tcp_t;
    uv_tcp_init(server->loop, t);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(t)) == 0) ++static_cast<Accepted*>(server->data)->count;
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
}

// Runs the loop for about `ms` (a timer bounds uv_run).
void run_for(uv_loop_t* loop, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(
        &t, [](uv_timer_t* h) { uv_stop(h->loop); }, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
}

} // namespace

TEST_CASE("tcp listener: TCP_DEFER_ACCEPT only when asked; a silent connection waits, a talking one is accepted",
          "[shared][net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t plain, deferred;
    Accepted plain_n, deferred_n;
    plain.data = &plain_n;
    deferred.data = &deferred_n;
    REQUIRE(shared::tcp_listen_reuseport(&loop, &plain, loopback(), 16, count_accept) == 0);
    REQUIRE(shared::tcp_listen_reuseport(&loop, &deferred, loopback(), 16, count_accept, 1) == 0);
    CHECK(defer_accept_of(&plain) == 0);
    CHECK(defer_accept_of(&deferred) > 0);

    int p = connect_to(shared::bound_address(reinterpret_cast<uv_handle_t*>(&plain)).port());
    int d_port = shared::bound_address(reinterpret_cast<uv_handle_t*>(&deferred)).port();
    int silent = connect_to(d_port);
    run_for(&loop, 200);
    CHECK(plain_n.count == 1);
    CHECK(deferred_n.count == 0); // held in the kernel: no byte yet (the deferral is 1 s)

    int talking = connect_to(d_port);
    REQUIRE(send(talking, "x", 1, 0) == 1);
    run_for(&loop, 200);
    CHECK(deferred_n.count == 1);

    for (int fd : {p, silent, talking})
        close(fd);
    uv_close(reinterpret_cast<uv_handle_t*>(&plain), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&deferred), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

namespace {

struct PeerSeen {
    bool accepted = false;
    bool known = false;
    sockaddr_storage peer{};
};

void note_peer(uv_stream_t* server, int status) {
    if (status < 0) return;
    auto* seen = static_cast<PeerSeen*>(server->data);
    auto* t = new uv_tcp_t;
    uv_tcp_init(server->loop, t);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(t)) == 0) {
        seen->accepted = true;
        seen->known = shared::accepted_peer(t, &seen->peer);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
}

} // namespace

TEST_CASE("tcp listener: the peer of a connection that reset before its accept is still known", "[shared][net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t listener;
    PeerSeen seen;
    listener.data = &seen;
    REQUIRE(shared::tcp_listen_reuseport(&loop, &listener, loopback(), 16, note_peer, 1) == 0);
    // A whole client life before the server's accept: request, FIN, then RST (getpeername: ENOTCONN from here on).
    int c = connect_to(shared::bound_address(reinterpret_cast<uv_handle_t*>(&listener)).port());
    REQUIRE(send(c, "GET / HTTP/1.1\r\n\r\n", 18, 0) == 18);
    shutdown(c, SHUT_WR);
    linger lg{1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
    run_for(&loop, 200);
    REQUIRE(seen.accepted);
    CHECK(seen.known);
    auto a = shared::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&seen.peer));
    REQUIRE(a);
    CHECK(a->ip_string() == "127.0.0.1");
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}
