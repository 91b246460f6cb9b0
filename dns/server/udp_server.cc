#include "dns/server/udp_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dns {

UdpServer::UdpServer(QueryService& svc) : svc_(svc), b_(new Batch) {
    for (unsigned i = 0; i < kBatch; i++) {
        b_->in_iov[i] = {b_->in[i], kIn};
        b_->in_msg[i] = mmsghdr{};
        msghdr& m = b_->in_msg[i].msg_hdr;
        m.msg_name = &b_->peer[i];
        m.msg_namelen = sizeof b_->peer[i];
        m.msg_iov = &b_->in_iov[i];
        m.msg_iovlen = 1;
        b_->out_msg[i] = mmsghdr{};
        b_->out_msg[i].msg_hdr.msg_iov = &b_->out_iov[i];
        b_->out_msg[i].msg_hdr.msg_iovlen = 1;
    }
}

UdpServer::~UdpServer() {
    // close() hands the fd to the poll handle's close callback; a server that never started polling owns it still.
    if (fd_ >= 0 && !polling_) ::close(fd_);
}

int UdpServer::start(uv_loop_t* loop, const shared::SocketAddress& addr, uint64_t receive_buffer) {
    fd_ = ::socket(addr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return uv_translate_sys_error(errno);
    int on = 1;
    if (setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return uv_translate_sys_error(errno);
    // IPv4 listeners are configured on their own: [::] must not take IPv4 too.
    if (addr.family() == AF_INET6 && setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
        return uv_translate_sys_error(errno);
    if (::bind(fd_, addr.sa(), addr.len) != 0) return uv_translate_sys_error(errno);
    rcvbuf_ = set_receive_buffer(fd_, receive_buffer);
    if (int rc = uv_poll_init_socket(loop, &poll_, fd_)) return rc;
    polling_ = true;
    poll_.data = this;
    return uv_poll_start(&poll_, UV_READABLE, on_readable);
}

void UdpServer::close() {
    if (polling_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&poll_)))
        uv_close(reinterpret_cast<uv_handle_t*>(&poll_), on_closed);
}

void UdpServer::on_closed(uv_handle_t* h) noexcept {
    // libuv never closes a polled socket itself.
    auto* self = static_cast<UdpServer*>(h->data);
    ::close(self->fd_);
    self->fd_ = -1;
}

shared::SocketAddress UdpServer::address() const {
    shared::SocketAddress a;
    a.len = sizeof a.storage;
    if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0) a.len = 0;
    return a;
}

void UdpServer::on_readable(uv_poll_t* h, int status, int) noexcept {
    auto* self = static_cast<UdpServer*>(h->data);
    if (status < 0) return; // a socket error (e.g. ICMP-induced) surfaces on the next recvmmsg; nothing to do here
    for (unsigned i = 0; i < kMaxBatchesPerWakeup; i++)
        if (self->run_batch() < kBatch) break;
}

unsigned UdpServer::run_batch() noexcept {
    Batch& b = *b_;
    int got;
    do {
        got = recvmmsg(fd_, b.in_msg, kBatch, MSG_DONTWAIT, nullptr);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return 0; // EAGAIN, or a pending socket error (ICMP) that this call consumed
    // Two prefetch passes over the batch before answering any query: the answers' cache misses overlap.
    for (int i = 0; i < got; i++)
        svc_.prefetch(b.in[i], b.in_msg[i].msg_len, &b.hint[i]);
    for (int i = 0; i < got; i++)
        prefetch_answer_record(b.hint[i]);
    unsigned n = 0;
    for (int i = 0; i < got; i++) {
        const msghdr& m = b.in_msg[i].msg_hdr;
        // A datagram longer than kIn is truncated: no query we answer is that long, so it is dropped.
        if (m.msg_flags & MSG_TRUNC) continue;
        AnswerInfo info;
        size_t len = svc_.handle(b.in[i], b.in_msg[i].msg_len, b.out[n], kOut, false,
                                 reinterpret_cast<const sockaddr*>(&b.peer[i]), &info);
        if (!len) continue;
        msghdr& o = b.out_msg[n].msg_hdr;
        o.msg_name = &b.peer[i];
        o.msg_namelen = m.msg_namelen;
        b.out_iov[n] = {b.out[n], len};
        n++;
    }
    send_batch(n);
    // recvmmsg wrote the address length and flags of the headers it filled, and only those: ready them for the next
    // call, so a quiet socket's wakeup touches one header, not 64.
    for (int i = 0; i < got; i++) {
        b.in_msg[i].msg_hdr.msg_namelen = sizeof b.peer[i];
        b.in_msg[i].msg_hdr.msg_flags = 0;
    }
    return static_cast<unsigned>(got);
}

void UdpServer::send_batch(unsigned n) noexcept {
    unsigned sent = 0;
    while (sent < n) {
        int k = sendmmsg(fd_, b_->out_msg + sent, n - sent, MSG_DONTWAIT);
        if (k > 0) {
            sent += static_cast<unsigned>(k);
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        // EAGAIN (socket buffer full) or an error for this message: drop it like a lost datagram; the client
        // retries. Never block the loop.
        if (svc_.metrics()) svc_.metrics()->inc(svc_.worker(), svc_.ids().udp_send_errors);
        sent++;
    }
}

} // namespace dns
