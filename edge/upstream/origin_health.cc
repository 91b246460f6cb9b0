#include "edge/upstream/origin_health.h"

namespace edge {
namespace {

constexpr uint64_t kTrialBit = 1;

// A non-zero "down until" with the trial bit as asked (so a cool-down ending at time 0 is still "down").
uint64_t until(uint64_t t, bool trial) noexcept {
    return (t & ~kTrialBit) | (trial ? kTrialBit : 0) | 2;
}

} // namespace

bool OriginHealth::should_try(uint64_t now) noexcept {
    uint64_t d = down_until_.load(std::memory_order_relaxed);
    while (true) {
        if (d == 0) return true;
        if (now < (d & ~kTrialBit)) return false;
        // The cool-down (or a trial that never reported) is over: this caller is the trial.
        if (down_until_.compare_exchange_weak(d, until(now + cooldown_ms_, true), std::memory_order_relaxed))
            return true;
    }
}

bool OriginHealth::record_success() noexcept {
    return down_until_.exchange(0, std::memory_order_relaxed) != 0;
}

bool OriginHealth::record_failure(uint64_t now) noexcept {
    return down_until_.exchange(until(now + cooldown_ms_, false), std::memory_order_relaxed) == 0;
}

OriginHealth::State OriginHealth::state(uint64_t now) const noexcept {
    uint64_t d = down_until_.load(std::memory_order_relaxed);
    if (d == 0) return State::up;
    if (d & kTrialBit) return now < (d & ~kTrialBit) ? State::trial : State::down;
    return State::down;
}

} // namespace edge
