// Fetching from an "http" origin, per worker: a keep-alive pool of HttpConnections to one origin (host:port,
// optionally TLS), the origin's name resolved with the worker's shared::Resolver (cached for its TTL), and one
// retry when a reused pooled connection turns out to be dead before any response byte arrived (only for
// idempotent methods, or when the request was not fully written yet). A name with several addresses is tried
// in order: a refused connect moves on to the next address (nothing was sent, so any method may). Errors use
// shared::HttpError (http_error_status() maps them to 502/504).
//
// Thread: one OriginPool per origin per worker, used only on that worker's loop thread.
#pragma once

#include "shared/http/http_connection.h"
#include "shared/http/http_error.h"
#include "shared/http/http_headers.h"
#include "shared/net/resolver.h"
#include "shared/tls/tls_client_context.h"
#include "edge/upstream/origin_stream.h"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edge {

// One origin's connection settings (built from an [[origin]] config section by the caller).
struct OriginSettings {
    std::string host;              // name or IP literal
    uint16_t port = 80;
    bool tls = false;
    std::shared_ptr<shared::TlsClientContext> tls_context;  // required when tls is true
    std::string tls_server_name;   // SNI / certificate name; empty = host
    uint32_t connect_timeout_ms = 5000;
    uint32_t first_byte_timeout_ms = 30000;
    uint32_t idle_timeout_ms = 30000;        // between response bytes
    uint32_t max_idle_connections = 32;      // kept per worker; more are closed when they finish
    uint32_t keepalive_timeout_ms = 30000;   // how long an unused pooled connection is kept
    size_t max_response_header_bytes = 64 * 1024;
};

class OriginPool;

// A fetch in progress. Destroying it cancels the fetch (the connection is closed unless it was already done).
class OriginFetch final : public OriginStream {
public:
    ~OriginFetch() override;
    OriginFetch(const OriginFetch&) = delete;
    OriginFetch& operator=(const OriginFetch&) = delete;

    // Backpressure from a slow viewer: stop / restart reading from the origin.
    void pause() override;
    void resume() override;
    // No callback runs after this. Idempotent.
    void cancel();
    // True if the fetch was retried once on a fresh connection.
    bool retried() const { return retried_; }

private:
    friend class OriginPool;
    struct Exchange;
    OriginFetch(OriginPool* pool, OriginRequest req, OriginCallbacks cb);
    void begin(bool fresh_only);
    void on_resolved(int status, const std::vector<shared::SocketAddress>& addrs);
    void start_on(shared::HttpConnection* conn);
    void on_head(const shared::HttpResponseHead& head);
    void on_interim(const shared::HttpResponseHead& head);
    bool on_body(std::string_view data);
    void on_complete();
    void on_error(OriginError err);
    void finish_error(OriginError err);
    // Runs a user callback; false if the fetch was destroyed inside it (then `this` must not be touched).
    template <class F> bool guarded(F&& f);

    OriginPool* pool_;
    OriginRequest req_;
    OriginCallbacks cb_;
    std::unique_ptr<Exchange> exchange_;
    shared::HttpConnection* conn_ = nullptr;
    shared::Resolver::RequestId resolve_id_ = 0;
    bool* destroyed_flag_ = nullptr;  // set by the destructor while a callback is running
    bool done_ = false;
    bool retried_ = false;
    bool paused_ = false;
    bool in_begin_ = false;
    bool deferred_ = false;
    size_t addr_index_ = 0;     // which of the origin's addresses the current connection went to
    size_t addr_attempts_ = 0;  // fresh connections tried by this fetch
    OriginError deferred_error_ = OriginError::None;
    OriginFetch* next_deferred_ = nullptr;
    OriginFetch* live_prev_ = nullptr;  // the pool's list of live fetches (cancelled if the pool goes first)
    OriginFetch* live_next_ = nullptr;
};

class OriginPool final : public shared::HttpIdleListener {
public:
    // `resolver` is the worker's resolver and must outlive the pool.
    OriginPool(uv_loop_t* loop, shared::Resolver* resolver, OriginSettings settings);
    // Closes idle connections and cancels fetches still running (their handles stay valid and inert).
    ~OriginPool() override;
    OriginPool(const OriginPool&) = delete;
    OriginPool& operator=(const OriginPool&) = delete;

    // Starts a fetch. Callbacks never run from inside fetch() itself.
    std::unique_ptr<OriginFetch> fetch(OriginRequest req, OriginCallbacks cb);

    // Called with the time to first byte (ms) of every response that started, for the origin latency metric.
    void set_first_byte_hook(std::function<void(uint64_t ms)> hook) { first_byte_hook_ = std::move(hook); }

    struct Stats {
        uint64_t connections_opened = 0;
        uint64_t connections_reused = 0;
        uint64_t retries = 0;
        uint64_t errors = 0;
    };
    const Stats& stats() const { return stats_; }
    size_t idle_connections() const { return idle_.size(); }
    // Whether `method` may be retried after its request was fully sent (RFC 9110 §9.2.2).
    static bool idempotent(std::string_view method);
    const OriginSettings& settings() const { return settings_; }

private:
    friend class OriginFetch;
    void on_idle_closed(shared::HttpConnection* conn) override;
    // A pooled idle connection, or nullptr.
    shared::HttpConnection* take_idle();
    shared::HttpConnection* open(const shared::SocketAddress& addr);
    // The fetch is done with `conn`: park it if reusable and there is room, else close it.
    void release(shared::HttpConnection* conn);
    void defer(OriginFetch* f);
    void undefer(OriginFetch* f);
    static void on_defer_timer(uv_timer_t* t) noexcept;

    uv_loop_t* loop_;
    shared::Resolver* resolver_;
    OriginSettings settings_;
    shared::HttpConnectionOptions conn_opts_;
    std::string default_host_header_;
    std::vector<shared::HttpConnection*> idle_;  // most recently used at the back
    std::function<void(uint64_t)> first_byte_hook_;
    Stats stats_;
    uv_timer_t* defer_timer_ = nullptr;  // freed in its close callback
    OriginFetch* deferred_head_ = nullptr;
    OriginFetch* live_head_ = nullptr;
    // The address new connections go to first; moves on when it refuses (e.g. "localhost" -> ::1 while the
    // origin listens on 127.0.0.1 only).
    size_t preferred_addr_ = 0;
};

} // namespace edge
