// NOTIFY (RFC 1996) to configured secondaries, sent when a reload raised a zone's SOA serial. Fire and forget over
// UDP from the main thread: a secondary that misses it still polls at the SOA refresh interval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dns/zone/zone_db.h"
#include "shared/net/address.h"

namespace dns {

// The NOTIFY message for `zone` (opcode NOTIFY, AA, question <apex> SOA IN, the SOA in the answer section).
std::vector<uint8_t> build_notify(const Zone& zone, uint16_t id);
// Sends it to each target; returns how many sends succeeded (failures are logged).
size_t send_notify(const Zone& zone, const std::vector<shared::SocketAddress>& targets);

} // namespace dns
