// Time and connection limits of the admin listener, and the pure decisions built on them (deadlines, which
// connection to evict when the listener is full), kept apart from the sockets so they can be tested with a plain
// `now`. The shape is nginx's: a request must arrive whole within request_timeout of its first byte (a client that
// dribbles cannot extend it), a keep-alive connection may idle idle_timeout between requests, a response the client
// does not take within send_timeout is abandoned, and a full listener makes room instead of refusing, so a health
// check always gets through however many slow clients hold connections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace shared {

struct AdminLimits {
    uint64_t request_timeout_ms = 10000;
    uint64_t idle_timeout_ms = 30000;
    uint64_t send_timeout_ms = 10000;
    size_t max_connections = 64;
};

// What a connection is waiting for. `request` also covers a fresh connection that has sent nothing yet: its
// deadline counts from the accept, as nginx's client_header_timeout does.
enum class AdminConnPhase : uint8_t { request, sending, idle };

struct AdminConnClock {
    AdminConnPhase phase = AdminConnPhase::request;
    uint64_t since_ms = 0; // when the phase began: accept or first byte, response queued, response taken

    uint64_t deadline_ms(const AdminLimits& l) const;
};

// The connection to close so a new one fits: the longest-idle keep-alive connection if there is one (it costs its
// client nothing to reconnect), otherwise the one whose deadline comes first (furthest into its time). `conns` must
// not be empty.
size_t pick_admin_eviction(std::span<const AdminConnClock> conns, const AdminLimits& l);

} // namespace shared
