#include "edge/server/http_server.h"

namespace edge {

ConnSettings conn_settings_of(const LimitsConfig& l) {
    ConnSettings s;
    s.limits.max_uri_bytes = l.max_uri_bytes;
    s.limits.max_header_bytes = l.max_header_bytes;
    s.header_timeout_ms = l.header_timeout_ms;
    s.handshake_timeout_ms = l.handshake_timeout_ms;
    s.keepalive_timeout_ms = l.keepalive_timeout_ms;
    s.body_timeout_ms = l.body_timeout_ms;
    s.send_timeout_ms = l.send_timeout_ms;
    s.lingering_time_ms = l.lingering_time_ms;
    s.lingering_timeout_ms = l.lingering_timeout_ms;
    s.client_buffer_bytes = l.client_buffer_bytes;
    return s;
}

HttpServer::HttpServer(uv_loop_t* loop, RequestHandler* handler, const ConnSettings* settings,
                       const uint32_t* max_connections, const uint32_t* max_per_address,
                       shared::SourceConnLimit* sources)
    : loop_(loop), handler_(handler), settings_(settings), max_connections_(max_connections),
      max_per_address_(max_per_address) {
    conns_.set_sources(sources);
}

HttpServer::~HttpServer() = default;

int HttpServer::listen(const shared::SocketAddress& addr, const std::shared_ptr<shared::TlsServerContext>* tls,
                       bool defer_accept) {
    int err = 0;
    Listener* l = Listener::open(loop_, addr, &conns_, handler_, settings_, max_connections_, max_per_address_, &err,
                                 tls, defer_accept);
    if (!l) return err;
    listeners_.push_back(l);
    return 0;
}

std::vector<shared::SocketAddress> HttpServer::addresses() const {
    std::vector<shared::SocketAddress> v;
    for (const Listener* l : listeners_)
        v.push_back(l->address());
    return v;
}

void HttpServer::shutdown(uint64_t deadline_ms, std::function<bool()> idle, std::function<void()> done) {
    for (Listener* l : listeners_)
        l->close();
    listeners_.clear();
    conns_.drain();
    idle_ = std::move(idle);
    done_ = std::move(done);
    deadline_ = uv_now(loop_) + deadline_ms;
    poll_ = new uv_timer_t;
    uv_timer_init(loop_, poll_);
    poll_->data = this;
    uv_timer_start(poll_, on_poll, 0, 20);
}

void HttpServer::on_poll(uv_timer_t* t) noexcept {
    auto* s = static_cast<HttpServer*>(t->data);
    if (!s->forced_ && uv_now(s->loop_) >= s->deadline_) {
        // Responses that are still not finished (stalled viewers) do not hold the process forever.
        s->forced_ = true;
        s->conns_.close_all();
    }
    if (s->conns_.size() != 0 || (s->idle_ && !s->idle_())) return;
    uv_timer_stop(t);
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
    s->poll_ = nullptr;
    auto done = std::move(s->done_);
    if (done) done();
}

} // namespace edge
