// DNS over TCP for one worker (RFC 7766): 2-byte length framing, several queries pipelined on one connection
// (answered in order), and AXFR/IXFR streamed to clients the allow-list or a TSIG key admits.
//
// Every connection's memory is bounded: answers go to one output buffer written by one uv_write at a time, and a
// connection whose output is not drained (more than kOutputHigh bytes waiting) is no longer read, so a client that
// never reads costs its input buffer and at most about kOutputHigh plus one answer, whatever it sends. Deadlines, on
// one timer per connection: a query must arrive whole within tcp_query_timeout of its first byte (a dribbling
// client cannot hold a slot), pending output must make progress within tcp_write_timeout (transfer_timeout during
// a zone transfer), and a connection with nothing to do is closed after tcp_idle_timeout (sooner when more than
// half the worker's slots are taken, as NSD does). Output is pending until the peer acknowledged it, not when the
// kernel took it: the kernel's send buffer would otherwise hide a client that never reads. Connections per client
// address are limited across workers. Each connection answers at most a few queries per loop turn before the
// others get theirs, so pipelining clients cannot delay a new one by a whole backlog. Zone transfers are produced
// message by message as the client drains them. The listener defers accepting a connection until its client sent
// something (TCP_DEFER_ACCEPT), and the first read happens right at the accept for as many connections per loop turn
// as the listener's EagerReadBudget allows (shared/net/deferred_accept.h); the rest are read when epoll says so.
// A closed connection's object (its input buffer with it) is kept for the next one (up to kSpareConns), as gdnsd
// keeps its closed connections: a one-query connection allocates nothing and zeroes no buffer. A connection its
// client or its timer closes closes its socket before libuv's handle, which spares libuv's EPOLL_CTL_DEL (the kernel
// drops a closed socket from epoll itself): accept, read, write, the EPOLL_CTL_ADD that waits for the client's next
// query or its close, read, close.
// Worker thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dns/server/query_service.h"
#include "shared/net/address.h"
#include "shared/net/deferred_accept.h"
#include "shared/net/source_limit.h"

namespace dns {

class TcpServer {
  public:
    // `sources` (shared by every worker, may be null) counts connections per client address.
    TcpServer(QueryService& svc, shared::SourceConnLimit* sources) : svc_(svc), sources_(sources) {}
    ~TcpServer();
    TcpServer(const TcpServer&) = delete;
    TcpServer& operator=(const TcpServer&) = delete;
    int start(uv_loop_t* loop, const shared::SocketAddress& addr);
    // Closes the listener and every connection; the loop must run afterwards. Must outlive that run.
    void close();
    shared::SocketAddress address() const;
    size_t connections() const { return conns_.size(); }

    // Output waiting per connection above which it is not read (and no more of a transfer is produced).
    static constexpr size_t kOutputHigh = 16 << 10;
    static constexpr size_t kTransferHigh = 64 << 10;
    // Closed connections kept for reuse (about 6 KiB each with their buffers). A connection closed in a loop turn is
    // free for reuse only in the next one, while that turn accepted others: under a stream of one-query clients the
    // connections in use, those closing and those just accepted are each up to the accept's budget (64) and the
    // client's concurrency. With 64 spare, 0.6 allocations per connection remained (perf probe on malloc, 64
    // clients at once); with 256, none.
    static constexpr size_t kSpareConns = 256;

    struct Conn;
    struct Transfer;

  private:
    static void on_connection(uv_stream_t* s, int status) noexcept;
    static void on_write(uv_write_t* req, int status) noexcept;
    static void on_timer(uv_timer_t* t) noexcept;
    // The timer's work: closes the connection whose deadline passed, or arms the timer for the next one.
    void expire(Conn* c);
    static void on_turn(uv_check_t* h) noexcept;
    static void on_resume(uv_idle_t* h) noexcept;
    // First read of a just-accepted connection, straight from the socket (its query is usually there already).
    void read_now(Conn* c);
    void close_conn(Conn* c, const char* why);
    // A connection object: a spare one reset to its initial state, or a new one.
    Conn* take_conn();
    // Called when both of c's handles are closed: keeps it among the spares, or frees it.
    void recycle(Conn* c);
    // At max_tcp_connections: closes the connection idle the longest (no query in its input, nothing to write, no
    // transfer) among the next kReclaimScan from where the last look ended, so the new one, whose query is usually
    // waiting, is answered; RFC 7766 §6.2.3 lets a server close idle connections. False when none was idle.
    bool reclaim_idle();
    static constexpr size_t kReclaimScan = 64;
    void process(Conn* c);
    void append(Conn* c, const uint8_t* msg, size_t len);
    void flush(Conn* c);
    void update_reading(Conn* c);
    void arm_timer(Conn* c);
    bool can_process(const Conn* c) const;
    bool finished(const Conn* c) const;
    // The connection answered kTurnQueries this loop turn: it is not read until its next turn answers more.
    void defer(Conn* c);
    // AXFR/IXFR: access check (allow-list or TSIG), then starts the stream. False when the connection was closed.
    bool start_transfer(Conn* c, const uint8_t* msg, size_t mlen, const AnswerInfo& info);
    // Produces transfer messages while the output is below kTransferHigh; ends the transfer when it is all written.
    void pump_transfer(Conn* c);
    void end_transfer(Conn* c, const char* outcome);
    friend struct Conn;

    QueryService& svc_;
    shared::SourceConnLimit* sources_;
    uv_loop_t* loop_ = nullptr;
    uv_tcp_t listener_{};
    shared::EagerReadBudget eager_reads_; // connections read at their accept, per loop turn
    bool initialized_ = false;
    bool closing_ = false;
    std::vector<Conn*> conns_;
    std::vector<Conn*> spare_; // closed connections kept for reuse (take_conn)
    size_t reclaim_at_ = 0;    // where reclaim_idle() looks next in conns_
    uv_check_t turn_check_{};  // counts loop turns (turn_), after each poll
    uv_idle_t resume_{};       // active while connections wait in deferred_
    uint64_t turn_ = 0;
    std::vector<Conn*> deferred_; // connections over their turn's budget, in the order they were deferred
    std::vector<Conn*> resuming_; // deferred_ as on_resume took it (kept for its capacity)
    std::vector<uint8_t> out_ = std::vector<uint8_t>(65535);
};

} // namespace dns
