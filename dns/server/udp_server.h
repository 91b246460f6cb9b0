// One UDP socket of one worker (SO_REUSEPORT, bound to one listen address: without IP_PKTINFO an answer must leave
// from the address the query came to, so no wildcard binds), served by a thread of its own that blocks in
// recvmmsg(MSG_WAITFORONE), answers each datagram into a fixed slot and sends the whole batch with one sendmmsg —
// gdnsd's and Knot's shape. A wakeup costs those two syscalls and nothing else: on the worker's event loop it also
// cost an epoll_wait and a loop turn, about 6% more CPU per query at moderate rates (dnsperf -Q 30000 against
// gdnsd). At saturation a batch is full (64) and the socket is never waited on. Before answering, two prefetch
// passes over the batch pull in the pre-rendered answers (dns/zone/answer_table.h). No allocation per query.
//
// The thread answers through a QueryService of its own (its own rate-limiter state and steering context; metrics in
// its worker's shard). New zones and settings arrive by publish() from any thread: the thread takes them before its
// next batch, so no query waits on a lock and in-flight batches finish on the data they started with. An idle
// thread wakes every kIdleWakeMs to let go of replaced zone data.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "dns/server/query_service.h"
#include "dns/server/receive_buffer.h"
#include "shared/net/address.h"

namespace dns {

class UdpServer {
public:
    // `shard`: the metrics shard (the worker's); `context`: this thread's steering context index (see
    // QueryService).
    UdpServer(unsigned shard, unsigned context, shared::MetricsRegistry* metrics, const ServerMetricIds* ids);
    ~UdpServer(); // stop()s
    UdpServer(const UdpServer&) = delete;
    UdpServer& operator=(const UdpServer&) = delete;
    // Binds and starts the thread, answering from `db` / `settings`. 0 or a libuv error code. `receive_buffer`:
    // bytes asked for the socket's kernel receive buffer (0 = the kernel's default); see receive_buffer.h.
    int start(const shared::SocketAddress& addr, uint64_t receive_buffer, std::shared_ptr<const ZoneDb> db,
              std::shared_ptr<const ServiceSettings> settings);
    // Thread-safe: answer from these from the next batch on.
    void publish(std::shared_ptr<const ZoneDb> db, std::shared_ptr<const ServiceSettings> settings);
    // Stops the thread (wakes it at once) and closes the socket. Idempotent.
    void stop();
    shared::SocketAddress address() const;
    const ReceiveBufferResult& receive_buffer() const { return rcvbuf_; }

    static constexpr unsigned kBatch = 64;
    static constexpr int kIdleWakeMs = 500;

private:
    void run() noexcept;
    // Answers the `got` datagrams recvmmsg read and sends the answers.
    void answer_batch(int got) noexcept;
    void send_batch(unsigned n) noexcept;
    void take_published() noexcept;

    static constexpr size_t kIn = 4096;  // almost every query fits its slot; a larger one continues into overflow_
    static constexpr size_t kOut = 4096; // edns_buffer_size is at most 4096
    static constexpr size_t kMaxDatagram = 65536;
    static constexpr size_t kOverflow = kMaxDatagram - kIn;
    // Slots are one cache line longer than a page so that 64 slots do not all start in the same L1 set.
    static constexpr size_t kStride = 4096 + 64;

    QueryService svc_; // the thread's own
    int fd_ = -1;
    ReceiveBufferResult rcvbuf_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    // publish() → thread: the newest data under mu_, and a generation the thread compares once per batch.
    std::mutex mu_;
    std::shared_ptr<const ZoneDb> next_db_;
    std::shared_ptr<const ServiceSettings> next_settings_;
    std::atomic<uint64_t> published_{0};
    uint64_t taken_ = 0; // thread only
    // The batch's buffers, one allocation: queries in, answers out, headers for both directions.
    struct Batch {
        alignas(64) uint8_t in[kBatch][kStride];
        alignas(64) uint8_t out[kBatch][kStride];
        sockaddr_storage peer[kBatch];
        iovec in_iov[kBatch][2]; // the slot, then its share of overflow_
        iovec out_iov[kBatch];
        mmsghdr in_msg[kBatch];
        mmsghdr out_msg[kBatch];
        AnswerPrefetch hint[kBatch];
    };
    std::unique_ptr<Batch> b_;
    // Where queries longer than kIn continue (kOverflow per slot) and are joined (kMaxDatagram). Allocated without
    // being written, so the pages cost no memory until a large query arrives.
    std::unique_ptr<uint8_t[]> overflow_;
    std::unique_ptr<uint8_t[]> large_;
};

} // namespace dns
