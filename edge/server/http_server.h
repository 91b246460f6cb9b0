// The HTTP side of one worker: its listeners (one SO_REUSEPORT socket per configured address, IPv4 and IPv6) and
// its connections, and the graceful part of stopping: stop accepting, let responses in flight finish, close idle
// keep-alive connections, and report when nothing is left (or force-close at the deadline).
// Thread: the worker loop only.
#pragma once

#include <uv.h>

#include <functional>
#include <vector>

#include "edge/config/edge_config.h"
#include "edge/server/client_conn.h"
#include "edge/server/listener.h"
#include "shared/net/address.h"

namespace edge {

// The connection settings of the [limits] section.
ConnSettings conn_settings_of(const LimitsConfig& limits);

class HttpServer {
  public:
    // `max_per_address` and `sources` (both or neither): the limit per client address and the process's table it
    // counts in (Listener::open).
    HttpServer(uv_loop_t* loop, RequestHandler* handler, const ConnSettings* settings, const uint32_t* max_connections,
               const uint32_t* max_per_address = nullptr, shared::SourceConnLimit* sources = nullptr);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // 0 or a libuv error (EADDRINUSE...). `tls`: an HTTPS listener whose connections start on *tls as it is at
    // their accept (the owner replaces it on reload, on this loop). `defer_accept`: see Listener::open.
    int listen(const shared::SocketAddress& addr, const std::shared_ptr<shared::TlsServerContext>* tls = nullptr,
               bool defer_accept = false);
    std::vector<shared::SocketAddress> addresses() const;
    size_t connections() const { return conns_.size(); }
    // Reload: see ConnSet::goaway_http2.
    void goaway_http2() { conns_.goaway_http2(); }

    // Stops accepting and drains. `idle` says whether the rest of the worker is done too (e.g. no detached fill
    // left); `done` runs once there is no connection and idle() is true, or at `deadline_ms` after connections were
    // force-closed and idle() became true.
    void shutdown(uint64_t deadline_ms, std::function<bool()> idle, std::function<void()> done);

  private:
    static void on_poll(uv_timer_t* t) noexcept;
    uv_loop_t* loop_;
    RequestHandler* handler_;
    const ConnSettings* settings_;
    const uint32_t* max_connections_;
    const uint32_t* max_per_address_;
    ConnSet conns_;
    std::vector<Listener*> listeners_;
    uv_timer_t* poll_ = nullptr;
    uint64_t deadline_ = 0;
    bool forced_ = false;
    std::function<bool()> idle_;
    std::function<void()> done_;
};

} // namespace edge
