#include "edge/server/h2_session.h"

#include <algorithm>
#include <cstring>

#include "shared/log/log.h"

namespace edge {
namespace {

// Frames gathered before they are handed to the connection in one copy.
constexpr size_t kGatherBytes = 64 << 10;
// A copied body's consumed prefix is dropped once it is this large (a stream whose queue never runs empty).
constexpr size_t kCompactBytes = 256 << 10;
// A response head larger than this is not a head (the handler always writes one well below it).
constexpr size_t kMaxHeadBytes = 1 << 20;

std::string_view sv(const uint8_t* p, size_t n) {
    return {reinterpret_cast<const char*>(p), n};
}

bool method_of(std::string_view name, llhttp_method_t* out) {
#define MERIDIAN_H2_METHOD(num, id, text)                                                                              \
    if (name == #text) {                                                                                               \
        *out = static_cast<llhttp_method_t>(num);                                                                      \
        return true;                                                                                                   \
    }
    HTTP_METHOD_MAP(MERIDIAN_H2_METHOD)
#undef MERIDIAN_H2_METHOD
    return false;
}

// RFC 9113 §8.2.2: connection-specific fields never appear in HTTP/2.
bool connection_specific(std::string_view lname) {
    return lname == "connection" || lname == "keep-alive" || lname == "proxy-connection" ||
           lname == "transfer-encoding" || lname == "upgrade";
}

} // namespace

H2Stats& h2_stats() {
    static H2Stats s;
    return s;
}

H2Session::H2Session(H2Transport& t, RequestHandler* handler, const H2Limits& limits, bool secure)
    : t_(t), handler_(handler), limits_(limits), secure_(secure) {
    if (limits_.http2.max_header_list_size == 0)
        limits_.http2.max_header_list_size = static_cast<uint32_t>(limits_.request.max_header_bytes);
}

H2Session::~H2Session() {
    if (ng_) nghttp2_session_del(ng_); // calls no callbacks
    for (Stream* lists : {free_, live_}) {
        while (lists) {
            Stream* n = lists->next_;
            delete lists;
            lists = n;
        }
    }
    if (started_) {
        h2_stats().open_connections.fetch_sub(1, std::memory_order_relaxed);
        h2_stats().streams.fetch_add(streams_, std::memory_order_relaxed);
    }
}

bool H2Session::start() {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid_frame);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return false;
    }
    // Windows are given back by on_data_chunk and admit_body: nghttp2's automatic WINDOW_UPDATEs let a viewer
    // fill max_concurrent_streams request bodies of max_body_bytes each (128 MiB by default) on one connection.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rc = nghttp2_session_server_new2(&ng_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        ng_ = nullptr;
        return false;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.http2.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.http2.max_header_list_size},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0) return false;
    started_ = true;
    h2_stats().connections.fetch_add(1, std::memory_order_relaxed);
    h2_stats().open_connections.fetch_add(1, std::memory_order_relaxed);
    last_progress_ms_ = reset_window_start_ = t_.now_ms();
    flush();
    return true;
}

void H2Session::on_input(const char* data, size_t len) {
    if (closed_ || !ng_) return;
    in_recv_ = true;
    ssize_t n = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data), len);
    in_recv_ = false;
    if (n < 0) {
        // Not HTTP/2 (bad preface), a flood of frames that need answers, or a callback failure: what nghttp2
        // queued (a GOAWAY) goes out, then the connection closes.
        h2_stats().protocol_errors.fetch_add(1, std::memory_order_relaxed);
        shared::log::debug("edge", "HTTP/2 input refused",
                           {{"client", std::string(t_.transport_peer_ip())}, {"error", nghttp2_strerror(int(n))}});
        if (n != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
            nghttp2_session_terminate_session(ng_, n == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM
                                                                            : NGHTTP2_PROTOCOL_ERROR);
            flush();
        }
        if (!closed_) t_.close_transport();
        return;
    }
    flush();
}

void H2Session::on_transport_writable() {
    if (paused_ && !closed_) {
        paused_ = false;
        t_.pause_input(false);
    }
    flush();
}

void H2Session::on_transport_closed() {
    if (closed_) return;
    closed_ = true;
    // Every stream's viewer is gone. A session releasing its stream here keeps it in the list (nghttp2 still has
    // it), so walking the list stays valid.
    for (Stream* s = live_; s; s = s->next_) {
        s->gone_ = true;
        s->q_.clear();
        s->q_head_ = 0;
        s->queued_ = 0;
        if (ViewerEvents* ev = s->events_) {
            s->events_ = nullptr;
            ++s->holds_; // the callback may release the session's hold
            ev->on_viewer_gone();
            --s->holds_;
        }
    }
}

void H2Session::drain() {
    if (closed_ || !ng_ || draining_) return;
    draining_ = true;
    // RFC 9113 §6.8: streams up to the last one taken are answered; later ones were not processed.
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    flush();
}

void H2Session::close_idle() {
    if (closed_ || !ng_) return;
    nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
    flush();
    if (!closed_) t_.close_transport();
}

bool H2Session::blocked() const {
    for (const Stream* s = live_; s; s = s->next_)
        if (!s->closed_ && !s->gone_ && s->submitted_ && s->queued_ > 0) return true;
    return false;
}

H2Session::Stream* H2Session::get_stream() {
    Stream* s = free_;
    if (s) {
        free_ = s->next_;
    } else {
        s = new Stream;
        s->session_ = this;
    }
    s->prev_ = nullptr;
    s->next_ = live_;
    if (live_) live_->prev_ = s;
    live_ = s;
    return s;
}

void H2Session::recycle(Stream* s) {
    if (s->prev_)
        s->prev_->next_ = s->next_;
    else
        live_ = s->next_;
    if (s->next_) s->next_->prev_ = s->prev_;
    s->drop_pinned();
    s->events_ = nullptr;
    s->arena_.clear();
    s->field_offs_.clear();
    s->fields_.clear();
    s->body_in_.clear();
    s->head_.clear();
    s->hin_.clear();
    s->nv_.clear();
    s->q_.clear();
    s->q_head_ = 0;
    s->copies_.clear();
    s->copies_used_ = 0;
    // A pooled stream keeps what small responses need; a large one's peak goes back.
    if (s->copies_.capacity() > kGatherBytes) std::string().swap(s->copies_);
    if (s->body_in_.capacity() > kGatherBytes) std::string().swap(s->body_in_);
    s->prev_ = nullptr;
    s->next_ = free_;
    free_ = s;
}

void H2Session::Stream::reset_for(int32_t id, uint64_t now) {
    id_ = id;
    start_ms_ = now;
    events_ = nullptr;
    holds_ = 0;
    req_ = HttpRequest{};
    header_bytes_ = 0;
    req_error_ = 0;
    req_error_reason_ = "";
    method_off_ = method_len_ = path_off_ = path_len_ = authority_off_ = authority_len_ = 0;
    has_method_ = has_path_ = has_authority_ = saw_data_ = headers_in_ = body_admitted_ = false;
    last_in_ms_ = now;
    unconsumed_ = 0;
    queued_ = 0;
    dispatched_ = head_done_ = submitted_ = ended_ = deferred_ = told_congested_ = gone_ = false;
    closed_ = false;
}

bool H2Session::Stream::add_header(std::string_view name, std::string_view value) {
    header_bytes_ += name.size() + value.size();
    if (header_bytes_ > session_->limits_.request.max_header_bytes ||
        field_offs_.size() >= session_->limits_.request.max_headers) {
        if (!req_error_) {
            req_error_ = 431;
            req_error_reason_ = "request headers too large";
        }
        return false;
    }
    FieldOff f;
    f.name_off = static_cast<uint32_t>(arena_.size());
    f.name_len = static_cast<uint32_t>(name.size());
    arena_.append(name);
    f.value_off = static_cast<uint32_t>(arena_.size());
    f.value_len = static_cast<uint32_t>(value.size());
    arena_.append(value);
    field_offs_.push_back(f);
    return true;
}

int H2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* user) noexcept {
    auto* self = static_cast<H2Session*>(user);
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (self->active_ >= self->limits_.http2.max_concurrent_streams) {
        // nghttp2 enforces the advertised limit only once the viewer acknowledged our SETTINGS; until then (and
        // for a viewer that never acknowledges) it would take any number. RFC 9113 §5.1.2: refused, so the viewer
        // may retry it. The stream gets no Stream: nothing of it is handled.
        nghttp2_submit_rst_stream(self->ng_, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    Stream* s = self->get_stream();
    s->reset_for(f->hd.stream_id, self->t_.now_ms());
    ++self->active_;
    ++self->streams_;
    nghttp2_session_set_stream_user_data(self->ng_, f->hd.stream_id, s);
    return 0;
}

int H2Session::on_header(nghttp2_session* ng, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t, void* user) noexcept {
    auto* self = static_cast<H2Session*>(user);
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; // trailers: ignored
    auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, f->hd.stream_id));
    if (!s || s->req_error_) return 0;
    std::string_view n = sv(name, namelen), v = sv(value, valuelen);
    // nghttp2 has checked the pseudo-headers (RFC 9113 §8.3: each once, before the fields, the required ones
    // present) and every name and value (§8.2.1).
    if (!n.empty() && n[0] == ':') {
        auto keep = [&](uint32_t* off, uint32_t* len) {
            *off = static_cast<uint32_t>(s->arena_.size());
            *len = static_cast<uint32_t>(v.size());
            s->arena_.append(v);
        };
        s->header_bytes_ += v.size();
        if (n == ":method") {
            keep(&s->method_off_, &s->method_len_);
            s->has_method_ = true;
        } else if (n == ":path") {
            if (v.size() > self->limits_.request.max_uri_bytes) {
                s->req_error_ = 414;
                s->req_error_reason_ = "request target too long";
                return 0;
            }
            keep(&s->path_off_, &s->path_len_);
            s->has_path_ = true;
        } else if (n == ":authority") {
            keep(&s->authority_off_, &s->authority_len_);
            s->has_authority_ = true;
        }
        return 0;
    }
    s->add_header(n, v);
    return 0;
}

int H2Session::on_data_chunk(nghttp2_session* ng, uint8_t, int32_t id, const uint8_t* data, size_t len,
                             void* user) noexcept {
    auto* self = static_cast<H2Session*>(user);
    // The connection's window reopens at once: what a connection buffers is bounded per stream, below.
    nghttp2_session_consume_connection(ng, len);
    auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, id));
    if (!s || s->dispatched_ || s->req_error_) {
        if (s) s->last_in_ms_ = self->t_.now_ms();
        nghttp2_session_consume_stream(ng, id, len); // discarded
        return 0;
    }
    s->saw_data_ = true;
    s->last_in_ms_ = self->t_.now_ms();
    if (s->body_in_.size() + len > self->limits_.request.max_body_bytes) {
        s->req_error_ = 413;
        s->req_error_reason_ = "request body too large";
        std::string().swap(s->body_in_);
        nghttp2_session_consume_stream(ng, id, len);
        self->dispatch(s); // answered now; the rest of the body is discarded
        return 0;
    }
    s->body_in_.append(reinterpret_cast<const char*>(data), len);
    s->unconsumed_ += len;
    self->admit_body(s);
    return 0;
}

void H2Session::admit_body(Stream* s) {
    if (!s->body_admitted_) {
        if (body_streams_ >= kBodyStreams) return; // waits with what its initial window let in
        s->body_admitted_ = true;
        ++body_streams_;
        s->last_in_ms_ = t_.now_ms(); // its wait for a place is not the viewer's silence
    }
    if (s->unconsumed_ > 0) {
        nghttp2_session_consume_stream(ng_, s->id_, s->unconsumed_);
        s->unconsumed_ = 0;
    }
}

void H2Session::release_body(Stream* s) {
    if (!s->body_admitted_) return;
    s->body_admitted_ = false;
    --body_streams_;
    // The oldest stream whose body waits (the lowest id) takes the place.
    Stream* next = nullptr;
    for (Stream* w = live_; w; w = w->next_)
        if (!w->closed_ && !w->gone_ && !w->dispatched_ && !w->body_admitted_ && w->saw_data_ &&
            (!next || w->id_ < next->id_))
            next = w;
    if (next) admit_body(next);
}

bool H2Session::answered_early(const Stream* s) const {
    // Only a request refused before its end (413, 408) is answered while it still arrives: every other one is
    // handled once the viewer ended it.
    return s->dispatched_ && s->req_error_ && !s->closed_ && !s->gone_ &&
           nghttp2_session_get_stream_local_close(ng_, s->id_) == 1 &&
           nghttp2_session_get_stream_remote_close(ng_, s->id_) == 0;
}

uint64_t H2Session::arrival_deadline(uint64_t header_ms, uint64_t body_ms) const {
    uint64_t due = UINT64_MAX;
    for (const Stream* s = live_; s; s = s->next_) {
        if (s->closed_ || s->gone_) continue;
        if (!s->dispatched_)
            due = std::min(due, s->last_in_ms_ + (s->headers_in_ ? body_ms : header_ms));
        else if (answered_early(s))
            due = std::min(due, s->last_in_ms_ + body_ms);
    }
    return due;
}

void H2Session::expire_arrivals(uint64_t now, uint64_t header_ms, uint64_t body_ms) {
    if (closed_ || !ng_) return;
    std::vector<Stream*> late;
    bool reset = false;
    for (Stream* s = live_; s; s = s->next_) {
        if (s->closed_ || s->gone_) continue;
        if (s->dispatched_) {
            // Answered (413, 408) and the rest of its request stopped coming: RFC 9113 §8.1 lets the server end
            // it with RST_STREAM NO_ERROR once the response is complete. At once, some clients (curl 7.88) drop
            // the answer they were still uploading behind; never, the stream stays half-open and the connection
            // never idles.
            if (answered_early(s) && now >= s->last_in_ms_ + body_ms) {
                nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s->id_, NGHTTP2_NO_ERROR);
                reset = true;
            }
            continue;
        }
        if (now < s->last_in_ms_ + (s->headers_in_ ? body_ms : header_ms)) continue;
        if (!s->headers_in_) {
            // A header block must end before any other frame of the connection (RFC 9113 §6.10): nothing else
            // can move on it.
            shared::log::debug("edge", "HTTP/2 request headers timed out",
                               {{"client", std::string(t_.transport_peer_ip())}});
            nghttp2_session_terminate_session(ng_, NGHTTP2_PROTOCOL_ERROR);
            flush();
            if (!closed_) t_.close_transport();
            return;
        }
        late.push_back(s);
    }
    if (reset) flush();
    // Pooled streams stay valid memory while one answer's callbacks recycle another.
    for (Stream* s : late) {
        if (closed_) return;
        if (s->closed_ || s->gone_ || s->dispatched_) continue;
        s->req_error_ = 408;
        s->req_error_reason_ = "request body timed out";
        std::string().swap(s->body_in_);
        dispatch(s);
    }
}

int H2Session::on_frame_recv(nghttp2_session* ng, const nghttp2_frame* f, void* user) noexcept {
    auto* self = static_cast<H2Session*>(user);
    switch (f->hd.type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
        if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
            if (auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, f->hd.stream_id))) {
                s->headers_in_ = true;
                s->last_in_ms_ = self->t_.now_ms();
            }
        }
        if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
            if (auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)))
                self->dispatch(s);
        }
        break;
    case NGHTTP2_RST_STREAM:
        self->count_reset(true);
        break;
    case NGHTTP2_SETTINGS:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK)) self->got_settings_ = true;
        break;
    case NGHTTP2_WINDOW_UPDATE:
        self->last_progress_ms_ = self->t_.now_ms();
        break;
    default:
        break;
    }
    return 0;
}

int H2Session::on_frame_send(nghttp2_session*, const nghttp2_frame* f, void* user) noexcept {
    auto* self = static_cast<H2Session*>(user);
    if (f->hd.type == NGHTTP2_DATA) {
        self->last_progress_ms_ = self->t_.now_ms();
    } else if (f->hd.type == NGHTTP2_RST_STREAM && f->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) {
        h2_stats().refused_streams.fetch_add(1, std::memory_order_relaxed);
    } else if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR &&
               f->goaway.error_code != NGHTTP2_ENHANCE_YOUR_CALM) {
        h2_stats().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    }
    return 0;
}

int H2Session::on_invalid_frame(nghttp2_session*, const nghttp2_frame*, int error, void* user) noexcept {
    // A stream refused for the concurrency limit is the limit working, not an error to count.
    if (error == NGHTTP2_ERR_REFUSED_STREAM) return 0;
    // A frame that is an error of the viewer's, most of them stream errors nghttp2 answers with RST_STREAM (a
    // WINDOW_UPDATE overflowing the stream's window, a malformed request...). "MadeYouReset" (CVE-2025-8671): a
    // request followed by such a frame cost the edge a request's work (an origin fetch) and freed its concurrency
    // slot at once, as a cancel does, without counting against max_stream_resets: 3,000 of them made 954 origin
    // requests. Counted here, as the frame is read, so the frames after the limit in the same read are not handled.
    static_cast<H2Session*>(user)->count_reset(false);
    return 0;
}

void H2Session::count_reset(bool by_viewer) {
    if (by_viewer) h2_stats().client_resets.fetch_add(1, std::memory_order_relaxed);
    uint64_t now = t_.now_ms();
    if (now - reset_window_start_ >= limits_.http2.reset_window_ms) {
        reset_window_start_ = now;
        resets_in_window_ = 0;
    }
    if (++resets_in_window_ <= limits_.http2.max_stream_resets || calmed_) return;
    // CVE-2023-44487 (rapid reset): each cancelled stream cost a request's work and freed its concurrency slot at
    // once, so the stream limit bounded nothing. Past the budget the connection ends, as nginx and H2O do.
    calmed_ = true;
    h2_stats().rapid_reset_goaways.fetch_add(1, std::memory_order_relaxed);
    shared::log::info("edge", "HTTP/2 viewer cancelled too many streams: GOAWAY ENHANCE_YOUR_CALM",
                      {{"client", std::string(t_.transport_peer_ip())}, {"resets", std::to_string(resets_in_window_)}});
    nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
}

int H2Session::on_stream_close(nghttp2_session* ng, int32_t id, uint32_t, void* user) noexcept {
    auto* self = static_cast<H2Session*>(user);
    auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, id));
    if (!s) return 0;
    s->closed_ = true;
    --self->active_;
    self->release_body(s);
    // Complete, reset by the viewer, or aborted: nothing more is read from the stream's queue or pinned bodies.
    ViewerEvents* ev = s->events_;
    s->events_ = nullptr;
    s->gone_ = true;
    s->q_.clear();
    s->q_head_ = 0;
    s->queued_ = 0;
    s->drop_pinned();
    ++s->holds_; // the callback may release the session's hold
    if (ev) ev->on_viewer_gone();
    if (--s->holds_ == 0) self->recycle(s);
    return 0;
}

void H2Session::dispatch(Stream* s) {
    if (s->dispatched_ || s->gone_) return;
    s->dispatched_ = true;
    release_body(s);
    HttpRequest& r = s->req_;
    const char* base = s->arena_.data();
    // RFC 9113 §8.2.3: cookie fields sent apart are one field again for HTTP/1.1 semantics.
    size_t cookies = 0;
    for (const auto& f : s->field_offs_)
        if (std::string_view(base + f.name_off, f.name_len) == "cookie") ++cookies;
    uint32_t cookie_off = 0, cookie_len = 0;
    if (cookies > 1) {
        std::string merged;
        for (const auto& f : s->field_offs_) {
            if (std::string_view(base + f.name_off, f.name_len) != "cookie") continue;
            if (!merged.empty()) merged.append("; ");
            merged.append(base + f.value_off, f.value_len);
        }
        cookie_off = static_cast<uint32_t>(s->arena_.size());
        cookie_len = static_cast<uint32_t>(merged.size());
        s->arena_.append(merged);
        base = s->arena_.data();
    }
    s->fields_.clear();
    bool cookie_done = false;
    bool has_cl = false;
    std::string_view host_header;
    for (const auto& f : s->field_offs_) {
        std::string_view n(base + f.name_off, f.name_len);
        std::string_view v(base + f.value_off, f.value_len);
        if (n == "cookie" && cookies > 1) {
            if (cookie_done) continue;
            cookie_done = true;
            v = std::string_view(base + cookie_off, cookie_len);
        }
        if (n == "content-length") has_cl = true;
        if (n == "host" && host_header.empty()) host_header = v;
        s->fields_.push_back(HeaderField{n, v});
    }
    r.headers = std::span<const HeaderField>(s->fields_.data(), s->fields_.size());
    r.version_major = 2;
    r.version_minor = 0;
    r.keep_alive = true;
    r.secure = secure_;
    r.method_name = std::string_view(base + s->method_off_, s->method_len_);
    r.target = std::string_view(base + s->path_off_, s->path_len_);
    r.host = s->has_authority_ ? std::string_view(base + s->authority_off_, s->authority_len_) : host_header;
    r.body = s->body_in_;
    r.has_body_framing = s->saw_data_ || has_cl;
    int status = s->req_error_;
    const char* reason = s->req_error_reason_;
    if (!status && !method_of(r.method_name, &r.method)) {
        status = 501;
        reason = "unknown method";
    }
    if (!status &&
        (!s->has_path_ || r.target.empty() || (r.target[0] != '/' && !(r.method == HTTP_OPTIONS && r.target == "*")))) {
        status = 400;
        reason = "unsupported request target";
    }
    if (!status && r.host.empty()) {
        status = 400;
        reason = "missing :authority";
    }
    auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view{} : r.target.substr(q + 1);
    if (status)
        handler_->reject(*s, status, reason);
    else
        handler_->handle(*s, r);
}

// ---- Output ----

bool H2Session::Stream::write(const OutBuf* bufs, unsigned n) {
    if (gone_) return false;
    for (unsigned i = 0; i < n && !gone_; ++i)
        take(bufs[i].data, bufs[i].len, false);
    session_->flush();
    return !gone_;
}

bool H2Session::Stream::write_file(const OutBuf* head, unsigned n, const FileSpan& body) {
    if (gone_) return false;
    for (unsigned i = 0; i < n && !gone_; ++i)
        take(head[i].data, head[i].len, false);
    if (!gone_) take(body.mem, body.len, false);
    session_->flush();
    return !gone_;
}

bool H2Session::Stream::write_copy(std::string_view s) {
    if (gone_) return false;
    take(s.data(), s.size(), true);
    session_->flush();
    return !gone_;
}

bool H2Session::Stream::take(const char* data, size_t len, bool copy) {
    while (!head_done_ && len > 0) {
        size_t old = hin_.size();
        hin_.append(data, len);
        size_t pos = hin_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
        if (pos == std::string::npos) {
            if (hin_.size() > kMaxHeadBytes) abort();
            return !gone_;
        }
        size_t rest = hin_.size() - (pos + 4);
        hin_.resize(pos + 4);
        data += len - rest;
        len = rest;
        if (!parse_head()) {
            shared::log::error("edge", "HTTP/2: the response head could not be converted",
                               {{"client", std::string(peer_ip())}});
            abort();
            return false;
        }
        if (status_[0] == '1') {
            // An interim response (103 Early Hints): its own HEADERS frame, before the final head's (RFC 9113 §8.1;
            // nghttp2 copies the fields). 100 and 101 have no meaning in HTTP/2.
            if (status_[1] != '0' || status_[2] > '1') {
                if (!closed_ && !session_->closed_)
                    nghttp2_submit_headers(session_->ng_, NGHTTP2_FLAG_NONE, id_, nullptr, nv_.data(), nv_.size(),
                                           nullptr);
            }
            hin_.clear();
            nv_.clear();
            continue;
        }
        head_done_ = true;
    }
    if (len == 0) return true;
    if (req_.method == HTTP_HEAD) return true; // no body, whatever was written
    if (q_head_ > 64 && q_head_ * 2 > q_.size()) {
        q_.erase(q_.begin(), q_.begin() + static_cast<ptrdiff_t>(q_head_));
        q_head_ = 0;
    }
    if (copy) {
        q_.push_back(Piece{nullptr, copies_.size(), len});
        copies_.append(data, len);
    } else {
        q_.push_back(Piece{data, 0, len});
    }
    queued_ += len;
    return true;
}

bool H2Session::Stream::parse_head() {
    // "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n\r\n", as HeadWriter writes it.
    std::string& h = hin_;
    if (h.size() < 14 || h.compare(0, 5, "HTTP/") != 0) return false;
    size_t sp = h.find(' ');
    if (sp == std::string::npos || sp + 4 > h.size()) return false;
    for (int i = 0; i < 3; ++i) {
        char c = h[sp + 1 + static_cast<size_t>(i)];
        if (c < '0' || c > '9') return false;
        status_[i] = c;
    }
    nv_.clear();
    nv_.push_back(nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                             reinterpret_cast<uint8_t*>(status_), 7, 3, NGHTTP2_NV_FLAG_NONE});
    size_t line = h.find("\r\n") + 2;
    const size_t end = h.size() - 2; // the blank line
    while (line < end) {
        size_t eol = h.find("\r\n", line);
        if (eol == std::string::npos || eol > end) return false;
        size_t colon = h.find(':', line);
        if (colon == std::string::npos || colon > eol || colon == line) return false;
        for (size_t i = line; i < colon; ++i)
            h[i] = static_cast<char>(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 32 : h[i]);
        size_t vs = colon + 1;
        while (vs < eol && (h[vs] == ' ' || h[vs] == '\t'))
            ++vs;
        size_t ve = eol;
        while (ve > vs && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
            --ve;
        std::string_view name(h.data() + line, colon - line);
        if (!connection_specific(name)) {
            nv_.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(h.data() + line),
                                     reinterpret_cast<uint8_t*>(h.data() + vs), colon - line, ve - vs,
                                     NGHTTP2_NV_FLAG_NONE});
        }
        line = eol + 2;
    }
    return true;
}

void H2Session::Stream::submit() {
    submitted_ = true;
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = on_read_data;
    bool no_body = ended_ && queued_ == 0;
    int rc = nghttp2_submit_response(session_->ng_, id_, nv_.data(), nv_.size(), no_body ? nullptr : &prd);
    if (rc != 0) {
        shared::log::debug("edge", "HTTP/2 response refused", {{"error", nghttp2_strerror(rc)}});
        abort();
    }
}

size_t H2Session::Stream::read_body(uint8_t* buf, size_t len) {
    size_t done = 0;
    while (done < len && q_head_ < q_.size()) {
        Piece& p = q_[q_head_];
        const char* src = p.ref ? p.ref : copies_.data() + p.off;
        size_t k = std::min(p.len, len - done);
        std::memcpy(buf + done, src, k);
        done += k;
        p.len -= k;
        if (p.ref)
            p.ref += k;
        else {
            p.off += k;
            copies_used_ = p.off;
        }
        if (p.len == 0) ++q_head_;
    }
    queued_ -= done;
    if (q_head_ == q_.size()) {
        q_.clear();
        q_head_ = 0;
        copies_.clear();
        copies_used_ = 0;
    } else if (copies_used_ > kCompactBytes && copies_used_ * 2 > copies_.size()) {
        // A stream whose queue never runs empty: drop the copies already sent.
        size_t cut = copies_used_;
        copies_.erase(0, cut);
        for (size_t i = q_head_; i < q_.size(); ++i)
            if (!q_[i].ref) q_[i].off -= cut;
        copies_used_ = 0;
    }
    return done;
}

ssize_t H2Session::on_read_data(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                                nghttp2_data_source* src, void*) noexcept {
    auto* s = static_cast<Stream*>(src->ptr);
    if (s->gone_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // resets the stream
    size_t n = s->read_body(buf, len);
    if (s->queued_ == 0) {
        if (s->ended_) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return static_cast<ssize_t>(n);
        }
        if (n == 0) {
            s->deferred_ = true; // resumed when the source writes more (H2Session::flush)
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return static_cast<ssize_t>(n);
}

void H2Session::Stream::pin(Ref<CachedObject> obj) {
    if (gone_) return;
    if (pinned_count_ < pinned_.size())
        pinned_[pinned_count_++] = std::move(obj);
    else
        pinned_more_.push_back(std::move(obj));
}

void H2Session::Stream::drop_pinned() {
    for (size_t i = 0; i < pinned_count_; ++i)
        pinned_[i].reset();
    pinned_count_ = 0;
    pinned_more_.clear();
}

bool H2Session::Stream::congested() const {
    if (gone_) return false;
    bool c = queued_ >= session_->limits_.http2.stream_buffer_bytes ||
             session_->t_.send_queued() >= session_->t_.send_buffer_limit();
    if (c) const_cast<Stream*>(this)->told_congested_ = true;
    return c;
}

void H2Session::Stream::end_response(bool) {
    if (gone_ || ended_) return;
    ended_ = true;
    events_ = nullptr;
    if (!head_done_) {
        abort(); // nothing that could be sent as a response
        return;
    }
    session_->flush();
}

void H2Session::Stream::abort() {
    if (gone_) return;
    gone_ = true;
    events_ = nullptr;
    q_.clear();
    q_head_ = 0;
    queued_ = 0;
    if (!closed_ && !session_->closed_) {
        // RST_STREAM: the viewer never takes a short body for a complete one.
        nghttp2_submit_rst_stream(session_->ng_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
        session_->flush();
    }
}

void H2Session::Stream::hold() {
    ++holds_;
    session_->t_.hold_transport();
}

void H2Session::Stream::release() {
    H2Session* s = session_;
    if (--holds_ == 0 && closed_) s->recycle(this);
    s->t_.release_transport(); // may free the connection, this session and this stream
}

uint64_t H2Session::Stream::request_elapsed_ms() const {
    uint64_t now = session_->t_.now_ms();
    return now > start_ms_ ? now - start_ms_ : 0;
}

// ---- Frames out ----

void H2Session::flush() {
    if (closed_ || !ng_) return;
    if (in_recv_ || flushing_) {
        flush_again_ = true; // nghttp2 must not be re-entered from its callbacks; the outer call goes on
        return;
    }
    flushing_ = true;
    do {
        flush_again_ = false;
        for (Stream* s = live_; s; s = s->next_) {
            if (s->closed_ || s->gone_) continue;
            if (s->head_done_ && !s->submitted_) {
                s->submit();
            } else if (s->deferred_ && (s->queued_ > 0 || s->ended_)) {
                s->deferred_ = false;
                nghttp2_session_resume_data(ng_, s->id_);
            }
        }
        while (!closed_ && t_.send_queued() < t_.send_buffer_limit()) {
            const uint8_t* data = nullptr;
            ssize_t n = nghttp2_session_mem_send(ng_, &data);
            if (n < 0) {
                shared::log::debug("edge", "HTTP/2 send failed", {{"error", nghttp2_strerror(int(n))}});
                out_.clear();
                t_.close_transport();
                break;
            }
            if (n == 0) break;
            out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
            if (out_.size() >= kGatherBytes) {
                t_.send_copy(out_);
                out_.clear();
            }
        }
        if (!out_.empty() && !closed_) t_.send_copy(out_);
        out_.clear();
        if (out_.capacity() > 2 * kGatherBytes) std::string().swap(out_);
        if (closed_) break;
        if (!paused_ && t_.send_queued() >= t_.send_buffer_limit()) {
            // A viewer that sends (requests, pings) but does not read: read on once the output drained.
            paused_ = true;
            t_.pause_input(true);
        }
        // Sources that were told to wait go on once their stream and the connection have room. Pooled streams
        // stay valid memory, so a stream recycled by an earlier callback is only skipped.
        wake_.clear();
        for (Stream* s = live_; s; s = s->next_)
            if (s->told_congested_ && s->events_) wake_.push_back(s);
        for (Stream* s : wake_) {
            if (closed_) break;
            if (!s->told_congested_ || !s->events_ || s->gone_) continue;
            if (s->queued_ >= limits_.http2.stream_buffer_bytes || t_.send_queued() >= t_.send_buffer_limit()) continue;
            s->told_congested_ = false;
            s->events_->on_writable();
        }
    } while (flush_again_ && !closed_);
    flushing_ = false;
    check_done();
}

void H2Session::check_done() {
    if (closed_ || !ng_ || flushing_ || in_recv_) return;
    if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) t_.close_transport();
}

} // namespace edge
