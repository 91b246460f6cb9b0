#include "edge/server/listener.h"

#include "shared/net/listen_socket.h"

namespace edge {

Listener* Listener::open(uv_loop_t* loop, const shared::SocketAddress& addr, ConnSet* conns, RequestHandler* handler,
                         const ConnSettings* settings, const uint32_t* max_connections, const uint32_t* max_per_address,
                         int* err, const std::shared_ptr<shared::TlsServerContext>* tls, bool defer_accept) {
    auto* l = new Listener();
    l->tls_ = tls;
    l->defer_accept_ = defer_accept;
    l->conns_ = conns;
    l->handler_ = handler;
    l->settings_ = settings;
    l->max_connections_ = max_connections;
    l->max_per_address_ = max_per_address;
    l->eager_reads_.init(loop);
    l->open_handles_ = 2; // tcp_listen_reuseport initializes tcp_ even when it fails
    l->tcp_.data = l;
    int rc = shared::tcp_listen_reuseport(loop, &l->tcp_, addr, shared::kListenBacklog, on_connection,
                                          defer_accept ? shared::kDeferAcceptSeconds : 0);
    l->tcp_.data = l;
    if (rc != 0) {
        *err = rc;
        l->close();
        return nullptr;
    }
    l->bound_ = shared::bound_address(reinterpret_cast<const uv_handle_t*>(&l->tcp_));
    return l;
}

void Listener::close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
    eager_reads_.close(this, on_close);
}

void Listener::on_close(uv_handle_t* h) noexcept {
    auto* l = static_cast<Listener*>(h->data);
    if (--l->open_handles_ == 0) delete l;
}

ConnLimitStats& conn_limit_stats() {
    static ConnLimitStats s;
    return s;
}

bool Listener::make_room() {
    if (!conns_->reclaim_idle()) return false;
    conn_limit_stats().reclaimed.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void Listener::on_connection(uv_stream_t* server, int status) noexcept {
    auto* l = static_cast<Listener*>(server->data);
    if (status < 0 || l->closed_) return;
    const uint32_t per_address = l->max_per_address_ && l->conns_->sources() ? *l->max_per_address_ : 0;
    bool full = l->conns_->size() >= *l->max_connections_;
    if (full && per_address == 0) {
        if (!l->make_room()) {
            // Nothing idle to give way: accept and close at once, so the client sees a close instead of waiting in
            // the backlog.
            conn_limit_stats().refused.fetch_add(1, std::memory_order_relaxed);
            auto* t = new uv_tcp_t;
            uv_tcp_init(server->loop, t);
            uv_accept(server, reinterpret_cast<uv_stream_t*>(t));
            uv_close(reinterpret_cast<uv_handle_t*>(t),
                     [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_tcp_t*>(h); });
            return;
        }
        full = false;
    }
    ClientConn* c = ClientConn::accept(server, l->conns_, l->handler_, *l->settings_);
    if (!c) return;
    if (per_address != 0) {
        // The address is checked before max_connections: a client over its own limit must not close someone's idle
        // connection on its way to being refused.
        if (!c->count_source(per_address)) {
            conn_limit_stats().refused_per_address.fetch_add(1, std::memory_order_relaxed);
            return c->refuse();
        }
        if (full && !l->make_room()) {
            conn_limit_stats().refused.fetch_add(1, std::memory_order_relaxed);
            return c->refuse();
        }
    }
    // Without deferral the connection's first bytes are rarely there yet: the read would be an EAGAIN.
    bool read_now = l->defer_accept_ && l->eager_reads_.take();
    c->start(l->tls_, read_now);
}

} // namespace edge
