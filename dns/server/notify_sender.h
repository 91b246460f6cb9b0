// NOTIFY (RFC 1996) to configured secondaries, sent when a reload raised a zone's SOA serial. NotifySender runs on
// the main loop: each NOTIFY is resent until the secondary answers it (§3.6: retried, the interval doubling, as
// NSD and Knot do), and a newer serial for the same zone and secondary replaces the one still pending. A secondary
// that never answers still polls at the SOA refresh interval; the give-up is logged.
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/wire/tsig.h"
#include "dns/zone/zone_db.h"
#include "shared/net/address.h"

namespace dns {

// The NOTIFY message for `zone` (opcode NOTIFY, AA, question <apex> SOA IN, the SOA in the answer section), signed
// with `key` at `now_s` when given (RFC 8945; secondaries that accept NOTIFY only with a key, as NSD's
// `allow-notify: <addr> <key>` and Knot's ACLs do).
std::vector<uint8_t> build_notify(const Zone& zone, uint16_t id, const TsigKey* key = nullptr, uint64_t now_s = 0);
// Sends it to each target; returns how many sends succeeded (failures are logged).
size_t send_notify(const Zone& zone, const std::vector<shared::SocketAddress>& targets, const TsigKey* key = nullptr);

class NotifySender {
  public:
    // `attempts` sends at most per NOTIFY, the first retry after `first_timeout_ms`, each later one twice as late.
    explicit NotifySender(uv_loop_t* loop, unsigned attempts = 5, uint64_t first_timeout_ms = 2000)
        : loop_(loop), attempts_(attempts), first_timeout_ms_(first_timeout_ms) {}
    ~NotifySender();
    NotifySender(const NotifySender&) = delete;
    NotifySender& operator=(const NotifySender&) = delete;

    // Sends `zone`'s NOTIFY to each target (signed with a copy of `key` when given), replacing any still pending
    // for the same zone and target.
    void notify(const Zone& zone, const std::vector<shared::SocketAddress>& targets, const TsigKey* key = nullptr);
    // Stops every pending NOTIFY; the loop must run afterwards to release them.
    void close();
    size_t pending() const { return pending_.size(); }
    // NOTIFYs answered by their secondary, and given up, since start (for tests and logs).
    size_t acknowledged() const { return acknowledged_; }
    size_t given_up() const { return given_up_; }

    struct Pending;

  private:
    void send(Pending* p);
    void finish(Pending* p);
    static void on_timer(uv_timer_t* t) noexcept;
    static void on_recv(uv_udp_t* u, ssize_t n, const uv_buf_t* buf, const sockaddr* from, unsigned flags) noexcept;

    uv_loop_t* loop_;
    unsigned attempts_;
    uint64_t first_timeout_ms_;
    std::vector<Pending*> pending_;
    size_t acknowledged_ = 0, given_up_ = 0;
};

} // namespace dns
