#include "dns/server/udp_server.h"

#include "shared/net/listen_socket.h"

namespace dns {

int UdpServer::start(uv_loop_t* loop, const shared::SocketAddress& addr) {
    int rc = shared::udp_bind_reuseport(loop, &udp_, addr, true);
    initialized_ = true;
    udp_.data = this;
    if (rc) return rc;
    return uv_udp_recv_start(&udp_, on_alloc, on_recv);
}

void UdpServer::close() {
    if (initialized_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&udp_)))
        uv_close(reinterpret_cast<uv_handle_t*>(&udp_), nullptr);
}

shared::SocketAddress UdpServer::address() const {
    return shared::bound_address(reinterpret_cast<const uv_handle_t*>(&udp_));
}

void UdpServer::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* self = static_cast<UdpServer*>(h->data);
    *buf = uv_buf_init(self->recv_buf_.get(), static_cast<unsigned>(kSlot * kBatch));
}

void UdpServer::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                        unsigned flags) noexcept {
    (void)flags; // UV_UDP_MMSG_FREE / MMSG_CHUNK: the buffer is ours and reused, nothing to free
    if (nread <= 0 || !addr) return;
    auto* self = static_cast<UdpServer*>(h->data);
    AnswerInfo info;
    size_t n = self->svc_.handle(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread),
                                 self->out_, sizeof self->out_, false, addr, &info);
    if (!n) return;
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(self->out_), static_cast<unsigned>(n));
    int rc = uv_udp_try_send(h, &b, 1, addr);
    if (rc < 0 && self->svc_.metrics()) self->svc_.metrics()->inc(self->svc_.worker(), self->svc_.ids().udp_send_errors);
}

} // namespace dns
