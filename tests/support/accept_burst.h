// A burst of new connections against a server on a libuv loop that the test drives one turn at a time, for tests of
// what a server does in the turn that accepts them. Every connection of the burst sends its request and is in the
// listener's accept queue before that turn (deferred accept queues a connection only once its first bytes arrived),
// so libuv's accept loop takes them all in it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstddef>
#include <vector>

#include "support/loopback_client.h"

namespace test_support {

class AcceptBurst {
  public:
    AcceptBurst() = default;
    AcceptBurst(const AcceptBurst&) = delete;
    AcceptBurst& operator=(const AcceptBurst&) = delete;
    ~AcceptBurst() {
        for (int fd : clients)
            close(fd);
    }

    // Opens `n` connections to the listener on loopback `port` (a server of this process), each sending `request`,
    // and waits (up to about a second) until all are in its accept queue. False when they are not.
    bool open(int port, unsigned n, const void* request, size_t len) {
        listener_ = listener_fd(port);
        if (listener_ < 0) return false;
        for (unsigned i = 0; i < n; i++) {
            int fd = connect_loopback(port);
            if (fd < 0) return false;
            clients.push_back(fd);
            if (send(fd, request, len, 0) != static_cast<ssize_t>(len)) return false;
        }
        for (int i = 0; i < 1000 && queued() < n; i++)
            usleep(1000);
        return queued() == n;
    }
    // Connections in the listener's accept queue (TCP_INFO of a listening socket reports it as tcpi_unacked).
    long queued() const {
        tcp_info ti{};
        socklen_t len = sizeof ti;
        if (getsockopt(listener_, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
        return ti.tcpi_unacked;
    }
    // Clients with something to read (or EOF).
    unsigned answered() const {
        unsigned n = 0;
        for (int fd : clients) {
            pollfd p{fd, POLLIN, 0};
            n += poll(&p, 1, 0) == 1 && (p.revents & POLLIN) ? 1 : 0;
        }
        return n;
    }
    // Runs one loop turn and returns how many clients were answered in it. An answer written in that turn is in its
    // client's socket well before the pause (loopback), and no other can come while the loop does not run.
    unsigned run_turn(uv_loop_t* loop) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(20'000);
        return answered();
    }
    // Runs turns until every client was answered (at most 100); returns how many were.
    unsigned run_until_answered(uv_loop_t* loop) {
        for (int turn = 0; turn < 100 && answered() < clients.size(); turn++) {
            uv_run(loop, UV_RUN_NOWAIT);
            usleep(1000);
        }
        return answered();
    }

    std::vector<int> clients;

  private:
    // The IPv4 listening socket on `port` in this process (servers keep their descriptors to themselves), or -1.
    static int listener_fd(int port) {
        for (int fd = 3; fd < 4096; fd++) {
            int on = 0;
            socklen_t len = sizeof on;
            if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) continue;
            sockaddr_in sa{};
            socklen_t salen = sizeof sa;
            if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &salen) == 0 && sa.sin_family == AF_INET &&
                ntohs(sa.sin_port) == port)
                return fd;
        }
        return -1;
    }

    int listener_ = -1;
};

} // namespace test_support
