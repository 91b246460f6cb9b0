// The admin listener both daemons run on their main loop: GET /_meridian/metrics (Prometheus text) and
// GET /_meridian/health (200 "ok" or 503 "draining"), plus any extra paths a daemon registers. HTTP/1.1 with
// keep-alive, parsed by llhttp, with small limits: it is an operator endpoint, not a public server. Its time and
// connection limits (admin_limits.h) keep it answering while slow or hostile clients hold connections.
// An optional token (set_token, admin.token_file) closes every path but health to requests without it.
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
    std::string extra_headers; // whole lines ("WWW-Authenticate: Bearer\r\n")
};

// A request as request handlers see it (views valid during the call).
struct AdminRequest {
    std::string_view method;
    std::string_view path; // without the query
    std::string_view query;
    std::string_view authorization; // the Authorization header ("" when absent)
    std::string_view body;          // at most kMaxBody bytes (larger: 413 before any handler)
    static constexpr size_t kMaxBody = 1 << 20;
};

class AdminServer {
  public:
    // Returns true when it handled the path (GET/HEAD only reach handlers).
    using Handler = std::function<bool(std::string_view path, AdminResponse& out)>;

    AdminServer(uv_loop_t* loop, MetricsRegistry* metrics, std::function<AdminResponse()> health,
                AdminLimits limits = {});
    ~AdminServer();
    void add_handler(Handler h);
    // Handlers for any method (with the Authorization header and the body), asked before the GET-only ones.
    // `own_auth`: the handler checks its own credentials (the invalidation API's token), so the read token does not
    // apply to its paths.
    using RequestHandler = std::function<bool(const AdminRequest& req, AdminResponse& out)>;
    void add_request_handler(RequestHandler h, bool own_auth = false);
    // With a token (admin.token_file), every path but /_meridian/health and the own_auth handlers' answers 401
    // with WWW-Authenticate unless the request carries it (shared/http/bearer_token.h); "" = open.
    void set_token(std::string token);
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
