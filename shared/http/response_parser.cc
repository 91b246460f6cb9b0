#include "shared/http/response_parser.h"
#include "shared/http/http_tokens.h"

namespace shared {

namespace {
ResponseParser* self(llhttp_t* p) {
    return static_cast<ResponseParser*>(p->data);
}

} // namespace

const llhttp_settings_t& ResponseParser::settings() noexcept {
    // llhttp keeps a pointer to the settings, so they live as long as the program.
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = &ResponseParser::on_message_begin;
        st.on_status = &ResponseParser::on_status;
        st.on_header_field = &ResponseParser::on_header_field;
        st.on_header_value = &ResponseParser::on_header_value;
        st.on_headers_complete = &ResponseParser::on_headers_complete;
        st.on_body = &ResponseParser::on_body_cb;
        st.on_message_complete = &ResponseParser::on_message_complete;
        return st;
    }();
    return s;
}

ResponseParser::ResponseParser(size_t max_header_bytes) : max_header_bytes_(max_header_bytes) {
    reset(nullptr, false);
}

void ResponseParser::reset(Listener* listener, bool head_request) {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
    listener_ = listener;
    head_request_ = head_request;
    header_bytes_ = 0;
    head_.status = 0;
    head_.reason.clear();
    head_.headers.clear();
    in_value_ = false;
    interim_ = false;
    interim_count_ = 0;
    started_ = head_done_ = complete_ = aborted_ = keep_alive_ = truncated_ = false;
    error_reason_ = "";
    buf_begin_ = nullptr;
    prev_last_ = '\n';
}

bool ResponseParser::count_header_bytes(size_t n) noexcept {
    header_bytes_ += n;
    if (header_bytes_ > max_header_bytes_) {
        error_reason_ = "response headers too large";
        return false;
    }
    return true;
}

int ResponseParser::on_message_begin(llhttp_t* p) noexcept {
    ResponseParser* s = self(p);
    s->head_.status = 0;
    s->head_.reason.clear();
    s->head_.headers.clear();
    s->in_value_ = false;
    return 0;
}

int ResponseParser::on_status(llhttp_t* p, const char* at, size_t len) noexcept {
    ResponseParser* s = self(p);
    if (!s->count_header_bytes(len)) return -1;
    s->head_.reason.append(at, len);
    return 0;
}

int ResponseParser::on_header_field(llhttp_t* p, const char* at, size_t len) noexcept {
    ResponseParser* s = self(p);
    if (!s->count_header_bytes(len)) return -1;
    // llhttp may split a token across calls; a field after a value starts a new header (Node's rule).
    if (s->in_value_ || s->head_.headers.empty()) {
        // Every header line must start after CRLF. llhttp 8.1.0 takes "X: \rContent-Length: 3" as a header
        // "ontent-Length" (the empty-value CR bug fixed upstream in 8.1.2): reject what it lets through.
        char before = at > s->buf_begin_ ? at[-1] : s->prev_last_;
        if (before != '\n') {
            s->error_reason_ = "header line not terminated by CRLF";
            return -1;
        }
        s->head_.headers.emplace_back();
        s->in_value_ = false;
    }
    s->head_.headers.back().name.append(at, len);
    return 0;
}

int ResponseParser::on_header_value(llhttp_t* p, const char* at, size_t len) noexcept {
    ResponseParser* s = self(p);
    if (!s->count_header_bytes(len)) return -1;
    if (s->head_.headers.empty()) return -1;
    s->in_value_ = true;
    s->head_.headers.back().value.append(at, len);
    return 0;
}

int ResponseParser::on_headers_complete(llhttp_t* p) noexcept {
    ResponseParser* s = self(p);
    int status = p->status_code;
    // RFC 9112 §4: a status code is exactly three digits; llhttp 8.1 also takes "2" or "0020".
    if (status < 100 || status > 999) {
        s->error_reason_ = "invalid status code";
        return -1;
    }
    if (status == 101) {
        // We never ask to upgrade, so a switch of protocols is a broken origin.
        s->error_reason_ = "unexpected 101 Switching Protocols";
        return -1;
    }
    if (status >= 100 && status < 200) {
        // RFC 9110 §15.2: a 1xx ends with its header section. One that announces a body is refused before anyone
        // hears of it (llhttp would read a body for some 1xx codes and parse it as the next response for others).
        if (++s->interim_count_ > kMaxInterimResponses) {
            s->error_reason_ = "too many interim (1xx) responses";
            return -1;
        }
        for (const auto& h : s->head_.headers) {
            if (header_name_equals(h.name, "transfer-encoding") ||
                (header_name_equals(h.name, "content-length") && trim_ows(h.value) != "0")) {
                s->error_reason_ = "body in an interim (1xx) response";
                return -1;
            }
        }
        s->interim_ = true;
        s->head_.status = status;
        s->head_.http_major = p->http_major;
        s->head_.http_minor = p->http_minor;
        if (s->listener_ && !s->listener_->on_interim(s->head_)) {
            s->aborted_ = true;
            return -1;
        }
        return 0;
    }
    // Like nginx: only "chunked" is understood. Another coding would be framed by EOF and reach the viewer
    // still encoded, without the header that says so.
    for (const auto& h : s->head_.headers) {
        if (header_name_equals(h.name, "transfer-encoding") && !header_name_equals(trim_ows(h.value), "chunked")) {
            s->error_reason_ = "unsupported Transfer-Encoding";
            return -1;
        }
    }
    s->head_.status = status;
    s->head_.http_major = p->http_major;
    s->head_.http_minor = p->http_minor;
    s->head_done_ = true;
    if (s->listener_ && !s->listener_->on_head(s->head_)) {
        s->aborted_ = true;
        return -1;
    }
    // The parser cannot know the request method: a HEAD response has headers describing a body that never
    // comes, and returning 1 tells llhttp to skip it. RFC 9112 §6.3: a 204 or 304 also ends with its head whatever
    // its fields say, but llhttp 8.1 reads the body a Content-Length or chunked coding announces there: bytes an
    // origin sent after a 204 were stored and served as the 204's body, which a viewer takes for the start of its
    // next response. Skipped, they are left over, and a connection with bytes left over is not reused.
    return s->head_request_ || status == 204 || status == 304 ? 1 : 0;
}

int ResponseParser::on_body_cb(llhttp_t* p, const char* at, size_t len) noexcept {
    ResponseParser* s = self(p);
    if (s->interim_) {
        // Refused in on_headers_complete already; kept as a second guard.
        s->error_reason_ = "body in an interim (1xx) response";
        return -1;
    }
    if (s->listener_ && !s->listener_->on_body(std::string_view(at, len))) {
        s->aborted_ = true;
        return -1;
    }
    return 0;
}

int ResponseParser::on_message_complete(llhttp_t* p) noexcept {
    ResponseParser* s = self(p);
    if (s->interim_) {
        // Keep parsing: the final response follows. header_bytes_ is not reset, so an origin that sends interim
        // responses without end runs into the header limit instead of holding the exchange forever.
        s->interim_ = false;
        return 0;
    }
    s->complete_ = true;
    s->keep_alive_ = llhttp_should_keep_alive(p) != 0;
    // Stop here: the listener's on_complete runs after llhttp_execute returned, so it may reset the parser
    // for the next request, and bytes after the response are not parsed as another response.
    return HPE_PAUSED;
}

ResponseParser::Result ResponseParser::feed(const char* data, size_t len, size_t* consumed) {
    *consumed = 0;
    if (len == 0) return Result::NeedMore;
    started_ = true;
    buf_begin_ = data;
    llhttp_errno_t rc = llhttp_execute(&parser_, data, len);
    prev_last_ = data[len - 1];
    if (rc == HPE_OK) {
        *consumed = len;
        return Result::NeedMore;
    }
    const char* pos = llhttp_get_error_pos(&parser_);
    *consumed = pos && pos >= data && pos <= data + len ? size_t(pos - data) : len;
    if (aborted_) return Result::Aborted;
    if (rc == HPE_PAUSED && complete_) {
        if (listener_) listener_->on_complete();
        return Result::Complete;
    }
    if (!*error_reason_)
        error_reason_ = llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : llhttp_errno_name(rc);
    return Result::Error;
}

ResponseParser::Result ResponseParser::finish() {
    if (complete_) return Result::Complete;
    if (!started_) {
        truncated_ = true;
        error_reason_ = "connection closed before any response byte";
        return Result::Error;
    }
    if (llhttp_get_errno(&parser_) != HPE_OK) {
        if (!*error_reason_) error_reason_ = "parse error";
        return Result::Error;
    }
    llhttp_errno_t rc = llhttp_finish(&parser_);
    if (aborted_) return Result::Aborted;
    if (complete_ && (rc == HPE_OK || rc == HPE_PAUSED)) {
        keep_alive_ = false; // the connection is gone
        if (listener_) listener_->on_complete();
        return Result::Complete;
    }
    truncated_ = true;
    error_reason_ =
        head_done_ ? "connection closed before the end of the body" : "connection closed inside the response head";
    return Result::Error;
}

} // namespace shared
