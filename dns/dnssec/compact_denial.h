// NSEC records of "compact denial of existence" (RFC 9824, what Route53 and Cloudflare serve): a negative answer
// carries one NSEC owned by the query name itself, whose next name is the name's immediate successor
// ("\000.<name>") and whose type bitmap lists what the name holds — or, for a name that does not exist, only
// RRSIG, NSEC and the NXNAME pseudo-type. One record, signed once per name, and nothing to walk: unlike an NSEC
// chain it reveals no other name of the zone, and unlike NSEC3 it needs no hashing on the query path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dns {

inline constexpr uint16_t kNsecType = 47;
inline constexpr uint16_t kDnskeyType = 48;
inline constexpr uint16_t kCdsType = 59;
inline constexpr uint16_t kCdnskeyType = 60;
inline constexpr uint16_t kNxnameType = 128; // RFC 9824 §2: "this name does not exist"
// EDNS header flag "Compact Answers OK" (RFC 9824 §4): the client takes NXDOMAIN with a compact denial.
inline constexpr uint16_t kEdnsCoFlag = 0x4000;

// The RFC 4034 §4.1.2 type bitmap of `types` (any order, duplicates allowed).
std::string nsec_type_bitmap(std::vector<uint16_t> types);
// The same into `out` (room for kMaxBitmap bytes), sorting `types` in place; returns its length. No allocation (the
// query path builds the NSEC of a name that does not exist with it).
inline constexpr size_t kMaxBitmap = 256 * 34;
size_t nsec_type_bitmap(uint16_t* types, size_t n, uint8_t* out) noexcept;

// The RDATA of the compact-denial NSEC at `owner` (lower-case wire): next name "\000" + owner, then `bitmap`.
// Empty when the successor name would exceed 255 bytes.
std::string compact_nsec_rdata(std::string_view owner, std::string_view bitmap);

} // namespace dns
