// DNS numbers used across the wire, zone and engine layers (RFC 1035, RFC 6895 registries).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dns {

namespace rrtype {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15, TXT = 16,
                          AAAA = 28, SRV = 33, NAPTR = 35, DNAME = 39, OPT = 41, DS = 43, SSHFP = 44, RRSIG = 46,
                          TLSA = 52, SVCB = 64, HTTPS = 65, TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253,
                          MAILA = 254, ANY = 255, CAA = 257;
} // namespace rrtype

namespace rrclass {
inline constexpr uint16_t IN = 1, CH = 3, NONE = 254, ANY = 255;
} // namespace rrclass

namespace rcode {
inline constexpr uint8_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5,
                         YXDOMAIN = 6, NOTAUTH = 9;
// Extended (12-bit) rcodes carried partly in OPT (RFC 6891 §6.1.3).
inline constexpr uint16_t BADVERS = 16;
} // namespace rcode

namespace opcode {
inline constexpr uint8_t QUERY = 0, NOTIFY = 4;
} // namespace opcode

namespace flag {
// Bits of the 16-bit flags word in the header.
inline constexpr uint16_t QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080, AD = 0x0020,
                          CD = 0x0010;
} // namespace flag

namespace edns_option {
inline constexpr uint16_t NSID = 3, CLIENT_SUBNET = 8;
} // namespace edns_option

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameLen = 255;
inline constexpr size_t kMaxLabels = 128;
inline constexpr uint16_t kClassicUdpSize = 512;

// Short printable name for metrics labels ("A", "AAAA", ... or "other").
const char* rrtype_label(uint16_t type) noexcept;
const char* rcode_label(uint16_t rcode) noexcept;

} // namespace dns
