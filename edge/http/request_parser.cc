#include "edge/http/request_parser.h"
#include "shared/http/http_tokens.h"

#include <strings.h>

#include <algorithm>
#include <cstring>

namespace edge {
namespace {

// RFC 9110 §5.6.2 tchar.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
        if (!ok || c == 0) return false;
    }
    return true;
}

RequestParser* self(llhttp_t* p) {
    return static_cast<RequestParser*>(p->data);
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 §2.3 unreserved and §2.2 sub-delims.
bool is_reg_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && std::strchr("-._~!$&'()*+,;=", c) != nullptr);
}

// RFC 9112 §3.2 / RFC 3986 §3.2.2-3.2.3: host [ ":" port ], where host is an IP-literal in brackets, or a
// reg-name (which covers IPv4 addresses). An empty host is refused: it names nothing.
bool valid_authority(std::string_view s) {
    size_t i = 0;
    const size_t n = s.size();
    if (n > 0 && s[0] == '[') {
        size_t close = s.find(']');
        if (close == std::string_view::npos || close < 2) return false;
        std::string_view inner = s.substr(1, close - 1);
        if (inner[0] == 'v' || inner[0] == 'V') { // IPvFuture
            if (inner.size() < 4 || !is_hex(inner[1])) return false;
            for (char c : inner.substr(1))
                if (!is_reg_name_char(c) && c != ':') return false;
        } else {
            if (inner.find(':') == std::string_view::npos) return false;
            for (char c : inner)
                if (!is_hex(c) && c != ':' && c != '.') return false;
        }
        i = close + 1;
    } else {
        while (i < n && s[i] != ':') {
            if (s[i] == '%') {
                if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
                i += 3;
                continue;
            }
            if (!is_reg_name_char(s[i])) return false;
            ++i;
        }
        if (i == 0) return false;
    }
    if (i == n) return true;
    if (s[i] != ':') return false;
    std::string_view port = s.substr(i + 1);
    if (port.size() > 5) return false;
    unsigned v = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v <= 65535;
}

} // namespace

std::string_view HttpRequest::header(std::string_view name, bool* found) const {
    for (const auto& h : headers) {
        if (shared::ascii_iequals(h.name, name)) {
            if (found) *found = true;
            return h.value;
        }
    }
    if (found) *found = false;
    return {};
}

const llhttp_settings_t* RequestParser::settings() {
    // llhttp keeps a pointer to the settings, so they must outlive every parser.
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = &RequestParser::on_message_begin;
        st.on_url = &RequestParser::on_url;
        st.on_header_field = &RequestParser::on_header_field;
        st.on_header_value = &RequestParser::on_header_value;
        st.on_headers_complete = &RequestParser::on_headers_complete;
        st.on_body = &RequestParser::on_body;
        st.on_message_complete = &RequestParser::on_message_complete;
        st.on_chunk_extension_name = &RequestParser::on_chunk_extension;
        st.on_chunk_extension_value = &RequestParser::on_chunk_extension;
        return st;
    }();
    return &s;
}

// The storage sets of this thread's idle parsers. Bounded: beyond kMaxFree (the most requests a worker had begun at
// once, give or take) a returned set is freed, so a burst does not stay resident.
class RequestParser::StoragePool {
  public:
    static StoragePool& local() {
        thread_local StoragePool pool;
        return pool;
    }
    // Swaps the newest idle set into a parser's containers (empty, without capacity); false when there is none.
    // Swapping in place, with no set built or destroyed, keeps a keep-alive request's take and give at a few dozen
    // instructions: they run twice per request on the hit path.
    bool take(std::string& arena, std::string& body, std::vector<FieldSpan>& spans, std::vector<HeaderField>& fields) {
        if (n_ == 0) return false;
        swap_into(slots_[--n_], arena, body, spans, fields);
        return true;
    }
    // Keeps a parser's containers (cleared) as an idle set, leaving it the slot's empty ones; false when full.
    bool give(std::string& arena, std::string& body, std::vector<FieldSpan>& spans, std::vector<HeaderField>& fields) {
        if (n_ == kMaxFree) return false;
        swap_into(slots_[n_++], arena, body, spans, fields);
        return true;
    }

  private:
    struct Set {
        std::string arena, body;
        std::vector<FieldSpan> spans;
        std::vector<HeaderField> fields;
    };
    static void swap_into(Set& s, std::string& arena, std::string& body, std::vector<FieldSpan>& spans,
                          std::vector<HeaderField>& fields) noexcept {
        s.arena.swap(arena);
        s.body.swap(body);
        s.spans.swap(spans);
        s.fields.swap(fields);
    }
    static constexpr size_t kMaxFree = 64;
    Set slots_[kMaxFree]; // [0, n_) idle sets with capacity; the rest empty
    size_t n_ = 0;
};

RequestParser::RequestParser(const RequestLimits& limits) {
    llhttp_init(&parser_, HTTP_REQUEST, settings());
    parser_.data = this;
    set_limits(limits);
}

RequestParser::~RequestParser() {
    release_storage();
}

void RequestParser::set_limits(const RequestLimits& limits) {
    limits_ = limits;
}

void RequestParser::take_storage() {
    if (storage_taken_) return;
    storage_taken_ = true;
    StoragePool::local().take(arena_, body_, spans_, fields_); // (else the empty ones grow below)
    // The views are taken once the headers are complete (finish_headers), so the arena may grow while they arrive;
    // the set keeps its capacity from request to request. A typical request fits in 2 KiB (reserving the limits,
    // 40 KiB by default, is what made idle connections expensive). The index never grows past max_headers.
    arena_.reserve(std::min<size_t>(limits_.max_uri_bytes + limits_.max_header_bytes + 64, 2048));
    spans_.reserve(limits_.max_headers + 1);
    fields_.reserve(limits_.max_headers + 1);
}

void RequestParser::release_storage() {
    if (!storage_taken_) return;
    storage_taken_ = false;
    req_.headers = {};
    req_.body = {};
    arena_.clear();
    body_.clear();
    spans_.clear();
    fields_.clear();
    // A large request's growth is not kept round the pool.
    if (arena_.capacity() > 4096) std::string().swap(arena_);
    if (body_.capacity() > 4096) std::string().swap(body_);
    if (StoragePool::local().give(arena_, body_, spans_, fields_)) return;
    // The pool is full (a burst ended): an idle connection holds no capacity.
    std::string().swap(arena_);
    std::string().swap(body_);
    std::vector<FieldSpan>().swap(spans_);
    std::vector<HeaderField>().swap(fields_);
}

int RequestParser::fail(int status, const char* reason) {
    if (error_status_ == 0) {
        error_status_ = status;
        error_reason_ = reason;
    }
    llhttp_set_error_reason(&parser_, reason);
    return HPE_USER;
}

void RequestParser::reset_message() {
    req_ = HttpRequest{};
    req_.secure = secure_;
    arena_.clear();
    body_.clear();
    spans_.clear();
    fields_.clear();
    url_len_ = 0;
    header_bytes_ = 0;
    chunk_ext_bytes_ = 0;
    last_was_value_ = false;
    started_ = false;
    headers_done_ = false;
    complete_ = false;
    upgrade_ = false;
    chunk_crlf_pending_ = 0;
    method_len_ = 0;
    method_done_ = false;
    raw_ = Raw::first_line_start;
}

void RequestParser::next() {
    bool was_complete = complete_;
    reset_message();
    if (was_complete && llhttp_get_errno(&parser_) == HPE_PAUSED) llhttp_resume(&parser_);
}

bool RequestParser::scan_raw(const char* data, size_t len) {
    for (size_t i = 0; i < len && raw_ != Raw::done; ++i) {
        char c = data[i];
        switch (raw_) {
        case Raw::first_line_start:
            // Empty lines before the request line are tolerated (RFC 9112 §2.2) but must still be CRLF.
            if (c == '\r') {
                raw_ = Raw::leading_cr;
                continue;
            }
            if (c == '\n') {
                fail(400, "bare LF line ending");
                return false;
            }
            raw_ = Raw::in_method;
            [[fallthrough]];
        case Raw::in_method:
            if (c == ' ') {
                method_done_ = true;
                raw_ = Raw::in_line;
            } else if (c == '\r') {
                raw_ = Raw::after_cr;
            } else if (c == '\n') {
                fail(400, "bare LF line ending");
                return false;
            } else if (method_len_ < sizeof method_) {
                method_[method_len_++] = c;
            }
            break;
        case Raw::leading_cr:
            if (c != '\n') {
                fail(400, "CR not followed by LF");
                return false;
            }
            raw_ = Raw::first_line_start;
            break;
        case Raw::in_line:
            if (c == '\r')
                raw_ = Raw::after_cr;
            else if (c == '\n') {
                fail(400, "bare LF line ending");
                return false;
            }
            break;
        case Raw::after_cr:
            if (c != '\n') {
                // A CR that does not end a line: `X: \rTransfer-Encoding: chunked` hides a header from some
                // parsers and not from others (fixed upstream in llhttp 8.1.2).
                fail(400, "CR not followed by LF");
                return false;
            }
            raw_ = Raw::line_start;
            break;
        case Raw::line_start:
            if (c == '\r')
                raw_ = Raw::after_blank_cr;
            else if (c == '\n') {
                fail(400, "bare LF line ending");
                return false;
            } else if (c == ' ' || c == '\t') {
                fail(400, "obs-fold header continuation");
                return false;
            } else if (c == ':') {
                fail(400, "empty header name");
                return false;
            } else
                raw_ = Raw::in_line;
            break;
        case Raw::after_blank_cr:
            if (c != '\n') {
                fail(400, "CR not followed by LF");
                return false;
            }
            raw_ = Raw::done;
            break;
        case Raw::done:
            break;
        }
    }
    return true;
}

RequestParser::Result RequestParser::feed(const char* data, size_t len) {
    take_storage();
    if (complete_) return {Status::complete, 0};
    if (error_status_ != 0) return {Status::error, 0};
    if (len == 0) return {Status::need_more, 0};
    if (!scan_raw(data, len)) return {Status::error, 0};
    if (chunk_crlf_pending_ != 0 && !check_chunk_crlf(data, data + len)) return {Status::error, 0};
    feed_end_ = data + len;
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    feed_end_ = nullptr;
    if (err == HPE_OK) return {Status::need_more, len};
    size_t consumed = len;
    if (const char* pos = llhttp_get_error_pos(&parser_); pos >= data && pos <= data + len) {
        consumed = static_cast<size_t>(pos - data);
    }
    if (err == HPE_PAUSED && complete_) return {Status::complete, consumed};
    if (err == HPE_PAUSED_UPGRADE && complete_) {
        // We do not switch protocols: answer the request as plain HTTP and close afterwards.
        req_.keep_alive = false;
        return {Status::complete, consumed};
    }
    if (error_status_ == 0 && err == HPE_INVALID_METHOD && method_len_ > 0 &&
        is_token(std::string_view(method_, method_len_))) {
        // A well-formed method llhttp does not know: RFC 9110 §9.1 says 501, not 400.
        error_status_ = 501;
        error_reason_ = "method not implemented";
    }
    if (error_status_ == 0) {
        error_status_ = 400;
        error_reason_ = llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : llhttp_errno_name(err);
    }
    return {Status::error, consumed};
}

int RequestParser::on_message_begin(llhttp_t* p) noexcept {
    RequestParser* s = self(p);
    s->started_ = true;
    return 0;
}

int RequestParser::on_url(llhttp_t* p, const char* at, size_t len) noexcept {
    RequestParser* s = self(p);
    s->started_ = true;
    if (s->url_len_ + len > s->limits_.max_uri_bytes) return s->fail(414, "URI too long");
    s->arena_.append(at, len);
    s->url_len_ += static_cast<uint32_t>(len);
    return 0;
}

int RequestParser::on_header_field(llhttp_t* p, const char* at, size_t len) noexcept {
    RequestParser* s = self(p);
    s->header_bytes_ += len;
    if (s->header_bytes_ > s->limits_.max_header_bytes) return s->fail(431, "request headers too large");
    if (s->headers_done_) return 0; // trailers: counted, not kept
    if (s->spans_.empty() || s->last_was_value_) {
        if (s->spans_.size() >= s->limits_.max_headers) return s->fail(431, "too many request headers");
        auto off = static_cast<uint32_t>(s->arena_.size());
        s->spans_.push_back(FieldSpan{off, 0, off, 0});
        s->last_was_value_ = false;
    }
    s->arena_.append(at, len);
    s->spans_.back().name_len += static_cast<uint32_t>(len);
    s->spans_.back().value_off = static_cast<uint32_t>(s->arena_.size());
    return 0;
}

int RequestParser::on_header_value(llhttp_t* p, const char* at, size_t len) noexcept {
    RequestParser* s = self(p);
    s->header_bytes_ += len;
    if (s->header_bytes_ > s->limits_.max_header_bytes) return s->fail(431, "request headers too large");
    if (s->headers_done_ || s->spans_.empty()) return 0;
    s->arena_.append(at, len);
    s->spans_.back().value_len += static_cast<uint32_t>(len);
    s->last_was_value_ = true;
    return 0;
}

int RequestParser::on_headers_complete(llhttp_t* p) noexcept {
    RequestParser* s = self(p);
    int rc = s->finish_headers();
    if (rc != 0) return rc;
    s->headers_done_ = true;
    return 0;
}

int RequestParser::finish_headers() {
    const char* base = arena_.data();
    req_.target = std::string_view(base, url_len_);
    for (const auto& sp : spans_) {
        // llhttp 8.1.0 lets a space slip into a field name ("Host : x"); RFC 9112 §5.1 requires a 400.
        if (!is_token(std::string_view(base + sp.name_off, sp.name_len))) return fail(400, "invalid header name");
        fields_.push_back(HeaderField{std::string_view(base + sp.name_off, sp.name_len),
                                      shared::trim_ows(std::string_view(base + sp.value_off, sp.value_len))});
    }
    req_.headers = std::span<const HeaderField>(fields_.data(), fields_.size());
    req_.method = static_cast<llhttp_method_t>(parser_.method);
    req_.method_name = llhttp_method_name(req_.method);
    req_.version_major = parser_.http_major;
    req_.version_minor = parser_.http_minor;

    bool absolute_form = false;
    if (req_.target.empty()) return fail(400, "empty request target");
    if (req_.target[0] != '/' && !(req_.method == HTTP_OPTIONS && req_.target == "*")) {
        // RFC 9112 §3.2.2: a server MUST accept the absolute-form (what a client sends to a proxy).
        if (!shared::ascii_istarts_with(req_.target, "http://") &&
            !shared::ascii_istarts_with(req_.target, "https://")) {
            return fail(400, "unsupported request target");
        }
        absolute_form = true;
    }

    int host_count = 0, cl_count = 0, te_count = 0;
    std::string_view first_cl;
    bool te_chunked_only = true;
    for (const auto& h : fields_) {
        if (shared::ascii_iequals(h.name, "host")) {
            ++host_count;
            req_.host = h.value;
            // RFC 9112 §3.2: 400 for an invalid Host, which would otherwise reach the cache key and the origin.
            if (!h.value.empty() && !valid_authority(h.value)) return fail(400, "invalid Host header");
        } else if (shared::ascii_iequals(h.name, "content-length")) {
            if (cl_count++ == 0)
                first_cl = h.value;
            else if (h.value != first_cl)
                return fail(400, "differing Content-Length headers");
        } else if (shared::ascii_iequals(h.name, "transfer-encoding")) {
            ++te_count;
            // Only "chunked" is implemented; any other coding (or a list) is 501 per RFC 9112 §6.1.
            if (!shared::ascii_iequals(h.value, "chunked")) te_chunked_only = false;
        }
    }
    if (te_count > 0 && cl_count > 0) return fail(400, "both Content-Length and Transfer-Encoding");
    if (cl_count > 1) return fail(400, "duplicate Content-Length headers");
    if (te_count > 0 && (req_.version_major == 1 && req_.version_minor == 0)) {
        return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (te_count > 1) return fail(400, "duplicate Transfer-Encoding headers");
    if (te_count > 0 && !te_chunked_only) return fail(501, "unsupported Transfer-Encoding");
    if (req_.version_major == 1 && req_.version_minor >= 1) {
        if (host_count == 0) return fail(400, "missing Host header");
        if (host_count > 1) return fail(400, "duplicate Host headers");
        if (req_.host.empty()) return fail(400, "empty Host header");
    } else if (host_count > 1) {
        return fail(400, "duplicate Host headers");
    }
    if (absolute_form) {
        if (int rc = take_absolute_form(); rc != 0) return rc;
    }
    auto q = req_.target.find('?');
    req_.path = req_.target.substr(0, q);
    req_.query = q == std::string_view::npos ? std::string_view{} : req_.target.substr(q + 1);
    req_.has_body_framing = te_count > 0 || cl_count > 0;
    if (cl_count > 0 && parser_.content_length > limits_.max_body_bytes) return fail(413, "request body too large");
    return 0;
}

int RequestParser::take_absolute_form() {
    // The url bytes sit at the start of the arena: "http://authority/path?query". The authority moves to the
    // front (req_.host), and the origin-form target stays where it is; with an empty path, the '/' it needs goes
    // into the byte before it, which the scheme freed.
    char* base = arena_.data();
    std::string_view url(base, url_len_);
    size_t scheme = url[4] == ':' ? 7 : 8;
    std::string_view rest = url.substr(scheme);
    size_t auth_len = rest.find_first_of("/?");
    if (auth_len == std::string_view::npos) auth_len = rest.size();
    std::string_view auth = rest.substr(0, auth_len);
    if (auth.find('@') != std::string_view::npos) return fail(400, "userinfo in request target");
    if (!valid_authority(auth)) return fail(400, "invalid host in request target");
    size_t rem_off = scheme + auth_len;
    size_t rem_len = url_len_ - rem_off;
    std::memmove(base, base + scheme, auth_len);
    req_.host = std::string_view(base, auth_len);
    if (rem_len == 0) {
        req_.target = "/";
    } else if (base[rem_off] == '?') {
        base[rem_off - 1] = '/';
        req_.target = std::string_view(base + rem_off - 1, rem_len + 1);
    } else {
        req_.target = std::string_view(base + rem_off, rem_len);
    }
    return 0;
}

bool RequestParser::check_chunk_crlf(const char* p, const char* end) {
    for (; chunk_crlf_pending_ != 0 && p < end; ++p) {
        if (*p != (chunk_crlf_pending_ == 2 ? '\r' : '\n')) {
            // `5\r\nhelloXX0\r\n\r\n`: llhttp 8.1 skips the two bytes, so what follows would be read as a
            // new chunk or request by us and differently by the next hop (request smuggling).
            fail(400, "chunk data not followed by CRLF");
            return false;
        }
        --chunk_crlf_pending_;
    }
    return true;
}

int RequestParser::on_body(llhttp_t* p, const char* at, size_t len) noexcept {
    RequestParser* s = self(p);
    if (s->body_.size() + len > s->limits_.max_body_bytes) return s->fail(413, "request body too large");
    s->body_.append(at, len);
    if ((p->flags & F_CHUNKED) && p->content_length == 0) {
        s->chunk_crlf_pending_ = 2;
        if (s->feed_end_ && !s->check_chunk_crlf(at + len, s->feed_end_)) return HPE_USER;
    }
    return 0;
}

int RequestParser::on_chunk_extension(llhttp_t* p, const char*, size_t len) noexcept {
    RequestParser* s = self(p);
    // Chunk extensions are never used by us but cost parse time; bound them like headers.
    s->chunk_ext_bytes_ += len;
    if (s->chunk_ext_bytes_ > 16384) return s->fail(400, "chunk extensions too large");
    return 0;
}

int RequestParser::on_message_complete(llhttp_t* p) noexcept {
    RequestParser* s = self(p);
    s->req_.keep_alive = llhttp_should_keep_alive(p) != 0;
    s->req_.body = s->body_;
    s->complete_ = true;
    return HPE_PAUSED;
}

} // namespace edge
