// NOTIFY (RFC 1996) to configured secondaries, sent when a reload raised a zone's SOA serial. Fire and forget over
// UDP from the main thread: a secondary that misses it still polls at the SOA refresh interval.
#pragma once

#include <cstdint>
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

} // namespace dns
