// Deferred accept (TCP_DEFER_ACCEPT, nginx's `listen ... deferred`) as both daemons use it: the kernel hands a
// listener a connection once its client's first bytes arrived (an HTTP request, a TLS ClientHello, a DNS query), and
// the server reads them right at the accept instead of a loop turn later, so a one-request connection is accept,
// read, write, close without an epoll round trip. The read at the accept is bounded per listener and loop turn.
// Only for protocols where the client speaks first.
#pragma once

#include <uv.h>

namespace shared {

// How long the kernel holds a connection whose client sent nothing (tcp_listen_reuseport's defer_accept_s). One
// second, nginx's value: a server's header, handshake and idle timeouts count from the accept and cannot see the time
// a connection waited in the kernel, so a silent connection is accepted after about a second (one SYN-ACK
// retransmission) and then timed out as before; the deferral adds at most that second to any deadline. Longer would
// let a silent connection outlast the configured timeouts.
inline constexpr int kDeferAcceptSeconds = 1;

// Connections a listener reads (and often answers and closes) at their accept, per loop turn. libuv accepts until
// the queue is empty, calling the connection callback for each; a connection answered inside that loop lets its
// client connect again at once, so without a bound a stream of one-request clients keeps the worker in the accept
// loop while its established connections, timers and origin sockets wait. Past the bound a connection is left to the
// normal read path (epoll at the next poll), as without deferral. 64: the edge's parser storage and connection buffer
// pools each keep 64 free (the connections closed in a turn keep theirs until the turn ends), and 64 answers are a
// few hundred microseconds of a worker's turn.
inline constexpr unsigned kEagerReadsPerTurn = 64;

// The budget of reads at the accept for one listener: take() says whether the connection just accepted may be read
// now. The budget is renewed when the loop turn that used it ends (a uv_check handle, started by the turn's first
// take() and stopped by its callback, so a loop that accepts nothing runs no callback for it). Not keyed on uv_now:
// several turns within one millisecond would share a budget, and one long turn would not be one. libuv 1.44 (Debian
// 12) does not expose its iteration count (uv_metrics_info came in 1.45). Loop thread only; no allocation.
class EagerReadBudget {
  public:
    explicit EagerReadBudget(unsigned per_turn = kEagerReadsPerTurn) : per_turn_(per_turn) {}
    EagerReadBudget(const EagerReadBudget&) = delete;
    EagerReadBudget& operator=(const EagerReadBudget&) = delete;

    // Initializes the handle on `loop`; it keeps no loop alive. Once initialized it must be closed (close()) and
    // outlive its close callback.
    void init(uv_loop_t* loop);
    // Closes the handle: `cb` (may be null) is called on it with `data` set to `owner`, so the owner can count it
    // among the handles it waits for before it frees itself.
    void close(void* owner, uv_close_cb cb);
    bool initialized() const { return initialized_; }

    // True (and counted) while this turn's budget lasts.
    bool take() noexcept {
        if (taken_ >= per_turn_) return false;
        if (taken_++ == 0) uv_check_start(&turn_end_, on_turn_end);
        return true;
    }

  private:
    static void on_turn_end(uv_check_t* h) noexcept;

    uv_check_t turn_end_{};
    unsigned per_turn_;
    unsigned taken_ = 0;
    bool initialized_ = false;
};

} // namespace shared
