#include "shared/net/deferred_accept.h"

namespace shared {

void EagerReadBudget::init(uv_loop_t* loop) {
    uv_check_init(loop, &turn_end_);
    turn_end_.data = this;
    // Renewing a budget is no reason to keep a loop running (uv_unref holds across start and stop).
    uv_unref(reinterpret_cast<uv_handle_t*>(&turn_end_));
    initialized_ = true;
}

void EagerReadBudget::close(void* owner, uv_close_cb cb) {
    auto* h = reinterpret_cast<uv_handle_t*>(&turn_end_);
    if (!initialized_ || uv_is_closing(h)) return;
    turn_end_.data = owner; // no check callback runs any more: only `cb` reads it
    uv_close(h, cb);
}

// Accept callbacks run in the poll phase; check handles run right after it, so this ends the turn that took.
void EagerReadBudget::on_turn_end(uv_check_t* h) noexcept {
    auto* b = static_cast<EagerReadBudget*>(h->data);
    b->taken_ = 0;
    uv_check_stop(h);
}

} // namespace shared
