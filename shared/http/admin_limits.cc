#include "shared/http/admin_limits.h"

namespace shared {

uint64_t AdminConnClock::deadline_ms(const AdminLimits& l) const {
    switch (phase) {
    case AdminConnPhase::request:
        return since_ms + l.request_timeout_ms;
    case AdminConnPhase::sending:
        return since_ms + l.send_timeout_ms;
    case AdminConnPhase::idle:
        return since_ms + l.idle_timeout_ms;
    }
    return since_ms;
}

size_t pick_admin_eviction(std::span<const AdminConnClock> conns, const AdminLimits& l) {
    size_t best = 0;
    bool best_idle = false;
    uint64_t best_key = UINT64_MAX;
    for (size_t i = 0; i < conns.size(); ++i) {
        bool idle = conns[i].phase == AdminConnPhase::idle;
        uint64_t key = idle ? conns[i].since_ms : conns[i].deadline_ms(l);
        if ((idle && !best_idle) || (idle == best_idle && key < best_key)) {
            best = i;
            best_idle = idle;
            best_key = key;
        }
    }
    return best;
}

} // namespace shared
