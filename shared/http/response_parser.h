// HTTP/1.1 response parsing: llhttp in HTTP_RESPONSE mode, plus what llhttp leaves to its caller: a response
// header size limit (shared by the interim responses and the final one), skipping the body of a HEAD response,
// reporting 1xx interim responses apart from the final one (a body in one is an error), rejecting 101 upgrades,
// and end-of-body by EOF for responses without a length (llhttp_finish).
//
// No socket and no loop here, so it can be unit-tested and fuzzed on byte strings.
#pragma once

#include "shared/http/http_headers.h"

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shared {

// The status line and headers of a final (non-1xx) response.
struct HttpResponseHead {
    int status = 0;
    int http_major = 1;
    int http_minor = 1;
    std::string reason;
    HttpHeaders headers;
};

class ResponseParser {
public:
    // Receives the parse events. Each method may ask the parser to stop (the owner then decides what to do).
    class Listener {
    public:
        virtual ~Listener() = default;
        // Final response head. Return false to abort parsing (feed() then returns Aborted).
        virtual bool on_head(const HttpResponseHead& head) = 0;
        // An interim (1xx, never 101) response before the final one (RFC 9110 §15.2); parsing then goes on with the
        // next response head. Return false to abort parsing.
        virtual bool on_interim(const HttpResponseHead& head) {
            (void)head;
            return true;
        }
        // A piece of the body (chunk framing removed). `data` points into the fed buffer. Return false to abort.
        virtual bool on_body(std::string_view data) = 0;
        // The response is complete.
        virtual void on_complete() = 0;
    };

    enum class Result {
        NeedMore,  // all bytes consumed, response not complete yet
        Complete,  // on_complete ran; `consumed` says how many bytes belonged to this response
        Aborted,   // a listener method returned false
        Error,     // malformed response or limit exceeded; error_reason() says why
    };

    // More interim responses than this before the final one is a broken origin (a 1xx may have no header bytes to
    // count against the limit).
    static constexpr unsigned kMaxInterimResponses = 32;

    explicit ResponseParser(size_t max_header_bytes = 64 * 1024);
    ResponseParser(const ResponseParser&) = delete;
    ResponseParser& operator=(const ResponseParser&) = delete;

    // Prepares for the response to a new request. head_request: the request was HEAD (no body follows).
    void reset(Listener* listener, bool head_request);
    // Parses bytes. *consumed is set to how many bytes were used (all of them unless Complete/Aborted/Error).
    Result feed(const char* data, size_t len, size_t* consumed);
    // The peer closed the connection. Complete if the response was close-delimited and is now finished (runs
    // on_complete); Error (truncated() true) if it ended early; NeedMore never.
    Result finish();

    // True once any byte of the current response was fed.
    bool started() const { return started_; }
    // True once on_head ran for the current response.
    bool head_done() const { return head_done_; }
    // After Complete: may the connection carry another request (llhttp_should_keep_alive)?
    bool keep_alive() const { return keep_alive_; }
    // After an Error from finish(): the body (or head) was cut short by EOF.
    bool truncated() const { return truncated_; }
    const char* error_reason() const { return error_reason_; }

private:
    static int on_message_begin(llhttp_t* p) noexcept;
    static int on_status(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_header_field(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_header_value(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_headers_complete(llhttp_t* p) noexcept;
    static int on_body_cb(llhttp_t* p, const char* at, size_t len) noexcept;
    static int on_message_complete(llhttp_t* p) noexcept;
    static const llhttp_settings_t& settings() noexcept;
    bool count_header_bytes(size_t n) noexcept;

    llhttp_t parser_{};
    Listener* listener_ = nullptr;
    size_t max_header_bytes_;
    size_t header_bytes_ = 0;
    HttpResponseHead head_;
    bool head_request_ = false;
    bool in_value_ = false; // last header callback was a value: the next field starts a new header
    unsigned interim_count_ = 0;
    bool interim_ = false; // current message is a 1xx (reported with on_interim, then parsing goes on)
    bool started_ = false;
    bool head_done_ = false;
    bool complete_ = false;
    bool aborted_ = false;
    bool keep_alive_ = false;
    bool truncated_ = false;
    const char* error_reason_ = "";
    const char* buf_begin_ = nullptr;  // the buffer being fed, to look at the byte before a header name
    char prev_last_ = '\n';            // last byte of the previous buffer
};

} // namespace shared
