// One-shot HTTP(S) requests on a libuv loop: resolve the host (shared::Resolver), connect, send one request,
// collect the status, headers and the start of the body. Meant for health checks and tools; the edge's origin
// fetches use edge/upstream/origin_pool.h (streaming, keep-alive) instead.
//
// Thread: the loop's thread only.
#pragma once

#include "shared/http/http_connection.h"
#include "shared/http/http_error.h"
#include "shared/http/http_headers.h"
#include "shared/net/resolver.h"
#include "shared/tls/tls_client_context.h"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace shared {

// "http://host[:port]/path?query" or "https://..." split into parts (IPv6 hosts in brackets, returned without).
struct HttpUrl {
    bool tls = false;
    std::string host;
    uint16_t port = 80;
    std::string target = "/";
};
// Returns false and sets *err on anything that is not an absolute http/https URL.
bool parse_http_url(std::string_view url, HttpUrl* out, std::string* err);

struct HttpClientOptions {
    std::string host;          // name or IP literal; also the default Host header and TLS server name
    uint16_t port = 80;
    bool tls = false;
    // Required when tls is true (build one with TlsClientContext::create and share it).
    std::shared_ptr<TlsClientContext> tls_context;
    std::string method = "GET";
    std::string target = "/";
    HttpHeaders headers;       // Host is added from `host` (and port if not default) unless present here
    std::string body;
    uint32_t connect_timeout_ms = 5000;
    uint32_t first_byte_timeout_ms = 10000;
    uint32_t idle_timeout_ms = 10000;
    uint32_t total_timeout_ms = 0;    // 0: none; otherwise the whole exchange incl. resolving, as TimeoutFirstByte
    size_t max_body_bytes = 64 * 1024;  // body bytes kept in the result; the rest is read and discarded
    size_t max_response_header_bytes = 64 * 1024;
};

struct HttpClientResult {
    HttpError error = HttpError::None;  // None: a complete response arrived (any status)
    int status = 0;
    HttpHeaders headers;
    std::string body;                   // first max_body_bytes of the body
    bool body_cut = false;              // the body was longer than max_body_bytes
    uint64_t elapsed_ms = 0;
    std::string detail;                 // why it failed (resolver / TLS / parser reason), for logs
};

// A running request. Destroying it cancels the request (its callback will not run); it may be destroyed from
// inside its own callback.
class HttpClientRequest {
public:
    using Callback = std::function<void(const HttpClientResult&)>;
    // Starts the request; the callback runs exactly once, never synchronously from start(). `resolver` must
    // outlive the request.
    static std::unique_ptr<HttpClientRequest> start(uv_loop_t* loop, Resolver* resolver, HttpClientOptions opts,
                                                    Callback cb);
    ~HttpClientRequest();
    HttpClientRequest(const HttpClientRequest&) = delete;
    HttpClientRequest& operator=(const HttpClientRequest&) = delete;

    struct Impl;

private:
    explicit HttpClientRequest(Impl* impl) : impl_(impl) {}
    Impl* impl_;  // detached and freed by the loop when the request is cancelled
};

} // namespace shared
