// A listening socket of one worker (SO_REUSEPORT, so every worker has its own and the kernel spreads connections).
// Accepted connections become ClientConns in the worker's ConnSet. At max_connections a new connection closes the
// longest-idle one it finds (ConnSet::reclaim_idle), or, when none is idle, is itself closed at once.
// Thread: the worker loop only. Created with open(); close() frees it after the loop ran the close callback.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>

#include "edge/server/client_conn.h"
#include "shared/net/address.h"

namespace edge {

// TCP_DEFER_ACCEPT on the viewer listeners (HTTP and HTTPS: the viewer speaks first in both), as nginx's `listen ...
// deferred`: a connection reaches accept with its request (or ClientHello) already in the socket, which the edge then
// reads at once (ClientConn::accept), so a one-request connection is accept, read, write, close without an epoll
// round trip. One second, nginx's value, because the header and handshake timeouts count from the accept and cannot
// see the time a connection waited in the kernel: a silent connection is accepted after about a second and then
// timed out as before (the keep-alive timeout until its first byte, header_timeout from it), so the deferral adds at
// most that second to any deadline. Longer would let a silent connection outlast the configured timeouts.
inline constexpr int kDeferAcceptSeconds = 1;
// Connections read (and often answered and closed) at their accept, per listener and loop turn. libuv accepts until
// the queue is empty; a connection answered inside that loop lets its client connect again at once, so without a bound
// a stream of one-request clients could keep the worker in the accept loop, its timers and origin sockets waiting.
// Past the bound a connection waits for epoll as without deferral. 64 is what the parser's storage pool keeps (the
// connections closed in a turn keep theirs until the turn ends).
inline constexpr unsigned kEagerReadsPerTurn = 64;

// What max_connections did, all workers (the edge's metrics).
struct ConnLimitStats {
    std::atomic<uint64_t> reclaimed{0}; // idle connections closed to let a new one in
    std::atomic<uint64_t> refused{0};   // new connections closed at once: none was idle
};
ConnLimitStats& conn_limit_stats();

class Listener {
  public:
    // `settings`, `max_connections` and `tls` are read at each accept (the worker updates them on reload); `tls`
    // non-null makes this an HTTPS listener (each connection starts on the context current at its accept).
    // `defer_accept`: TCP_DEFER_ACCEPT (kDeferAcceptSeconds), and each connection reads at its accept.
    // Returns nullptr and sets *err (a libuv error) when binding or listening failed.
    static Listener* open(uv_loop_t* loop, const shared::SocketAddress& addr, ConnSet* conns, RequestHandler* handler,
                          const ConnSettings* settings, const uint32_t* max_connections, int* err,
                          const std::shared_ptr<shared::TlsServerContext>* tls = nullptr, bool defer_accept = false);
    void close();
    const shared::SocketAddress& address() const { return bound_; }

  private:
    Listener() = default;
    static void on_connection(uv_stream_t* server, int status) noexcept;
    static void on_close(uv_handle_t* h) noexcept;

    uv_tcp_t tcp_{};
    shared::SocketAddress bound_;
    ConnSet* conns_ = nullptr;
    RequestHandler* handler_ = nullptr;
    const ConnSettings* settings_ = nullptr;
    const uint32_t* max_connections_ = nullptr;
    const std::shared_ptr<shared::TlsServerContext>* tls_ = nullptr;
    bool defer_accept_ = false;
    uint64_t turn_ms_ = 0;     // uv_now of the turn eager_reads_ counts in (turns within one ms share the budget)
    unsigned eager_reads_ = 0; // kEagerReadsPerTurn
    bool closed_ = false;
};

} // namespace edge
