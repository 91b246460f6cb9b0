// The proxy logic of one worker: for each viewer request, health check → path normalization → behavior match →
// allowed methods (405 + Allow) → cache lookup. A fresh hit is answered right here, synchronously and without heap
// allocation: one gather write of the stored header block, the per-response lines and the body slices of the
// ref-counted object. Everything else (misses, collapsed waits, revalidation, pass-through) becomes a
// ProxySession. Answers go to a Viewer (the connection, or a test's fake); the event loop, the thread pool and the
// origin connections are reached through ProxyIo, so nothing here touches a socket or a loop.
//
// Thread: one ProxyHandler per worker, used only on that worker's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edge/access_log/access_log.h"
#include "edge/http/byte_range.h"
#include "edge/http/response_writer.h"
#include "edge/proxy/detached_viewer.h"
#include "edge/proxy/edge_runtime.h"
#include "edge/proxy/proxy_io.h"
#include "edge/proxy/viewer.h"
#include "shared/http/http_headers.h"

namespace edge {

class ProxySession;

class ProxyHandler final : public RequestHandler {
  public:
    // `io` must outlive the handler.
    ProxyHandler(ProxyIo& io, unsigned shard, const EdgeServices& services, std::shared_ptr<const EdgeRuntime> runtime);
    ~ProxyHandler() override;
    ProxyHandler(const ProxyHandler&) = delete;
    ProxyHandler& operator=(const ProxyHandler&) = delete;

    // SIGHUP: new requests use the new snapshot; requests in flight keep theirs.
    void set_runtime(std::shared_ptr<const EdgeRuntime> runtime);
    const std::shared_ptr<const EdgeRuntime>& runtime() const { return runtime_; }
    void handle(Viewer& viewer, const HttpRequest& req) override;
    void reject(Viewer& viewer, int status, const char* reason) override;
    void on_conn_open() override;
    void on_conn_close() override;

    // ---- for ProxySession ----
    ProxyIo& io() const { return io_; }
    unsigned shard() const { return shard_; }
    const EdgeServices& services() const { return services_; }
    std::string_view date() { return dates_.http_date(wall_ms() / 1000); }
    // The Date a reuse of `obj` carries: the stored response's own (RFC 9110 §6.6.1, RFC 9111 §4), not the time
    // of the reuse; the current time only for an object that has none.
    std::string_view date_of(const CachedObject& obj) {
        return obj.date_s() > 0 ? stored_dates_.http_date(obj.date_s()) : date();
    }
    // Milliseconds since the Unix epoch (the cache's clock).
    static uint64_t wall_ms();
    // Writes the head for a stored object: block + Date/Age/X-Cache/Via/Content-Length|chunked/Connection + CRLF,
    // into viewer.head_buffer(), and queues it together with `body` (at most 2 buffers) in one gather write.
    // Returns the head bytes queued. With `range` (a complete 200 object), the head is a 206 for that byte range
    // (status line replaced, Content-Range, Content-Length of the range).
    // `status_override` (a custom error response) replaces the stored status line. `cache_status` (a hit when
    // left default) gets the object's ttl and goes out as Cache-Status. `extra_lines` ("Name: value\r\n"...) go
    // out after the edge's fields: those this viewer may see but the stored object must not hold. `policy` (the
    // viewer's behavior's response headers policy, for a request whose Origin is `request_origin`) filters the
    // stored fields and adds its own (edge/proxy/viewer_headers.h); the stored object is never changed.
    size_t write_object_head(Viewer& viewer, const CachedObject& obj, CacheResult result, bool keep_alive, bool chunked,
                             bool known_length, bool http10, uint64_t now_ms, const OutBuf* body = nullptr,
                             unsigned nbody = 0, const ByteRange* range = nullptr, const FileSpan* file_body = nullptr,
                             int status_override = 0, CacheStatus cache_status = {}, std::string_view extra_lines = {},
                             const ResponseHeadersPolicy* policy = nullptr, std::string_view request_origin = {});
    // CloudFront's custom error responses: answers the GET/HEAD `req` on `viewer` with `er`'s page (fetched through
    // the cache like a request for that path) and its status, instead of an error answer. False (nothing written)
    // when `er` has no page or `req` is not a GET or HEAD.
    // `policy`: the response headers policy of the behavior the viewer's own request matched, owned by
    // `policy_owner` (a session's snapshot, which a reload may have replaced: the page's session keeps it alive; null
    // = this handler's current one).
    bool serve_error_page(Viewer& viewer, const HttpRequest& req, const ErrorResponseConfig& er,
                          const ResponseHeadersPolicy* policy,
                          std::shared_ptr<const EdgeRuntime> policy_owner = nullptr);
    // An answer generated by the edge (errors, redirects, preflights): X-Cache Error for status >= 400 when `result`
    // says so; `policy` adds the behavior's response headers (without its CORS fields unless `policy_cors`). A 204
    // goes out without body and Content-Length.
    void send_simple(Viewer& viewer, const HttpRequest* req, int status, std::string_view body, CacheResult result,
                     std::string_view extra_headers = {}, bool keep_alive = true,
                     const ResponseHeadersPolicy* policy = nullptr, bool policy_cors = true);
    // Logs and counts a finished response.
    void log_request(Viewer& viewer, const HttpRequest* req, int status, CacheResult result, uint64_t bytes);
    void session_started(ProxySession* s);
    void session_finished(ProxySession* s);
    size_t live_sessions() const { return live_sessions_.size(); }
    // Worker stop past its grace period: cancels every origin fetch still running (fills in progress fail, so
    // nothing partial is stored) so the worker can finish.
    void abort_sessions();
    // Worker stop, once no exchange is alive: flushes the access log, closes the origin connections (ProxyIo).
    void shutdown();
    void flush_access_log() { access_log_.flush(); }
    // Variants of `identity_key` (both codings) refreshed with `f` when tied to `identity` as it was before a
    // revalidation (expiry `old_expires_at_ms`): a RefreshHit keeps them usable instead of compressing again.
    void refresh_variants(std::string_view identity_key, const CachedObject& identity, uint64_t old_expires_at_ms,
                          const Freshness& f);
    // After a new identity object was stored: variants not made from it are erased (they would never be served).
    void drop_stale_variants(std::string_view identity_key, const CachedObject& identity);
    // RFC 9111 §4.4: the origin answered the unsafe request `req` with a non-error status, so the stored answers
    // for its target URI, and for the Location / Content-Location of `response` on the same host, are stale: they
    // are dropped with their compressed variants. Keys with cache_key_headers/_cookies are dropped for the values
    // this request carries.
    void invalidate_after_unsafe(const HttpRequest& req, const shared::HttpHeaders& response);

    // RFC 9110 §14 for a GET of a 200 object of `size` bytes (complete, or announced while it fills): the Range
    // (and If-Range) outcome.
    RangeOutcome range_of(const HttpRequest& req, const CachedObject& obj, uint64_t size, ByteRange* range) const;
    // 416 with "Content-Range: bytes */size".
    void send_unsatisfiable(Viewer& viewer, const HttpRequest& req, uint64_t size, const ResponseHeadersPolicy* policy);

  private:
    // Drops the stored answer (and variants) for `raw_path`?`raw_query` on `host`, keyed like `req` would be.
    void invalidate_uri(const HttpRequest& req, std::string_view host, std::string_view raw_path,
                        std::string_view raw_query);
    // What the behavior answers itself, before any cache lookup: the viewer protocol policy's redirect (or 403), a
    // CORS preflight, the behavior's redirect. True when it answered.
    bool answer_at_edge(Viewer& viewer, const HttpRequest& req, const BehaviorConfig& b, std::string_view path);
    // `status` with Location `location` (and a one-line body), counted as a Redirect.
    void send_redirect(Viewer& viewer, const HttpRequest& req, int status, std::string_view location,
                       const ResponseHeadersPolicy* policy);
    // `status_override`: serving a custom error page (no conditional or range handling, the status replaced).
    bool serve_hit(Viewer& viewer, const HttpRequest& req, const ResponseHeadersPolicy* policy,
                   const Ref<CachedObject>& obj, CacheResult result, uint64_t now_ms, int status_override = 0);
    // RFC 5861 §3: `stale` is past its expiry but within stale-while-revalidate. Starts one background refresh of
    // `key` (none when one is already running) and answers from `stale` at once. False when it does not apply.
    bool serve_while_revalidating(Viewer& viewer, const HttpRequest& req, const BehaviorConfig& b,
                                  std::string_view path, uint64_t hash, const Ref<CachedObject>& stale,
                                  uint64_t now_ms);
    void apply_runtime();

    ProxyIo& io_;
    unsigned shard_;
    EdgeServices services_;
    std::shared_ptr<const EdgeRuntime> runtime_;
    DateCache dates_;
    DateCache stored_dates_; // the last stored Date formatted: hits on one object in a row format it once
    AccessLogBuffer access_log_;
    std::vector<ProxySession*> live_sessions_;
    DetachedViewer background_; // the viewer of background refreshes
    // Scratch reused by every request (the hit path must not allocate).
    std::string path_buf_;
    std::string key_;
    std::string rewrite_buf_;  // a behavior's rewritten path
    std::string redirect_buf_; // a redirect's Location
    std::string vkey_;         // variant key scratch
    size_t plain_key_len_ = 0; // key_ is a Vary variant's: the length of the plain key in front (0: plain)
};

} // namespace edge
