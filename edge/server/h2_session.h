// HTTP/2 on one viewer connection (RFC 9113), with nghttp2 doing framing, HPACK, flow control and the protocol's
// state machines. Each stream is a Viewer (edge/proxy/viewer.h) handed to the same RequestHandler as an HTTP/1.1
// request, so streams share the cache, miss collapsing and origin paths with HTTP/1.1; nothing here knows about
// caching. The handler writes an HTTP/1.1-shaped head (status line and header lines, parsed back here into HPACK
// fields without the connection-specific ones, RFC 9113 §8.2.2) and then the body, which this stream queues by
// reference and nghttp2's data source copies into DATA frames as the viewer's stream and connection windows allow.
//
// Backpressure: a stream reports congested() once `stream_buffer_bytes` wait in it (a viewer whose window stays
// shut holds at most that per stream, for at most max_concurrent_streams streams), and frames are produced only
// while the connection's socket queue is below its buffer size.
//
// Limits: SETTINGS_MAX_CONCURRENT_STREAMS (more streams are refused by nghttp2), SETTINGS_MAX_HEADER_LIST_SIZE and
// [limits] max_headers / max_uri_bytes (431 / 414), request bodies up to max_body_bytes (413), and the rapid-reset
// defence (CVE-2023-44487): more than max_stream_resets streams cancelled by the viewer (or reset for a stream error of
// the viewer's, CVE-2025-8671) within reset_window end the connection with GOAWAY ENHANCE_YOUR_CALM, as nginx and H2O
// do. Request bodies are buffered whole before the request is handled, so only kBodyStreams streams of a connection
// at a time get their flow-control window opened as their body arrives; the others wait with what their initial
// window let in (64 KiB). A request whose header block or body stalls is timed out as on HTTP/1.1 (header_timeout:
// the connection closes, nothing else can move on it; body_timeout: 408), and a request answered before its end
// (413, 408) that then stops arriving is reset.
//
// Thread: the worker loop of the connection. Memory: streams are pooled per connection (a hit allocates nothing
// here beyond nghttp2's own stream state); a stream a session holds keeps the connection object (and so this
// object) alive through H2Transport::hold_transport.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edge/config/http2_config.h"
#include "edge/http/request_parser.h"
#include "edge/proxy/viewer.h"

namespace edge {

// Process-wide HTTP/2 counters (metrics; relaxed atomics, added to once per connection or per rare event).
struct H2Stats {
    std::atomic<uint64_t> connections{0};         // connections that spoke HTTP/2
    std::atomic<int64_t> open_connections{0};     // of which open now
    std::atomic<uint64_t> streams{0};             // requests received on them
    std::atomic<uint64_t> client_resets{0};       // streams the viewer cancelled (RST_STREAM)
    std::atomic<uint64_t> refused_streams{0};     // streams refused (over max_concurrent_streams, or after GOAWAY)
    std::atomic<uint64_t> rapid_reset_goaways{0}; // connections ended for cancelling too many streams
    std::atomic<uint64_t> protocol_errors{0};     // connections ended by a protocol error of the viewer
};
H2Stats& h2_stats();

// What an H2Session needs from its connection (ClientConn; a fake in unit tests).
class H2Transport {
  public:
    // Queues a copy of `bytes` to the viewer; false when the connection is gone.
    virtual bool send_copy(std::string_view bytes) = 0;
    // Bytes queued and not yet written to the socket.
    virtual uint64_t send_queued() const = 0;
    // The size of the connection's output buffer (frames are produced while less than this is queued).
    virtual uint64_t send_buffer_limit() const = 0;
    virtual bool transport_closed() const = 0;
    // Closes the connection once what is queued was written (or at once).
    virtual void close_transport() = 0;
    // Keeps the connection object (not the connection) alive until the matching release_transport().
    virtual void hold_transport() = 0;
    virtual void release_transport() = 0;
    virtual uint64_t now_ms() const = 0;
    virtual std::string_view transport_peer_ip() const = 0;
    virtual std::string_view transport_tls_protocol() const = 0;
    virtual std::string_view transport_tls_cipher() const = 0;
    // Input is paused while the output is congested (a viewer that sends but does not read).
    virtual void pause_input(bool paused) = 0;

  protected:
    ~H2Transport() = default;
};

struct H2Limits {
    Http2Config http2;
    RequestLimits request;
};

class H2Session {
  public:
    H2Session(H2Transport& t, RequestHandler* handler, const H2Limits& limits, bool secure);
    ~H2Session();
    H2Session(const H2Session&) = delete;
    H2Session& operator=(const H2Session&) = delete;

    // Queues the server's SETTINGS. False when nghttp2 could not be set up.
    bool start();
    // Plaintext from the viewer (the connection preface first). Handles it and sends what it produced; when the
    // viewer broke the protocol, a GOAWAY is queued and the connection closes once it is written.
    void on_input(const char* data, size_t len);
    // The connection's output drained below half of its buffer: produce more frames.
    void on_transport_writable();
    // The connection is closing (reset, timeout, server stop): every stream's viewer is gone.
    void on_transport_closed();
    // Graceful drain (server stop): GOAWAY with the last stream taken; those finish, then the connection closes.
    void drain();
    // Idle timeout: GOAWAY NO_ERROR, then close.
    void close_idle();

    // Streams open (the connection is not idle while any is).
    size_t active_streams() const { return active_; }
    // Some stream has response bytes waiting that the viewer's flow-control windows hold back.
    bool blocked() const;
    // When a DATA frame last left (or the viewer last opened a window): the send timeout of a blocked connection.
    uint64_t last_progress_ms() const { return last_progress_ms_; }
    // The viewer's SETTINGS arrived (the preface is complete).
    bool preface_received() const { return got_settings_; }
    // When the oldest request still arriving (its header block, or its body) times out: its last input plus
    // header_ms or body_ms. UINT64_MAX when none is arriving.
    uint64_t arrival_deadline(uint64_t header_ms, uint64_t body_ms) const;
    // Requests whose arrival_deadline passed: a stalled body is answered 408, a stalled header block closes the
    // connection (no other frame may come before its end).
    void expire_arrivals(uint64_t now, uint64_t header_ms, uint64_t body_ms);

    // Streams of a connection whose request bodies are taken in as fast as they come (the others wait for one of
    // them to be handled or to end): the bodies a connection buffers, at most max_body_bytes each.
    static constexpr size_t kBodyStreams = 4;

    class Stream;

  private:
    friend class Stream;
    static ssize_t on_read_data(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                                nghttp2_data_source* src, void* user) noexcept;
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* user) noexcept;
    static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t flags, void* user) noexcept;
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* user) noexcept;
    static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t id, const uint8_t* data, size_t len,
                             void* user) noexcept;
    static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error, void* user) noexcept;
    static int on_frame_send(nghttp2_session*, const nghttp2_frame* f, void* user) noexcept;
    static int on_invalid_frame(nghttp2_session*, const nghttp2_frame* f, int error, void* user) noexcept;

    Stream* get_stream();
    void recycle(Stream* s);
    void dispatch(Stream* s);
    // A stream cancelled by the viewer (by_viewer) or reset for a stream error of the viewer's: both count against
    // max_stream_resets.
    void count_reset(bool by_viewer);
    // Opens the stream's flow-control window for its body when fewer than kBodyStreams streams have it open.
    void admit_body(Stream* s);
    // The stream no longer takes body bytes into its buffer: its place goes to the oldest stream waiting.
    void release_body(Stream* s);
    // The stream's response is complete (a 413 or 408 answered before the request's end) while its request is not.
    bool answered_early(const Stream* s) const;
    // Produces frames into the connection while its buffer has room, then tells waiting sources to go on.
    void flush();
    void fail(uint32_t code);
    void check_done();

    H2Transport& t_;
    RequestHandler* handler_;
    H2Limits limits_;
    bool secure_;
    nghttp2_session* ng_ = nullptr;
    Stream* free_ = nullptr; // pooled streams
    Stream* live_ = nullptr; // streams nghttp2 knows or a session holds
    size_t active_ = 0;      // streams nghttp2 has open
    std::string out_;        // frames gathered for one send_copy
    uint64_t last_progress_ms_ = 0;
    uint64_t reset_window_start_ = 0;
    uint32_t resets_in_window_ = 0;
    uint64_t streams_ = 0;    // for the process-wide counter, added at the end
    size_t body_streams_ = 0; // streams with an admitted body
    bool flushing_ = false;
    bool flush_again_ = false;
    bool in_recv_ = false;
    bool closed_ = false;
    bool got_settings_ = false;
    bool paused_ = false;
    bool started_ = false;
    bool draining_ = false;
    bool calmed_ = false;       // GOAWAY ENHANCE_YOUR_CALM queued
    std::vector<Stream*> wake_; // flush(): streams to tell on_writable
};

// One request/response exchange of an H2Session, as the Viewer its handler writes to.
class H2Session::Stream final : public Viewer {
  public:
    bool gone() const override { return gone_; }
    std::string& head_buffer() override { return head_; }
    bool write(const OutBuf* bufs, unsigned n) override;
    using Viewer::write;
    bool write_file(const OutBuf* head, unsigned n, const FileSpan& body) override;
    bool write_copy(std::string_view s) override;
    void pin(Ref<CachedObject> obj) override;
    bool congested() const override;
    void end_response(bool keep_alive) override;
    void abort() override;
    void attach(ViewerEvents* ev) override { events_ = ev; }
    void detach() override { events_ = nullptr; }
    void hold() override;
    void release() override;
    std::string_view peer_ip() const override { return session_->t_.transport_peer_ip(); }
    uint64_t request_elapsed_ms() const override;
    std::string_view tls_protocol() const override { return session_->t_.transport_tls_protocol(); }
    std::string_view tls_cipher() const override { return session_->t_.transport_tls_cipher(); }

  private:
    friend class H2Session;
    struct Piece {
        const char* ref; // nullptr: bytes at `off` in copies_
        size_t off;
        size_t len;
    };
    void reset_for(int32_t id, uint64_t now);
    // Takes body bytes (after the head); parses the head out of the first bytes.
    bool take(const char* data, size_t len, bool copy);
    // The head is complete in hin_: builds the HPACK fields. False when it is not a response head.
    bool parse_head();
    void submit();
    size_t read_body(uint8_t* buf, size_t len);
    void drop_pinned();
    // Header bytes of the request so far (names, values), checked against the limits.
    bool add_header(std::string_view name, std::string_view value);

    H2Session* session_ = nullptr;
    Stream* next_ = nullptr; // free_ or live_ list
    Stream* prev_ = nullptr;
    int32_t id_ = 0;
    uint64_t start_ms_ = 0;
    ViewerEvents* events_ = nullptr;
    unsigned holds_ = 0;
    // Request.
    HttpRequest req_;
    std::string arena_; // pseudo-header values and header fields of the request
    struct FieldOff {
        uint32_t name_off, name_len, value_off, value_len;
    };
    std::vector<FieldOff> field_offs_;
    std::vector<HeaderField> fields_;
    std::string body_in_;
    size_t header_bytes_ = 0;
    int req_error_ = 0; // a status to answer instead of handling (431, 414, 413, 400, 501)
    const char* req_error_reason_ = "";
    uint32_t method_off_ = 0, method_len_ = 0, path_off_ = 0, path_len_ = 0, authority_off_ = 0, authority_len_ = 0;
    bool has_method_ = false, has_path_ = false, has_authority_ = false, saw_data_ = false;
    bool headers_in_ = false;    // the request's header block is complete
    bool body_admitted_ = false; // the body's window is opened as it arrives (H2Session::admit_body)
    uint64_t last_in_ms_ = 0;    // the request's last frame (arrival_deadline)
    size_t unconsumed_ = 0;      // body bytes received but not yet given back to the viewer's window
    // Response.
    std::string head_; // head_buffer()
    std::string hin_;  // head bytes received so far (lower-cased names once parsed)
    std::vector<nghttp2_nv> nv_;
    char status_[4] = {};
    std::vector<Piece> q_; // body bytes waiting for DATA frames; [q_head_, end)
    size_t q_head_ = 0;
    std::string copies_;
    size_t copies_used_ = 0; // bytes of copies_ already framed
    uint64_t queued_ = 0;
    std::array<Ref<CachedObject>, 4> pinned_;
    std::vector<Ref<CachedObject>> pinned_more_;
    size_t pinned_count_ = 0;
    bool dispatched_ = false;
    bool head_done_ = false;
    bool submitted_ = false;
    bool ended_ = false;
    bool deferred_ = false;
    bool told_congested_ = false;
    bool gone_ = false;  // reset, aborted, or the connection went away
    bool closed_ = true; // nghttp2 no longer has this stream
};

} // namespace edge
