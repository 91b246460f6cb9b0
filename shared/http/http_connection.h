// One HTTP/1.1 client connection (TCP, optionally TLS) on a libuv loop: connect, send a request, stream the
// response back through a handler, then either be reused for the next request (keep-alive) or be closed.
// Owns the connect / first-byte / idle-between-bytes timeouts. It is the unit the origin pool keeps and the
// one-shot HttpClient drives.
//
// Lifetime: created with create(), destroyed only by close() (which may be called from inside any handler
// callback, and after which no callback runs); the memory is freed by the loop's close callbacks.
// Thread: the loop's thread only.
#pragma once

#include "shared/http/http_error.h"
#include "shared/http/http_headers.h"
#include "shared/http/response_parser.h"
#include "shared/net/address.h"
#include "shared/tls/tls_client_context.h"

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace shared {

class TlsClientSession;

struct HttpConnectionOptions {
    uint32_t connect_timeout_ms = 5000;     // TCP connect plus TLS handshake
    uint32_t first_byte_timeout_ms = 30000; // from handing the request to the socket to the first response byte
    uint32_t idle_timeout_ms = 30000;       // longest silence between two response reads
    size_t max_response_header_bytes = 64 * 1024;
    std::shared_ptr<TlsClientContext> tls; // null: plain HTTP
    std::string tls_server_name;           // SNI and certificate host-name check (TLS only)
};

// A request to send. Everything is copied by send(), so it may point into temporaries.
struct HttpRequest {
    std::string_view method = "GET";
    std::string_view target = "/";        // origin-form: path and query
    const HttpHeaders* headers = nullptr; // sent as given, in order; the caller supplies Host. Any
                                          // Content-Length / Transfer-Encoding here is dropped and replaced.
    std::string_view body;                // sent with Content-Length (also "0" for POST/PUT/PATCH without body)
};

// Receives one response. At most one of on_response_complete / on_response_error ends each exchange.
class HttpResponseHandler {
  public:
    virtual ~HttpResponseHandler() = default;
    // The final response head.
    virtual void on_response_head(const HttpResponseHead& head) = 0;
    // An interim (1xx, never 101) response before it (RFC 9110 §15.2). Ignored unless overridden; the handler may
    // close() the connection from here.
    virtual void on_response_interim(const HttpResponseHead& head) { (void)head; }
    // A piece of the body; `data` is valid only during the call. Return false to pause reading (as if pause()
    // were called); at most the rest of the current read buffer (<= 64 KiB) is still delivered.
    virtual bool on_response_body(std::string_view data) = 0;
    // The response ended properly. The connection is already idle: the handler may send() again on it, hand it
    // back to a pool, or close() it.
    virtual void on_response_complete() = 0;
    // The exchange failed; the connection is unusable and the handler must close() it.
    virtual void on_response_error(HttpError err) = 0;
};

// Notified about a parked (idle) connection going bad: the peer closed it, sent unexpected bytes, or the
// parking time ran out. The listener must close() it (and drop it from its pool).
class HttpIdleListener {
  public:
    virtual ~HttpIdleListener() = default;
    virtual void on_idle_closed(class HttpConnection* conn) = 0;
};

class HttpConnection {
  public:
    enum class State : uint8_t { New, Connecting, Idle, Busy, Closed };

    static HttpConnection* create(uv_loop_t* loop, const SocketAddress& peer, const HttpConnectionOptions& opts);

    // Sends a request (connecting first when State::New). Precondition: state() is New or Idle. The result
    // arrives through `handler`, possibly in a later loop iteration, never synchronously from send().
    void send(const HttpRequest& req, HttpResponseHandler* handler);
    // Backpressure: stop / restart reading the response body (uv_read_stop / uv_read_start). The idle timer
    // does not run while paused.
    void pause();
    void resume();
    // Parks an idle connection: from now on, on_idle_closed is called if it dies or idles for `idle_ms`.
    // send() un-parks it.
    void park(HttpIdleListener* listener, uint32_t idle_ms);
    // Closes the connection; no callback runs afterwards. Safe to call more than once and from callbacks.
    void close();

    State state() const { return state_; }
    const SocketAddress& peer() const { return peer_; }
    // After on_response_complete: true if the server allows another request on this connection.
    bool keep_alive() const { return keep_alive_; }
    // Responses completed on this connection so far (>0 means the connection is a reused one).
    uint32_t completed_responses() const { return completed_; }
    // Whether the current request was completely handed to the kernel / any response byte has arrived. The
    // pool uses both to decide whether a failed exchange may be retried.
    bool request_written() const { return request_written_; }
    bool response_started() const { return response_started_; }
    // Milliseconds from send() (or from the end of connecting) to the first response byte of the last response.
    uint64_t first_byte_ms() const { return first_byte_ms_; }
    // Why the last exchange failed, in words (parser reason, TLS verification result, errno name), for logs.
    const std::string& error_detail() const { return detail_; }

  private:
    HttpConnection(uv_loop_t* loop, const SocketAddress& peer, const HttpConnectionOptions& opts);
    ~HttpConnection();
    struct Parser; // ResponseParser::Listener adapter
    struct WriteReq;
    static void on_connect_cb(uv_connect_t* req, int status) noexcept;
    static void on_alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
    static void on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void on_write_cb(uv_write_t* req, int status) noexcept;
    static void on_timer_cb(uv_timer_t* t) noexcept;
    static void on_close_cb(uv_handle_t* h) noexcept;
    void on_connected(int status);
    void on_read(ssize_t nread, const char* data);
    void on_write_done(int status, bool is_request);
    void on_timer();
    void connection_ready();
    void write_request();
    bool write_wire(std::string data, bool is_request);
    bool flush_tls();
    void handle_plaintext(const char* data, size_t len);
    void handle_eof();
    void finish_response();
    void fail(HttpError err, std::string detail);
    void idle_broken();
    void arm_timer(uint64_t ms);
    void start_reading();
    void maybe_yield(ssize_t nread);

    uv_loop_t* loop_;
    SocketAddress peer_;
    HttpConnectionOptions opts_;
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};
    uv_connect_t connect_req_{};
    int open_handles_ = 0;
    State state_ = State::New;
    enum class Phase : uint8_t { None, Connect, FirstByte, Body, Parked };
    Phase phase_ = Phase::None;
    std::unique_ptr<TlsClientSession> tls_;
    std::unique_ptr<Parser> parser_;
    HttpResponseHandler* handler_ = nullptr;
    HttpIdleListener* idle_listener_ = nullptr;
    std::string request_bytes_; // plaintext request waiting for the connection / handshake
    std::string detail_;
    HttpError pending_error_ = HttpError::None; // delivered from the timer so send() never calls back
    int request_writes_ = 0;                    // writes of the current request still in flight
    bool reading_ = false;
    bool paused_ = false;
    uint8_t full_reads_ = 0; // reads this loop turn that filled the buffer (libuv reads on while they do)
    bool yield_read_ = false; // the next alloc gives no buffer: reads end for this turn (maybe_yield)
    bool keep_alive_ = false;
    bool broken_ = false; // peer closed, error seen: never reusable
    bool request_written_ = false;
    bool response_started_ = false;
    bool head_request_ = false;
    uint32_t completed_ = 0;
    uint64_t sent_at_ = 0;
    uint64_t first_byte_ms_ = 0;
    uint64_t last_read_ = 0;
};

} // namespace shared
