// Writes pre-rendered RRsets from the zone database into a response, compressing owner names and the RDATA names
// of the RFC 1035 types (RFC 3597 §4 forbids it for the others). Shared by the query engine and zone transfer.
#pragma once

#include <cstdint>
#include <string_view>

#include "dns/wire/wire_writer.h"
#include "dns/zone/zone_db.h"

namespace dns {

// Writes every record of `set` with owner `owner` (uncompressed wire) and `ttl`. On overflow rewinds to where it
// started and returns false (the writer is usable again).
bool write_rrset(WireWriter& w, std::string_view owner, const RRset& set, uint32_t ttl) noexcept;

// Writes the RRSIGs of `set` (none in an unsigned zone) with owner `owner` and `ttl`; on overflow rewinds and
// returns false.
bool write_rrsigs(WireWriter& w, std::string_view owner, const RRset& set, uint32_t ttl) noexcept;
// The same for RRSIGs held elsewhere (`sigs`: [u16 length][rdata] records).
bool write_rrsigs(WireWriter& w, std::string_view owner, std::string_view sigs, uint32_t ttl) noexcept;

// Writes one record (RDATA `rd`, `len` bytes, uncompressed). On overflow rewinds and returns false.
bool write_record(WireWriter& w, std::string_view owner, uint16_t type, uint32_t ttl, const uint8_t* rd,
                  uint16_t len) noexcept;

// Length of a valid uncompressed name at p (bounded by len); 0 when invalid.
size_t rdata_name_len(const uint8_t* p, size_t len) noexcept;

} // namespace dns
