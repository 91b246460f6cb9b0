// One viewer connection on a worker loop: the uv_tcp, its read buffer and request parser, the header/keep-alive
// timer, and the ordered output queue. The read buffer, the parser's storage, the response head buffer and the write
// requests come from the worker's pools while bytes are read or a request is answered and go back once the
// connection is idle (ConnBufferPool): an idle keep-alive connection is this object and its two libuv handles. Requests
// are handled strictly one at a time: parsing pauses after each complete request and resumes only when its response has
// been fully written, so pipelined responses leave in order. Output is bounded per connection: when more than
// `client_buffer_bytes` are queued the connection reports congested() and the body source (a proxy session, attached as
// ViewerEvents) waits for on_writable(); nothing else on the worker slows down. The connection is the Viewer
// (edge/proxy/viewer.h) its handler and sessions write to.
//
// Thread: the worker loop only. Memory: created by the Listener, freed once both handles closed and no session
// holds it (Viewer::hold), so a session may keep its reference after the viewer has gone.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cached_object.h"
#include "edge/cache/ref.h"
#include "edge/config/http2_config.h"
#include "edge/http/request_parser.h"
#include "edge/proxy/viewer.h"
#include "edge/server/h2_session.h"
#include "edge/server/viewer_tls.h"
#include "shared/net/address.h"
#include "shared/net/source_limit.h"
#include "shared/net/tcp_ack_progress.h"

namespace edge {

struct ConnSettings {
    RequestLimits limits;
    uint64_t header_timeout_ms = 10'000;    // first byte of a request (blank lines too) to the end of its headers
    uint64_t handshake_timeout_ms = 10'000; // TLS: accept to the end of the handshake
    uint64_t body_timeout_ms = 60'000;      // longest silence while a request body arrives
    uint64_t send_timeout_ms = 60'000;      // longest time queued response bytes make no progress
    uint64_t keepalive_timeout_ms = 60'000; // idle between requests
    uint64_t lingering_time_ms = 30'000;    // lingering close: total time input is drained after the answer
    uint64_t lingering_timeout_ms = 5'000;  // lingering close: longest silence while draining
    uint64_t client_buffer_bytes = 256 << 10;
    Http2Config http2; // [http2]
};

class ConnSet; // the worker's list of connections (for drain and max_connections)

// An HTTPS connection whose ALPN chose "h2", or a plain one that opened with the HTTP/2 preface (h2c with prior
// knowledge), hands its plaintext to an H2Session instead of the HTTP/1.1 parser; the session's streams are the
// Viewers then, and this object is their H2Transport.
class ClientConn final : public Viewer, public H2Transport {
  public:
    // Accepts a pending connection from `server`; nothing else happens to it until start() or refuse(). Returns
    // nullptr (and closes nothing) when accept failed.
    static ClientConn* accept(uv_stream_t* server, ConnSet* set, RequestHandler* handler, const ConnSettings& settings);
    // Counts the connection under its client's address in the process's table (the set's sources()); false when
    // `limit` connections from that address are open already. The count is given back when the connection closes,
    // whatever closes it.
    bool count_source(uint32_t limit);
    // Closes a connection that was accepted but not started (over a limit): the client sees a close at once.
    void refuse();
    // Serves it: joins the set, reads. With `tls` (an HTTPS listener) the connection speaks TLS: the header timeout
    // bounds the handshake too. `input_waiting` (a TCP_DEFER_ACCEPT listener): the first bytes are most likely in
    // the socket already, so they are read right away, before returning; a request that is all there may be
    // answered, and the connection closed, by then (it stays valid until the loop runs its close callbacks).
    void start(const std::shared_ptr<shared::TlsServerContext>* tls, bool input_waiting);

    // ---- Viewer: for the handler and its sessions, while a response is in progress ----
    bool gone() const override { return closing_; }
    std::string& head_buffer() override;
    bool write(const OutBuf* bufs, unsigned n) override;
    using Viewer::write;
    // When nothing is queued, the body's pages go to the socket with sendfile (no copy into the socket buffer); what
    // the socket does not take then is queued from `body.mem` as write() does.
    bool write_file(const OutBuf* head, unsigned n, const FileSpan& body) override;
    bool write_copy(std::string_view s) override;
    void pin(Ref<CachedObject> obj) override;
    bool congested() const override { return queued_bytes_ >= settings_.client_buffer_bytes; }
    void end_response(bool keep_alive) override;
    void abort() override;
    void attach(ViewerEvents* ev) override { exchange_ = ev; }
    void detach() override { exchange_ = nullptr; }
    // The connection object is freed once its handles closed and every hold was released.
    void hold() override { ++holds_; }
    void release() override;
    std::string_view peer_ip() const override { return peer_ip_text(); }
    uint64_t request_elapsed_ms() const override;
    std::string_view tls_protocol() const override { return tls_ ? tls_->protocol() : std::string_view(); }
    std::string_view tls_cipher() const override { return tls_ ? tls_->cipher() : std::string_view(); }

    // Bytes queued and not yet written to the socket.
    uint64_t queued_bytes() const { return queued_bytes_; }
    // Server drain: close when idle, or after the current response.
    void close_when_idle();
    // An HTTP/1 connection between requests (or one that never sent a byte): true, with when it last did something.
    bool idle_since(uint64_t* since) const;
    bool http2() const { return h2_ != nullptr; }

    uv_loop_t* loop() const { return tcp_.loop; }
    bool closing() const { return closing_; }
    uint64_t id() const { return id_; }

    // ---- H2Transport: for the HTTP/2 session ----
    bool send_copy(std::string_view bytes) override { return write_copy(bytes); }
    uint64_t send_queued() const override { return queued_bytes_; }
    uint64_t send_buffer_limit() const override { return settings_.client_buffer_bytes; }
    bool transport_closed() const override { return closing_; }
    void close_transport() override;
    void hold_transport() override { hold(); }
    void release_transport() override { release(); }
    uint64_t now_ms() const override { return uv_now(tcp_.loop); }
    std::string_view transport_peer_ip() const override { return peer_ip_text(); }
    std::string_view transport_tls_protocol() const override { return tls_protocol(); }
    std::string_view transport_tls_cipher() const override { return tls_cipher(); }
    void pause_input(bool paused) override;

    // Intrusive list links (ConnSet).
    ClientConn* prev_ = nullptr;
    ClientConn* next_ = nullptr;

  private:
    struct WriteReq {
        uv_write_t req;
        ClientConn* conn;
        std::string owned;
        size_t bytes;
        WriteReq* next_free; // in the thread's free list
        bool resumes_file;   // the probe byte of a file send: its completion sends the rest (file_rest_)
    };

    struct WriteReqPool;

    ClientConn(ConnSet* set, RequestHandler* handler, const ConnSettings& settings);
    ~ClientConn();
    // Queues bytes (the uv_buf_t form of write()); nothing when closing.
    void queue(const uv_buf_t* bufs, unsigned n);
    static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void on_write(uv_write_t* req, int status) noexcept;
    static void on_timer(uv_timer_t* t) noexcept;
    static void on_close(uv_handle_t* h) noexcept;

    // What the connection is waiting for; each has its own deadline (deadline()).
    enum class Phase : uint8_t { idle, header, body, response, linger };
    Phase phase() const;
    uint64_t deadline(Phase ph, uint64_t now) const;
    bool output_pending() const { return writes_in_flight_ != 0 || queued_bytes_ != 0; }
    // Output goes from empty to non-empty: the send timeout counts from now.
    void note_output_start();
    // The response is written and the connection will not be reused: close, or linger first when the viewer
    // may still be sending (closing with unread input makes the kernel send RST, which can destroy the answer
    // before the viewer reads it).
    void finish_connection();
    void start_linger();
    static void on_shutdown(uv_shutdown_t* req, int status) noexcept;

    void process_input();
    // The viewer's address as text, asked of the kernel the first time something needs it (the access log, a signed
    // URL's IP condition, an origin request's client address, a log line): a cache hit without an access log never
    // does, which saves a getpeername and an inet_ntop (a sprintf, 1,800 instructions) per connection. Empty when the
    // socket is gone by then (a viewer that reset before anything asked); close() takes it first while a request or
    // a session may still ask.
    std::string_view peer_ip_text() const;
    // One non-blocking read now, handed to on_alloc/on_read exactly as libuv would hand it (EAGAIN as nread 0, end
    // of input as UV_EOF, errors as libuv's codes); reading stays started, so what does not arrive now comes by the
    // loop as usual.
    void read_now();
    void start_reading();
    void stop_reading();
    void arm_timer();
    void close();
    // Gives the connection's place in the per-address count back (once).
    void release_source();
    // Takes a read buffer from the worker's pool when the connection has none.
    void take_in();
    // Gives the pooled buffers back that the connection does not need now: the read buffer once everything in it
    // was parsed, the parser's storage between requests.
    void give_back_idle();
    void maybe_finish_response();
    void maybe_send_continue();
    WriteReq* get_req();
    void put_req(WriteReq* r);
    void submit(WriteReq* r, const uv_buf_t* bufs, unsigned n);
    // Writes what the socket takes now, without a write request; returns the bytes written (0 when output is
    // queued already or the socket is full). Closes the connection on a socket error.
    size_t write_now(const uv_buf_t* bufs, unsigned n);
    // Sends file_rest_ with sendfile until done or the socket is full; then queues a probe byte (see on_write).
    void send_file_rest();
    // Queues what is left of file_rest_ from memory (a write follows it, or sendfile cannot go on).
    void flush_file_rest();
    // Makes sure the timer fires no later than `deadline_ms` (uv_now time); never restarts it for a later one.
    void timer_by(uint64_t deadline_ms);
    // HTTP/2: hands the connection to an H2Session (ALPN "h2", or the h2c preface).
    void start_h2();
    // HTTP/2 is over (GOAWAY written): close, lingering while the viewer may still send.
    void h2_finish();
    // Feeds every plaintext byte there is to the H2Session.
    void h2_process_input();
    // Plain listener, before the first request: false while the bytes so far may still be the HTTP/2 preface.
    bool detect_h2c();
    // The ending of input (EOF, reset, or the TLS viewer's close_notify as UV_EOF).
    void on_read_end(ssize_t nread);

    // ---- TLS (tls_ set): every plaintext byte goes through the SSL, ciphertext through uv writes ----
    // Ciphertext arrived: handshake, then decrypt into in_ and parse. What this produces (the handshake's session
    // tickets, the responses answered at once, a close_notify) leaves in one write at the end.
    void tls_on_ciphertext(const char* data, size_t len);
    void tls_on_ciphertext_corked(const char* data, size_t len);
    // Counts how the viewer ended the connection (a read error or EOF, or a direct write that found a reset) in the
    // TLS metrics.
    void tls_count_transport_end(ssize_t nread);
    // Plain HTTP on the TLS port: a plain-text 400 saying so, then close.
    void answer_plain_http();
    // Decrypts what the SSL holds into in_ while there is room; true when plaintext was added. Closes on an error.
    bool tls_pull();
    // Plaintext to send, by reference (kept valid as OutBuf is) or copied: queued, then encrypted as the socket
    // drains (tls_pump), so a viewer that does not read holds at most kTlsFlightBytes of ciphertext, never a copy
    // of the whole body.
    void tls_queue(const uv_buf_t* bufs, unsigned n);
    void tls_queue_copy(std::string_view s);
    void tls_pump();
    // Sends the ciphertext waiting in the SSL's output (a direct write first, the rest queued). While corked (in
    // tls_on_ciphertext) it waits, up to kTlsFlightBytes, unless `force`.
    void tls_flush_output(bool force = false);
    // Closes, after sending the ciphertext still corked in the SSL's output (with close_notify) when there is any.
    void close_after_output();
    struct TlsPiece {
        const char* ref; // nullptr: bytes at `off` in tls_copies_
        size_t off;
        size_t len;
    };

    ConnSet* set_;
    RequestHandler* handler_;
    ConnSettings settings_;
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};
    uv_shutdown_t shutdown_req_{};
    int open_handles_ = 0;
    RequestParser parser_;
    char* in_ = nullptr; // read buffer (pooled; null while empty); [in_start_, in_end_) not yet parsed
    size_t in_start_ = 0;
    size_t in_end_ = 0;
    std::string head_;
    std::array<Ref<CachedObject>, 4> pinned_;
    std::vector<Ref<CachedObject>> pinned_more_;
    size_t pinned_count_ = 0;
    unsigned writes_in_flight_ = 0;
    uint64_t queued_bytes_ = 0;             // includes file_rest_.len
    FileSpan file_rest_{-1, 0, nullptr, 0}; // the unsent part of a file send; len 0 = none
    ViewerEvents* exchange_ = nullptr;
    unsigned holds_ = 0; // Viewer::hold() without release()
    // (only the text: the 136-byte address was resident in every idle connection, unread)
    mutable std::string peer_ip_;
    // The client's address, when count_source() asked for it (16 bytes, not the 128 of a sockaddr_storage).
    shared::PeerAddress source_;
    uint64_t request_start_ms_ = 0;
    uint64_t last_activity_ms_ = 0;
    uint64_t last_write_ms_ = 0; // last progress of queued output (or when output started to queue)
    // What the viewer acknowledged, sampled when output starts to wait and when a write completes: the send
    // timeout fires only when the viewer acknowledged nothing since (a slow reader behind a large kernel buffer
    // completes no write for a while but is still being served).
    shared::TcpAckProgress sent_;
    uint64_t linger_start_ms_ = 0;
    uint64_t timer_due_ms_ = 0; // when the armed timer fires; valid while timer_armed_
    bool timer_armed_ = false;
    uint64_t id_ = 0;
    bool in_request_ = false;     // a request is being answered
    bool response_ended_ = false; // end_response() was called for it
    bool keep_alive_ = true;
    bool reading_ = false;
    bool closing_ = false;
    bool eof_ = false;
    bool drain_ = false;
    bool processing_ = false;
    bool continue_sent_ = false;
    bool request_begun_ = false; // bytes of the next request arrived (header_timeout runs from the first)
    bool rejected_ = false;      // the parser refused input: what follows it is unread
    // Inside on_read for a read that did not fill its buffer: the socket had no more input at that read, so a
    // response answered and closing within that call needs no FIONREAD to know nothing is left unread.
    bool input_drained_ = false;
    mutable bool peer_asked_ = false; // peer_ip_ is what the kernel said (or the socket was gone)
    bool source_known_ = false;       // source_ is the client's address
    bool source_counted_ = false;     // counted in set_->sources() under source_ until release_source()
    bool no_linger_ = false;          // timed out: close without draining
    bool lingering_ = false;
    bool h2c_possible_ = false;      // plain listener, h2c on, and no byte yet that is not the preface
    bool input_paused_ = false;      // H2Transport::pause_input
    bool close_after_write_ = false; // H2Transport::close_transport with output still queued
    std::unique_ptr<H2Session> h2_;
    // TLS only (empty for plain HTTP):
    std::unique_ptr<ViewerTls> tls_;
    std::vector<TlsPiece> tls_q_; // plaintext waiting to be encrypted; [tls_q_head_, end) left
    size_t tls_q_head_ = 0;
    std::string tls_copies_;          // the bytes of copied pieces
    uint64_t tls_plain_queued_ = 0;   // bytes in tls_q_ (part of queued_bytes_)
    bool tls_corked_ = false;         // inside tls_on_ciphertext: flushes wait for its end
    bool close_after_notify_ = false; // close_notify is queued: close once the writes are done
};

// The connections of one worker. Not thread-safe (worker loop only).
class ConnSet {
  public:
    void add(ClientConn* c);
    void remove(ClientConn* c);
    size_t size() const { return count_; }
    // Asks every connection to close when idle.
    void drain();
    // Closes every connection now.
    void close_all();
    // Reload: every HTTP/2 connection gets GOAWAY NO_ERROR, answers the streams it has and closes, so its viewer
    // reconnects under the new [http2] settings (nginx's old workers do the same); HTTP/1.1 connections go on.
    void goaway_http2();
    uint64_t next_id() { return ++last_id_; }
    // The process's open connections per client address (shared by every worker; null: not counted).
    shared::SourceConnLimit* sources() const { return sources_; }
    void set_sources(shared::SourceConnLimit* s) { sources_ = s; }
    // At max_connections: closes the connection idle the longest among the next kReclaimScan (from where the last
    // look ended), as nginx reuses keep-alive connections when it runs out: a new viewer gets in, and a crowd of
    // idle or silent connections cannot keep everyone else out until their timeouts. False when none looked at was
    // idle (then the new connection is the one turned away).
    bool reclaim_idle();
    static constexpr size_t kReclaimScan = 64;

  private:
    ClientConn* head_ = nullptr;
    ClientConn* cursor_ = nullptr; // where reclaim_idle() looks next (null: from the head)
    size_t count_ = 0;
    uint64_t last_id_ = 0;
    shared::SourceConnLimit* sources_ = nullptr;
};

} // namespace edge
