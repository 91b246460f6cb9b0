// Whether an http origin (or one parent edge of a tier) is worth trying: a passive circuit breaker shared by every
// worker. A failure that makes a request fail over (refused, timed out, a failover status) marks the origin down
// for its cool-down; while down it is skipped. When the cool-down has passed, the next request that wants it is
// let through as the one trial (the others keep skipping it, for another cool-down, until the trial answers); a
// success brings the origin back, a failure starts a new cool-down.
//
// Why the next request and not a background probe: the trial is a real request on the real path (Host, TLS, the
// behavior's headers), which a synthetic probe only approximates; it costs nothing on an idle edge and needs no
// timer per origin per worker; and it costs the viewer nothing, since a failed trial fails over like any other
// request. The price is that an origin is found healthy again only when traffic asks for it.
//
// Time is an argument (milliseconds on any monotonic-enough clock), so the state machine is tested without
// sleeping. Thread: any; lock-free (one atomic word).
#pragma once

#include <atomic>
#include <cstdint>

namespace edge {

class OriginHealth {
  public:
    enum class State : uint8_t { up, down, trial };
    explicit OriginHealth(uint64_t cooldown_ms) : cooldown_ms_(cooldown_ms) {}

    // Whether a request at `now` should try this origin. While down, false; after the cool-down, true for exactly
    // one caller (the trial), which extends the down time by one cool-down so the others keep skipping it.
    bool should_try(uint64_t now) noexcept;
    // The origin answered acceptably. Returns true when that brought it back up (for the log).
    bool record_success() noexcept;
    // The origin failed (a reason to fail over). Returns true when that took it down (it was up).
    bool record_failure(uint64_t now) noexcept;

    State state(uint64_t now) const noexcept;
    uint64_t cooldown_ms() const noexcept { return cooldown_ms_; }

  private:
    const uint64_t cooldown_ms_;
    // 0: up. Otherwise the time the current cool-down (or trial) ends; bit 0 set while a trial runs.
    std::atomic<uint64_t> down_until_{0};
};

} // namespace edge
