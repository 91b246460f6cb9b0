// Everything the proxy needs from the worker's event loop, behind interfaces with no event-loop type: per-session
// timers and cross-thread wakeups (SessionIo), jobs for the thread pool, the origin client, and a tick once a
// second. The worker implements it with libuv (edge/server/loop_proxy_io.h); unit tests implement it with fakes
// they drive by hand, so a session's every phase can be reached without a socket or a loop.
//
// Thread: the worker loop, except SessionIo::wake(), which any thread may call.
#pragma once

#include <cstdint>
#include <functional>

#include "edge/upstream/origin_stream.h"

namespace edge {

// What a session hears from its SessionIo, on the worker loop.
class SessionIoEvents {
  public:
    // After one or more wake() calls (several coalesce into one).
    virtual void on_wakeup() = 0;
    // The one-shot timer fired.
    virtual void on_timer() = 0;
    // After close(): no event follows, and the SessionIo is gone.
    virtual void on_io_closed() = 0;

  protected:
    ~SessionIoEvents() = default;
};

class SessionIo {
  public:
    // Any thread, never blocks: on_wakeup() runs soon on the loop. A fill's subscriber callback uses it.
    virtual void wake() noexcept = 0;
    // One-shot timer; starting it again replaces the running one.
    virtual void start_timer(uint64_t ms) = 0;
    virtual void stop_timer() = 0;
    // No event after this; on_io_closed() runs on a later loop turn, and then this object is freed. Call once.
    virtual void close() = 0;

  protected:
    ~SessionIo() = default;
};

class ProxyIo {
  public:
    // A session's timer and wakeup, reporting to `events` until it is closed.
    virtual SessionIo* open_session_io(SessionIoEvents* events) = 0;
    // Runs `work` on a thread pool, then `done(true)` on the loop. When the job cannot be queued, `done(false)` runs
    // at once, on the loop, and `work` never runs.
    virtual void run_off_loop(std::function<void()> work, std::function<void(bool ran)> done) = 0;
    // The worker's client for http origins.
    virtual OriginClient& origins() = 0;
    // `tick` runs on the loop about once a second until shutdown() (the access log's flush).
    virtual void set_tick(std::function<void()> tick) = 0;
    // Worker stop, once no session is alive: closes origin connections and the tick.
    virtual void shutdown() = 0;

  protected:
    ~ProxyIo() = default;
};

} // namespace edge
