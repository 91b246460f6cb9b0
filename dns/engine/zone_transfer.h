// AXFR (RFC 5936) message stream for one zone: SOA, every other RRset, SOA again, packed into messages of at most
// `cap` bytes. IXFR is answered the same way (RFC 1995 §4 allows a full transfer). Access control is the server's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "dns/zone/zone_db.h"

namespace dns {

// Calls emit(message, length) for each message; the question of `query` (which parsed OK, question ending at
// `question_end`) is repeated in every message. Returns false when a single RRset cannot fit in `cap`.
bool write_axfr(const Zone& zone, const uint8_t* query, size_t question_end, uint8_t* buf, size_t cap,
                const std::function<void(const uint8_t*, size_t)>& emit);

} // namespace dns
