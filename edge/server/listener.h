// A listening socket of one worker (SO_REUSEPORT, so every worker has its own and the kernel spreads connections).
// Accepted connections become ClientConns in the worker's ConnSet. A connection from a client address that has
// max_connections_per_address open already (counted across the process, shared/net/source_limit.h) is closed at
// once. At max_connections a new connection closes the longest-idle one it finds (ConnSet::reclaim_idle), or, when
// none is idle, is itself closed at once.
// Thread: the worker loop only. Created with open(); close() frees it after the loop ran the close callbacks.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>

#include "edge/server/client_conn.h"
#include "shared/net/address.h"
#include "shared/net/deferred_accept.h"

namespace edge {

// What max_connections did, all workers (the edge's metrics).
struct ConnLimitStats {
    std::atomic<uint64_t> reclaimed{0};           // idle connections closed to let a new one in
    std::atomic<uint64_t> refused{0};             // new connections closed at once: none was idle
    std::atomic<uint64_t> refused_per_address{0}; // closed at once: their address had max_connections_per_address
};
ConnLimitStats& conn_limit_stats();

class Listener {
  public:
    // `settings`, `max_connections`, `max_per_address` and `tls` are read at each accept (the worker updates them on
    // reload); `max_per_address` (may be null: no limit) counts in conns->sources(), and 0 there skips even the
    // look-up of the client's address; `tls`
    // non-null makes this an HTTPS listener (each connection starts on the context current at its accept).
    // `defer_accept`: TCP_DEFER_ACCEPT on the listener (HTTP and HTTPS: the viewer speaks first in both), and each
    // connection reads its request (or ClientHello) at its accept, within the listener's EagerReadBudget
    // (shared/net/deferred_accept.h).
    // Returns nullptr and sets *err (a libuv error) when binding or listening failed.
    static Listener* open(uv_loop_t* loop, const shared::SocketAddress& addr, ConnSet* conns, RequestHandler* handler,
                          const ConnSettings* settings, const uint32_t* max_connections,
                          const uint32_t* max_per_address, int* err,
                          const std::shared_ptr<shared::TlsServerContext>* tls = nullptr, bool defer_accept = false);
    void close();
    const shared::SocketAddress& address() const { return bound_; }

  private:
    Listener() = default;
    static void on_connection(uv_stream_t* server, int status) noexcept;
    static void on_close(uv_handle_t* h) noexcept;
    // At max_connections: closes an idle connection for the new one; false when none was idle.
    bool make_room();

    uv_tcp_t tcp_{};
    shared::SocketAddress bound_;
    ConnSet* conns_ = nullptr;
    RequestHandler* handler_ = nullptr;
    const ConnSettings* settings_ = nullptr;
    const uint32_t* max_connections_ = nullptr;
    const uint32_t* max_per_address_ = nullptr;
    const std::shared_ptr<shared::TlsServerContext>* tls_ = nullptr;
    bool defer_accept_ = false;
    shared::EagerReadBudget eager_reads_;
    int open_handles_ = 0; // tcp_ and eager_reads_'s: freed when both closed
    bool closed_ = false;
};

} // namespace edge
