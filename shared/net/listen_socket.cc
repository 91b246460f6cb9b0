#include "shared/net/listen_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace shared {

namespace {
int set_reuseport(uv_handle_t* h) {
    uv_os_fd_t fd;
    if (int rc = uv_fileno(h, &fd)) return rc;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return uv_translate_sys_error(errno);
    return 0;
}
} // namespace

int tcp_listen_reuseport(uv_loop_t* loop, uv_tcp_t* tcp, const SocketAddress& addr, int backlog, uv_connection_cb cb,
                         int defer_accept_s) {
    if (int rc = uv_tcp_init_ex(loop, tcp, static_cast<unsigned>(addr.family()))) {
        // init_ex failed: make the handle closable anyway with a plain init.
        uv_tcp_init(loop, tcp);
        return rc;
    }
    if (int rc = set_reuseport(reinterpret_cast<uv_handle_t*>(tcp))) return rc;
    if (addr.family() == AF_INET6) {
        // Keep [::] from also taking IPv4: IPv4 listeners are configured on their own.
        uv_os_fd_t fd;
        uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
        int on = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    }
    if (int rc = uv_tcp_bind(tcp, addr.sa(), 0)) return rc;
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux copies the listener's options into each new
    // socket), which saves a setsockopt per connection: answers go out whole, without waiting for the previous
    // one's acknowledgment.
    if (int rc = uv_tcp_nodelay(tcp, 1)) return rc;
    if (defer_accept_s > 0) {
        uv_os_fd_t fd;
        uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
        if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_accept_s, sizeof defer_accept_s) != 0)
            return uv_translate_sys_error(errno);
    }
    return uv_listen(reinterpret_cast<uv_stream_t*>(tcp), backlog, cb);
}

bool accepted_peer(const uv_tcp_t* tcp, sockaddr_storage* out) {
    *out = sockaddr_storage{};
    int len = sizeof *out;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(out), &len) == 0) return true;
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(tcp), &fd) != 0) return false;
    // SO_PEERNAME wants the address's exact length: IPv6 first, then IPv4.
    for (socklen_t n : {socklen_t{sizeof(sockaddr_in6)}, socklen_t{sizeof(sockaddr_in)}}) {
        socklen_t l = n;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERNAME, out, &l) == 0) return true;
    }
    *out = sockaddr_storage{};
    return false;
}

int udp_bind_reuseport(uv_loop_t* loop, uv_udp_t* udp, const SocketAddress& addr, bool mmsg) {
    unsigned flags = static_cast<unsigned>(addr.family());
    if (mmsg) flags |= UV_UDP_RECVMMSG;
    if (int rc = uv_udp_init_ex(loop, udp, flags)) {
        uv_udp_init(loop, udp);
        return rc;
    }
    if (int rc = set_reuseport(reinterpret_cast<uv_handle_t*>(udp))) return rc;
    return uv_udp_bind(udp, addr.sa(), addr.family() == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
}

SocketAddress bound_address(const uv_handle_t* handle) {
    SocketAddress a;
    int len = sizeof(a.storage);
    if (handle->type == UV_TCP)
        uv_tcp_getsockname(reinterpret_cast<const uv_tcp_t*>(handle), reinterpret_cast<sockaddr*>(&a.storage), &len);
    else if (handle->type == UV_UDP)
        uv_udp_getsockname(reinterpret_cast<const uv_udp_t*>(handle), reinterpret_cast<sockaddr*>(&a.storage), &len);
    a.len = static_cast<socklen_t>(len);
    return a;
}

} // namespace shared
