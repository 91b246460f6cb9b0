// A listener's accept queue as the kernel sees it, for tests that drive a server's loop one turn at a time and need
// every connection of a burst queued before the turn that accepts them (deferred accept queues a connection only once
// its first bytes arrived), and what its clients received after that turn.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace test_support {

// The IPv4 listening socket on `port` in this process (servers keep their descriptors to themselves), or -1.
inline int listener_fd(int port) {
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

// Connections waiting in a listener's accept queue (TCP_INFO of a listening socket reports it as tcpi_unacked), or
// -1 when it cannot be read.
inline long accept_queue(int listener) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (getsockopt(listener, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
    return ti.tcpi_unacked;
}

// Waits up to about a second for `n` connections in the accept queue; returns how many there are.
inline long wait_accept_queue(int listener, long n) {
    for (int i = 0; i < 1000 && accept_queue(listener) < n; i++)
        usleep(1000);
    return accept_queue(listener);
}

// How many of `fds` have something to read (or EOF) now.
inline unsigned readable_count(const std::vector<int>& fds) {
    unsigned n = 0;
    for (int fd : fds) {
        pollfd p{fd, POLLIN, 0};
        n += poll(&p, 1, 0) == 1 && (p.revents & POLLIN) ? 1 : 0;
    }
    return n;
}

} // namespace test_support
