#include "dns/server/udp_server.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "shared/net/listen_socket.h"

namespace dns {

int UdpServer::start(uv_loop_t* loop, const shared::SocketAddress& addr, uint64_t receive_buffer) {
    int rc = shared::udp_bind_reuseport(loop, &udp_, addr, true);
    initialized_ = true;
    udp_.data = this;
    if (rc) return rc;
    uv_os_fd_t fd;
    if ((rc = uv_fileno(reinterpret_cast<uv_handle_t*>(&udp_), &fd))) return rc;
    fd_ = fd;
    rcvbuf_ = set_receive_buffer(fd_, receive_buffer);
    return uv_udp_recv_start(&udp_, on_alloc, on_recv);
}

void UdpServer::flush() noexcept {
    if (npending_ == 0) return;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    for (size_t i = 0; i < npending_; i++) {
        iov[i].iov_base = out_.get() + i * kOut;
        iov[i].iov_len = pending_[i].len;
        msgs[i] = mmsghdr{};
        msgs[i].msg_hdr.msg_name = &pending_[i].addr;
        msgs[i].msg_hdr.msg_namelen = pending_[i].addr_len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    size_t sent = 0;
    while (sent < npending_) {
        int n = sendmmsg(fd_, msgs + sent, static_cast<unsigned>(npending_ - sent), MSG_DONTWAIT);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // EAGAIN (socket buffer full) or an error for the first message: drop it, like a lost datagram; the
        // client retries. Never block the loop.
        if (svc_.metrics()) svc_.metrics()->inc(svc_.worker(), svc_.ids().udp_send_errors);
        sent++;
    }
    npending_ = 0;
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
    auto* self = static_cast<UdpServer*>(h->data);
    // The receive buffer is ours and reused: nothing to free. The end of a recvmmsg batch sends its answers.
    if (flags & UV_UDP_MMSG_FREE) return self->flush();
    if (nread <= 0 || !addr) {
        self->flush();
        return;
    }
    if (self->npending_ == kBatch) self->flush();
    Pending& p = self->pending_[self->npending_];
    AnswerInfo info;
    size_t n = self->svc_.handle(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread),
                                 self->out_.get() + self->npending_ * kOut, kOut, false, addr, &info);
    if (n) {
        p.len = n;
        p.addr_len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
        std::memcpy(&p.addr, addr, p.addr_len);
        self->npending_++;
    }
    // A datagram read on its own (not part of a recvmmsg batch) gets no end-of-batch callback.
    if (!(flags & UV_UDP_MMSG_CHUNK)) self->flush();
}

} // namespace dns
