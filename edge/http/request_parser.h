// HTTP/1.1 request parsing for one client connection: llhttp (HTTP_REQUEST) plus the limits and the
// request-smuggling rejections llhttp 8.1.0 does not do itself. Owned by one connection on one worker thread.
//
// Storage (the arena for the request line and header bytes, the body, the header index) is taken from the thread's
// pool by the first byte of a request and given back by release_storage() once the connection is idle, so an idle
// keep-alive connection holds none of it (H2O and nginx do the same) and a steady stream of requests allocates
// nothing: the pool hands the same warm buffers round.
// Pipelining: parsing pauses after each complete request (HPE_PAUSED from on_message_complete); the caller answers
// it, then calls next() and feeds the unparsed tail again.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/stored_headers.h" // HeaderField

namespace edge {

struct RequestLimits {
    size_t max_uri_bytes = 8192;     // beyond → 414
    size_t max_header_bytes = 32768; // names + values of all headers → 431
    size_t max_headers = 100;        // header count → 431
    size_t max_body_bytes = 1 << 20; // request body (forwarded methods) → 413
};

// A parsed request. Views point into the parser's arena and stay valid until RequestParser::next().
struct HttpRequest {
    llhttp_method_t method = HTTP_GET;
    std::string_view method_name;
    std::string_view target; // origin-form: "/a/b?x=1" (an absolute-form target is reduced to this)
    std::string_view path;   // target before '?'
    std::string_view query;  // after '?', without it ("" when none)
    uint8_t version_major = 1;
    uint8_t version_minor = 1;
    bool keep_alive = true;
    bool has_body_framing = false; // Content-Length or chunked present
    std::span<const HeaderField> headers;
    std::string_view host; // authority: the absolute-form target's, else Host; "" on HTTP/1.0 without either
    std::string_view body;
    bool secure = false; // arrived over TLS (an HTTPS listener's connection: RequestParser::set_secure)

    // First header with this name (case-insensitive), or "" with *found = false.
    std::string_view header(std::string_view name, bool* found = nullptr) const;
    // HTTP/1.0: a body of unknown length ends with the connection, keep-alive must be asked for, no interim
    // responses.
    bool http10() const { return version_major == 1 && version_minor == 0; }
    // HTTP/1.1: a body of unknown length goes chunked. HTTP/2 frames every body by its stream (RFC 9113 §8.1), so
    // neither chunked coding nor a connection close ends it.
    bool chunked_bodies() const { return version_major == 1 && version_minor >= 1; }
};

class RequestParser {
  public:
    enum class Status {
        need_more, // everything consumed, no complete request yet
        complete,  // a request is ready (request()); call next() before feeding again
        error,     // answer error_status() and close the connection
    };
    struct Result {
        Status status;
        size_t consumed; // bytes of the input that were used; feed the rest again after next()
    };

    explicit RequestParser(const RequestLimits& limits);
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    Result feed(const char* data, size_t len);
    const HttpRequest& request() const { return req_; }
    // Every request of this connection arrived over TLS (HttpRequest::secure).
    void set_secure(bool secure) {
        secure_ = secure;
        req_.secure = secure;
    }
    // Done with the current request: forget it and continue with the next pipelined one.
    void next();
    // True while a request has started but not completed (used to tell an idle keep-alive connection from a
    // slow header sender).
    bool in_message() const { return started_ && !complete_; }
    // True once the request line and headers of the current message are complete.
    bool headers_done() const { return headers_done_; }

    // The connection is idle (no message begun, next() called): the storage goes back to the thread's pool, and the
    // next feed() takes one again. Views of the last request are invalid from here.
    void release_storage();
    bool holds_storage() const { return storage_taken_; }

    int error_status() const { return error_status_; }
    const char* error_reason() const { return error_reason_; }
    void set_limits(const RequestLimits& limits);

    ~RequestParser();

  private:
    struct FieldSpan {
        uint32_t name_off, name_len, value_off, value_len;
    };
    class StoragePool;
    static int on_message_begin(llhttp_t* p) noexcept;
    static int on_url(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_header_field(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_header_value(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_headers_complete(llhttp_t* p) noexcept;
    static int on_body(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_message_complete(llhttp_t* p) noexcept;
    static int on_chunk_extension(llhttp_t* p, const char* at, size_t len) noexcept;
    static const llhttp_settings_t* settings();

    int fail(int status, const char* reason);
    // Scans raw header-section bytes for shapes llhttp 8.1.0 accepts but which enable smuggling.
    bool scan_raw(const char* data, size_t len);
    int finish_headers();
    // Reduces an absolute-form target (RFC 9112 §3.2.2) to origin-form in place; sets req_.host from it.
    int take_absolute_form();
    // The two bytes after a chunk's data must be CRLF (llhttp 8.1 skips any two bytes there).
    bool check_chunk_crlf(const char* p, const char* end);
    void reset_message();
    void take_storage();

    RequestLimits limits_;
    llhttp_t parser_{};
    HttpRequest req_;
    bool secure_ = false;
    std::string arena_;            // url + header bytes; capacity fixed by the limits
    std::string body_;             // request body; capacity kept across requests
    std::vector<FieldSpan> spans_; // capacity fixed by max_headers
    std::vector<HeaderField> fields_;
    bool storage_taken_ = false; // the four above are a pooled set (else empty, without capacity)
    uint32_t url_len_ = 0;
    size_t header_bytes_ = 0;
    size_t chunk_ext_bytes_ = 0;
    bool last_was_value_ = false;
    bool started_ = false;
    bool headers_done_ = false;
    bool complete_ = false;
    bool upgrade_ = false;
    uint8_t chunk_crlf_pending_ = 0; // 2 or 1: bytes of the CRLF after a chunk's data still to check
    const char* feed_end_ = nullptr; // end of the buffer llhttp_execute is running on
    // The request method as sent (its first bytes), to tell an unknown method (501) from garbage (400).
    char method_[24] = {};
    uint8_t method_len_ = 0;
    bool method_done_ = false; // a SP followed the method
    // Raw scanner state.
    enum class Raw : uint8_t {
        first_line_start,
        leading_cr,
        in_method,
        line_start,
        in_line,
        after_cr,
        after_blank_cr,
        done
    };
    Raw raw_ = Raw::first_line_start;
    int error_status_ = 0;
    const char* error_reason_ = "";
};

} // namespace edge
