// One UDP socket of one worker (SO_REUSEPORT, bound to one listen address: without IP_PKTINFO an answer must leave
// from the address the query came to, so no wildcard binds). The socket is ours, watched with uv_poll: when it is
// readable we drain it in batches of kBatch datagrams with one recvmmsg, answer each into a fixed slot and send the
// whole batch with one sendmmsg. A busy socket costs two syscalls per 64 queries and no epoll_wait between
// batches; a quiet one never calls recvmmsg just to hear EAGAIN (a short batch means the queue is empty). libuv's
// own UV_UDP_RECVMMSG reads at most 20 datagrams per call, makes a callback per datagram and always reads on until
// EAGAIN. Measured at saturation (perf stat, 10k-name bench zone): 0.047 syscalls per query, 53 queries per batch.
// Before answering, two prefetch passes over the batch pull in the pre-rendered answers (dns/zone/answer_table.h).
// No allocation per query. Worker thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <memory>

#include "dns/server/query_service.h"
#include "dns/server/receive_buffer.h"
#include "shared/net/address.h"

namespace dns {

class UdpServer {
public:
    explicit UdpServer(QueryService& svc);
    ~UdpServer();
    UdpServer(const UdpServer&) = delete;
    UdpServer& operator=(const UdpServer&) = delete;
    // 0 or a libuv error (close() must still be called). `receive_buffer`: bytes asked for the socket's kernel
    // receive buffer (0 = the kernel's default); see dns/server/receive_buffer.h.
    int start(uv_loop_t* loop, const shared::SocketAddress& addr, uint64_t receive_buffer);
    // Starts closing; the loop must run afterwards. The object must outlive the loop run.
    void close();
    shared::SocketAddress address() const;
    const ReceiveBufferResult& receive_buffer() const { return rcvbuf_; }

    static constexpr unsigned kBatch = 64;
    // Batches drained per readable event before the loop gets its turn (TCP, timers, reloads): 8 × 64 queries.
    static constexpr unsigned kMaxBatchesPerWakeup = 8;

private:
    static void on_readable(uv_poll_t* h, int status, int events) noexcept;
    static void on_closed(uv_handle_t* h) noexcept;
    // One recvmmsg + answers + one sendmmsg; returns how many datagrams were read (0 = the queue is empty).
    unsigned run_batch() noexcept;
    void send_batch(unsigned n) noexcept;

    static constexpr size_t kIn = 4096;  // a query larger than this is not a query we answer (FORMERR at most)
    static constexpr size_t kOut = 4096; // edns_buffer_size is at most 4096
    // Slots are one cache line longer than a page so that 64 slots do not all start in the same L1 set.
    static constexpr size_t kStride = 4096 + 64;

    QueryService& svc_;
    uv_poll_t poll_{};
    int fd_ = -1;
    bool polling_ = false;
    ReceiveBufferResult rcvbuf_;
    // The batch's buffers, one allocation: queries in, answers out, headers for both directions.
    struct Batch {
        alignas(64) uint8_t in[kBatch][kStride];
        alignas(64) uint8_t out[kBatch][kStride];
        sockaddr_storage peer[kBatch];
        iovec in_iov[kBatch];
        iovec out_iov[kBatch];
        mmsghdr in_msg[kBatch];
        mmsghdr out_msg[kBatch];
        AnswerPrefetch hint[kBatch];
    };
    std::unique_ptr<Batch> b_;
};

} // namespace dns
