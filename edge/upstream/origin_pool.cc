#include "edge/upstream/origin_pool.h"

#include <algorithm>

namespace edge {

using shared::HttpConnection;
using shared::HttpError;

struct OriginFetch::Exchange final : shared::HttpResponseHandler {
    OriginFetch* fetch;
    explicit Exchange(OriginFetch* f) : fetch(f) {}
    void on_response_head(const shared::HttpResponseHead& head) override { fetch->on_head(head); }
    void on_response_interim(const shared::HttpResponseHead& head) override { fetch->on_interim(head); }
    bool on_response_body(std::string_view data) override { return fetch->on_body(data); }
    void on_response_complete() override { fetch->on_complete(); }
    void on_response_error(HttpError err) override { fetch->on_error(err); }
};

bool OriginPool::idempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

OriginFetch::OriginFetch(OriginPool* pool, OriginRequest req, OriginCallbacks cb)
    : pool_(pool), req_(std::move(req)), cb_(std::move(cb)), exchange_(std::make_unique<Exchange>(this)) {}

OriginFetch::~OriginFetch() {
    cancel();
    if (pool_) {
        (live_prev_ ? live_prev_->live_next_ : pool_->live_head_) = live_next_;
        if (live_next_) live_next_->live_prev_ = live_prev_;
    }
    if (destroyed_flag_) *destroyed_flag_ = true;
}

template <class F> bool OriginFetch::guarded(F&& f) {
    bool destroyed = false;
    bool* outer = destroyed_flag_;
    destroyed_flag_ = &destroyed;
    f();
    if (destroyed) {
        if (outer) *outer = true;
        return false;
    }
    destroyed_flag_ = outer;
    return true;
}

void OriginFetch::cancel() {
    if (!pool_) return;  // the pool is gone and cancelled this fetch already
    if (resolve_id_) pool_->resolver_->cancel(resolve_id_);
    resolve_id_ = 0;
    if (deferred_) pool_->undefer(this);
    if (conn_) {
        conn_->close();  // mid-exchange: the connection's state is unknown, never pool it
        conn_ = nullptr;
    }
    done_ = true;
}

void OriginFetch::pause() {
    paused_ = true;
    if (conn_) conn_->pause();
}

void OriginFetch::resume() {
    paused_ = false;
    if (conn_) conn_->resume();
}

void OriginFetch::begin(bool fresh_only) {
    if (!fresh_only) {
        if (HttpConnection* c = pool_->take_idle()) {
            ++pool_->stats_.connections_reused;
            start_on(c);
            return;
        }
    }
    const OriginSettings& s = pool_->settings_;
    shared::Resolver::RequestId id = 0;
    // The resolver may answer synchronously (cache, literal), and the answer may end the fetch through a
    // user callback that destroys it: only touch `this` again if it survived.
    bool alive = guarded([&] {
        id = pool_->resolver_->resolve(s.host, s.port, AF_UNSPEC,
                                       [this](int status, const std::vector<shared::SocketAddress>& addrs) {
                                           resolve_id_ = 0;
                                           on_resolved(status, addrs);
                                       });
    });
    if (alive) resolve_id_ = id;
}

void OriginFetch::on_resolved(int status, const std::vector<shared::SocketAddress>& addrs) {
    if (done_) return;
    if (status != 0 || addrs.empty()) {
        finish_error(HttpError::ResolveError);
        return;
    }
    pool_->preferred_addr_ %= addrs.size();
    addr_index_ = pool_->preferred_addr_;
    if (addr_attempts_++ >= addrs.size()) {
        finish_error(HttpError::Refused);  // every address refused
        return;
    }
    start_on(pool_->open(addrs[addr_index_]));
}

void OriginFetch::start_on(HttpConnection* conn) {
    conn_ = conn;
    shared::HttpRequest r;
    r.method = req_.method;
    r.target = req_.target;
    r.headers = &req_.headers;
    r.body = req_.body;
    conn->send(r, exchange_.get());  // never calls back synchronously
    if (paused_) conn->pause();
}

void OriginFetch::on_head(const shared::HttpResponseHead& head) {
    if (pool_->first_byte_hook_ && conn_) pool_->first_byte_hook_(conn_->first_byte_ms());
    // Each callback runs from a local copy of its std::function (a move: no allocation), so a callback that
    // destroys the fetch does not destroy the closure it is running in.
    if (!cb_.on_response_headers) return;
    auto fn = std::move(cb_.on_response_headers);
    if (guarded([&] { fn(head); })) cb_.on_response_headers = std::move(fn);
}

void OriginFetch::on_interim(const shared::HttpResponseHead& head) {
    if (!cb_.on_interim) return;
    auto fn = std::move(cb_.on_interim);
    if (guarded([&] { fn(head); })) cb_.on_interim = std::move(fn);
}

bool OriginFetch::on_body(std::string_view data) {
    bool more = true;
    if (cb_.on_body) {
        auto fn = std::move(cb_.on_body);
        if (!guarded([&] { more = fn(data); })) return false;
        cb_.on_body = std::move(fn);
    }
    if (done_) return false;  // cancelled inside the callback
    if (!more) paused_ = true;
    return more;
}

void OriginFetch::on_complete() {
    HttpConnection* c = conn_;
    conn_ = nullptr;
    done_ = true;
    pool_->release(c);
    auto fn = std::move(cb_.on_complete);
    if (fn) fn();  // last use of `this`: the callback may destroy it
}

void OriginFetch::on_error(OriginError err) {
    HttpConnection* c = conn_;
    conn_ = nullptr;
    // A pooled connection the origin closed while idle fails before any response byte. Retry that once on
    // a fresh connection, unless the request may have been acted upon (non-idempotent and fully sent).
    bool retry = !retried_ && c && c->completed_responses() > 0 && !c->response_started() &&
                 (err == HttpError::Reset || err == HttpError::Truncated) &&
                 (OriginPool::idempotent(req_.method) || !c->request_written());
    // A refused connect sent nothing: any method may go to the origin's next address.
    bool next_addr = !retry && c && err == HttpError::Refused && c->completed_responses() == 0;
    if (c) c->close();
    if (next_addr) {
        if (pool_->preferred_addr_ == addr_index_) ++pool_->preferred_addr_;
        begin(true);
        return;
    }
    if (retry) {
        retried_ = true;
        ++pool_->stats_.retries;
        begin(true);
        return;
    }
    finish_error(err);
}

void OriginFetch::finish_error(OriginError err) {
    if (in_begin_) {
        // fetch() has not returned the handle yet: report from the loop instead.
        deferred_error_ = err;
        pool_->defer(this);
        return;
    }
    done_ = true;
    ++pool_->stats_.errors;
    auto fn = std::move(cb_.on_error);
    if (fn) fn(err);  // last use of `this`: the callback may destroy it
}

OriginPool::OriginPool(uv_loop_t* loop, shared::Resolver* resolver, OriginSettings settings)
    : loop_(loop), resolver_(resolver), settings_(std::move(settings)) {
    conn_opts_.connect_timeout_ms = settings_.connect_timeout_ms;
    conn_opts_.first_byte_timeout_ms = settings_.first_byte_timeout_ms;
    conn_opts_.idle_timeout_ms = settings_.idle_timeout_ms;
    conn_opts_.max_response_header_bytes = settings_.max_response_header_bytes;
    if (settings_.tls) {
        conn_opts_.tls = settings_.tls_context;
        conn_opts_.tls_server_name = settings_.tls_server_name.empty() ? settings_.host : settings_.tls_server_name;
    }
    bool v6 = settings_.host.find(':') != std::string::npos;
    default_host_header_ = v6 ? "[" + settings_.host + "]" : settings_.host;
    if (settings_.port != (settings_.tls ? 443 : 80)) default_host_header_ += ":" + std::to_string(settings_.port);
    defer_timer_ = new uv_timer_t;
    uv_timer_init(loop_, defer_timer_);
    defer_timer_->data = this;
}

OriginPool::~OriginPool() {
    while (OriginFetch* f = live_head_) {
        live_head_ = f->live_next_;
        f->cancel();
        f->pool_ = nullptr;
        f->live_prev_ = f->live_next_ = nullptr;
    }
    for (HttpConnection* c : idle_) c->close();
    idle_.clear();
    uv_timer_stop(defer_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(defer_timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

std::unique_ptr<OriginFetch> OriginPool::fetch(OriginRequest req, OriginCallbacks cb) {
    if (!shared::find_header(req.headers, "host"))
        req.headers.insert(req.headers.begin(), shared::HttpHeader{"Host", default_host_header_});
    std::unique_ptr<OriginFetch> f(new OriginFetch(this, std::move(req), std::move(cb)));
    f->live_next_ = live_head_;
    if (live_head_) live_head_->live_prev_ = f.get();
    live_head_ = f.get();
    f->in_begin_ = true;
    if (settings_.tls && !settings_.tls_context) f->finish_error(HttpError::TlsError);
    else f->begin(false);
    f->in_begin_ = false;
    return f;
}

HttpConnection* OriginPool::take_idle() {
    while (!idle_.empty()) {
        HttpConnection* c = idle_.back();  // most recently used: the least likely to have been closed
        idle_.pop_back();
        if (c->state() == HttpConnection::State::Idle && c->keep_alive()) return c;
        c->close();
    }
    return nullptr;
}

HttpConnection* OriginPool::open(const shared::SocketAddress& addr) {
    ++stats_.connections_opened;
    return HttpConnection::create(loop_, addr, conn_opts_);
}

void OriginPool::release(HttpConnection* c) {
    if (!c) return;
    if (c->state() == HttpConnection::State::Idle && c->keep_alive() && idle_.size() < settings_.max_idle_connections) {
        c->park(this, settings_.keepalive_timeout_ms);
        idle_.push_back(c);
        return;
    }
    c->close();
}

void OriginPool::on_idle_closed(HttpConnection* c) {
    auto it = std::find(idle_.begin(), idle_.end(), c);
    if (it != idle_.end()) idle_.erase(it);
    c->close();
}

void OriginPool::defer(OriginFetch* f) {
    f->deferred_ = true;
    f->next_deferred_ = deferred_head_;
    deferred_head_ = f;
    uv_timer_start(defer_timer_, &OriginPool::on_defer_timer, 0, 0);
}

void OriginPool::undefer(OriginFetch* f) {
    for (OriginFetch** p = &deferred_head_; *p; p = &(*p)->next_deferred_) {
        if (*p == f) {
            *p = f->next_deferred_;
            break;
        }
    }
    f->deferred_ = false;
    f->next_deferred_ = nullptr;
}

void OriginPool::on_defer_timer(uv_timer_t* t) noexcept {
    auto* pool = static_cast<OriginPool*>(t->data);
    // One at a time: a callback may destroy (and so unlink) any other deferred fetch.
    while (OriginFetch* f = pool->deferred_head_) {
        pool->undefer(f);
        f->finish_error(f->deferred_error_);
    }
}

} // namespace edge
