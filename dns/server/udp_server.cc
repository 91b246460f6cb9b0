#include "dns/server/udp_server.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>

namespace dns {

UdpServer::UdpServer(unsigned shard, unsigned context, shared::MetricsRegistry* metrics, const ServerMetricIds* ids)
    : svc_(shard, context, metrics, ids), b_(new Batch), overflow_(new uint8_t[kBatch * kOverflow]),
      large_(new uint8_t[kMaxDatagram]) {
    for (unsigned i = 0; i < kBatch; i++) {
        b_->in_iov[i][0] = {b_->in[i], kIn};
        b_->in_iov[i][1] = {overflow_.get() + i * kOverflow, kOverflow};
        b_->in_msg[i] = mmsghdr{};
        msghdr& m = b_->in_msg[i].msg_hdr;
        m.msg_name = &b_->peer[i];
        m.msg_namelen = sizeof b_->peer[i];
        m.msg_iov = b_->in_iov[i];
        m.msg_iovlen = 2;
        b_->out_msg[i] = mmsghdr{};
        b_->out_msg[i].msg_hdr.msg_iov = &b_->out_iov[i];
        b_->out_msg[i].msg_hdr.msg_iovlen = 1;
    }
}

UdpServer::~UdpServer() { stop(); }

int UdpServer::start(const shared::SocketAddress& addr, uint64_t receive_buffer, std::shared_ptr<const ZoneDb> db,
                     std::shared_ptr<const ServiceSettings> settings) {
    // Blocking: the thread waits in recvmmsg. Sends never wait (MSG_DONTWAIT).
    fd_ = ::socket(addr.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return uv_translate_sys_error(errno);
    int on = 1;
    if (setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return uv_translate_sys_error(errno);
    // IPv4 listeners are configured on their own: [::] must not take IPv4 too.
    if (addr.family() == AF_INET6 && setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
        return uv_translate_sys_error(errno);
    if (::bind(fd_, addr.sa(), addr.len) != 0) return uv_translate_sys_error(errno);
    // The idle wakeup: a quiet thread still lets go of replaced zones, and a stop() whose shutdown() did not wake
    // it (it always does on Linux) is noticed.
    timeval tv{kIdleWakeMs / 1000, (kIdleWakeMs % 1000) * 1000};
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return uv_translate_sys_error(errno);
    rcvbuf_ = set_receive_buffer(fd_, receive_buffer);
    svc_.update(std::move(db), std::move(settings));
    try {
        thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
        return uv_translate_sys_error(e.code().value());
    }
    return 0;
}

void UdpServer::publish(std::shared_ptr<const ZoneDb> db, std::shared_ptr<const ServiceSettings> settings) {
    std::lock_guard<std::mutex> lock(mu_);
    next_db_ = std::move(db);
    next_settings_ = std::move(settings);
    published_.fetch_add(1, std::memory_order_release);
}

void UdpServer::take_published() noexcept {
    std::shared_ptr<const ZoneDb> db;
    std::shared_ptr<const ServiceSettings> settings;
    {
        std::lock_guard<std::mutex> lock(mu_);
        taken_ = published_.load(std::memory_order_relaxed);
        db = std::move(next_db_);
        settings = std::move(next_settings_);
    }
    // The old zone set may be freed here, on this thread, outside the lock.
    if (db && settings) svc_.update(std::move(db), std::move(settings));
}

void UdpServer::stop() {
    if (thread_.joinable()) {
        stop_.store(true, std::memory_order_relaxed);
        // Wakes a recvmmsg that is waiting (Linux: the socket reads as shut down), without closing the fd under it.
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

shared::SocketAddress UdpServer::address() const {
    shared::SocketAddress a;
    a.len = sizeof a.storage;
    if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0) a.len = 0;
    return a;
}

void UdpServer::run() noexcept {
    pthread_setname_np(pthread_self(), "dns-udp");
    Batch& b = *b_;
    while (!stop_.load(std::memory_order_relaxed)) {
        int got = recvmmsg(fd_, b.in_msg, kBatch, MSG_WAITFORONE, nullptr);
        if (published_.load(std::memory_order_acquire) != taken_) take_published();
        // EAGAIN: the idle wakeup; EINTR; or a pending socket error (ICMP) that this call consumed. 0: shut down.
        if (got <= 0) continue;
        answer_batch(got);
    }
}

void UdpServer::answer_batch(int got) noexcept {
    Batch& b = *b_;
    // Two prefetch passes over the batch before answering any query: the answers' cache misses overlap.
    for (int i = 0; i < got; i++)
        svc_.prefetch(b.in[i], b.in_msg[i].msg_len, &b.hint[i]);
    for (int i = 0; i < got; i++)
        prefetch_answer_record(b.hint[i]);
    unsigned n = 0;
    for (int i = 0; i < got; i++) {
        const msghdr& m = b.in_msg[i].msg_hdr;
        if (m.msg_flags & MSG_TRUNC) continue; // longer than any UDP datagram: cannot happen
        const uint8_t* query = b.in[i];
        size_t qlen = b.in_msg[i].msg_len;
        if (qlen > kIn) {
            // A query longer than its slot (padding, a big TSIG, many options) continued into the slot's overflow
            // area: joined here, and answered like any other (NSD and Knot answer up to 65,535 bytes).
            std::memcpy(large_.get(), b.in[i], kIn);
            std::memcpy(large_.get() + kIn, overflow_.get() + i * kOverflow, qlen - kIn);
            query = large_.get();
        }
        AnswerInfo info;
        size_t len = svc_.handle(query, qlen, b.out[n], kOut, false, reinterpret_cast<const sockaddr*>(&b.peer[i]),
                                 &info);
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
        // retries. Never wait here: the next batch is already arriving.
        if (svc_.metrics()) svc_.metrics()->inc(svc_.worker(), svc_.ids().udp_send_errors);
        sent++;
    }
}

} // namespace dns
