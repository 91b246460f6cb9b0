// Listening sockets with SO_REUSEPORT, one per worker, so the kernel spreads connections/datagrams across workers.
// libuv 1.44 has no UV_TCP_REUSEPORT/UV_UDP_REUSEPORT, so the option is set on the socket before bind.
#pragma once

#include <uv.h>

#include "shared/net/address.h"

namespace shared {

// The accept queue of each listening socket: a burst of thousands of connects (a load test starting, a PoP taking
// over an anycast address) waits there instead of being dropped and retried a second later. The kernel clamps it
// to net.core.somaxconn (4096 since Linux 5.4); nginx's default of 511 is why benchmarks raise theirs.
inline constexpr int kListenBacklog = 4096;

// Initializes `tcp` on `loop`, binds it to `addr` with SO_REUSEPORT and TCP_NODELAY (which accepted sockets
// inherit), and listens. Returns 0 or a libuv error
// (EADDRINUSE shows up here, from uv_listen). On error the handle is initialized and must still be closed.
//
// `defer_accept_s` > 0 sets TCP_DEFER_ACCEPT (nginx's `listen ... deferred`): the kernel hands a connection to
// accept only once its first bytes arrived, so a protocol where the client speaks first (HTTP, TLS) reads its
// request right after accept instead of a loop turn later, and a connection that sends nothing costs the server
// nothing until it does. A silent one is still accepted after about `defer_accept_s` seconds (the kernel counts it in
// SYN-ACK retransmits: 1 s, then 3, 7...), so the server's own timeouts bound it; the time it waited there is not
// seen by them. Not for protocols where the server speaks first.
int tcp_listen_reuseport(uv_loop_t* loop, uv_tcp_t* tcp, const SocketAddress& addr, int backlog, uv_connection_cb cb,
                         int defer_accept_s = 0);
// The peer address of a socket accepted from such a listener. getpeername alone says ENOTCONN once the peer has
// reset the connection, and deferred accept makes that common: a whole request, its FIN and an RST can all arrive
// before the accept. SO_PEERNAME still reads the address then. False when neither knows it.
bool accepted_peer(const uv_tcp_t* tcp, sockaddr_storage* out);
// Initializes `udp` (with UV_UDP_RECVMMSG when `mmsg`), binds with SO_REUSEPORT. Same error convention.
int udp_bind_reuseport(uv_loop_t* loop, uv_udp_t* udp, const SocketAddress& addr, bool mmsg);
// The address a bound handle actually has (port 0 → the kernel's choice).
SocketAddress bound_address(const uv_handle_t* handle);

} // namespace shared
