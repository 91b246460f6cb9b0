// The admin listener both daemons run on their main loop: GET /_meridian/metrics (Prometheus text) and
// GET /_meridian/health (200 "ok" or 503 "draining"), plus any extra paths a daemon registers. HTTP/1.1 with
// keep-alive, parsed by llhttp, with small limits: it is an operator endpoint, not a public server. Its time and
// connection limits (admin_limits.h) keep it answering while slow or hostile clients hold connections.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "shared/http/admin_limits.h"
#include "shared/net/address.h"

namespace shared {

class MetricsRegistry;

struct AdminResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

class AdminServer {
  public:
    // Returns true when it handled the path (GET/HEAD only reach handlers).
    using Handler = std::function<bool(std::string_view path, AdminResponse& out)>;

    AdminServer(uv_loop_t* loop, MetricsRegistry* metrics, std::function<AdminResponse()> health,
                AdminLimits limits = {});
    ~AdminServer();
    void add_handler(Handler h);
    // 0 or a libuv error.
    int listen(const SocketAddress& addr);
    SocketAddress address() const;
    // Closes the listener and every connection; the loop must run afterwards to finish closing.
    void close();

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

} // namespace shared
