// The proxy's event-loop services (edge/proxy/proxy_io.h) on one worker's libuv loop: a uv_async_t and a
// uv_timer_t per session (wakes from the loop's own thread go through a per-loop check handle instead), uv_queue_work
// for thread-pool jobs, the worker's origin pools, and the once-a-second tick.
//
// Thread: the worker loop (SessionIo::wake() from any thread).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

#include "edge/proxy/proxy_io.h"
#include "edge/upstream/origin_pools.h"

namespace edge {

class LocalWakeups;

class LoopProxyIo final : public ProxyIo {
  public:
    // `first_byte_hook` gets each origin response's time to first byte (ms).
    LoopProxyIo(uv_loop_t* loop, std::function<void(uint64_t ms)> first_byte_hook);
    ~LoopProxyIo();
    LoopProxyIo(const LoopProxyIo&) = delete;
    LoopProxyIo& operator=(const LoopProxyIo&) = delete;

    SessionIo* open_session_io(SessionIoEvents* events) override;
    void run_off_loop(std::function<void()> work, std::function<void(bool ran)> done) override;
    OriginClient& origins() override { return pools_; }
    void set_tick(std::function<void()> tick) override;
    void shutdown() override;

    uv_loop_t* loop() const { return loop_; }

  private:
    uv_loop_t* loop_;
    OriginPools pools_;
    std::function<void()> tick_;
    uv_timer_t* tick_timer_ = nullptr; // freed in its close callback
    LocalWakeups* local_wakeups_;      // closed by shutdown(), freed when its handles and session ios are gone
};

} // namespace edge
