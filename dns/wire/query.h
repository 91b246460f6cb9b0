// The hand-written query parser used on the hot path (ldns never parses a query): header, the one question (kept
// by offset so the answer copies it verbatim, preserving the client's letter case), and the additional section's
// OPT (RFC 6891) with NSID (RFC 5001) and Client Subnet (RFC 7871), plus the position of a TSIG record.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dns/wire/client_subnet.h"
#include "dns/wire/dns_name.h"

namespace dns {

enum class QueryStatus : uint8_t {
    ok,
    drop,    // too short for a header, or QR=1: never answered
    formerr, // malformed: answer FORMERR (header fields id/opcode/flags are valid)
    notimp,  // opcode other than QUERY: answer NOTIMP
};

struct ParsedQuery {
    uint16_t id = 0;
    uint16_t flags = 0;
    uint8_t opcode = 0;
    // The question, when parsed: qname lower-cased for lookups; the packet's own bytes are [12, question_end).
    NameBuf qname;
    uint16_t qtype = 0;
    uint16_t qclass = 0;
    size_t question_end = 0; // 0 when the question could not be parsed
    // EDNS (RFC 6891).
    bool edns = false;
    uint16_t udp_size = 0;
    uint8_t edns_version = 0;
    bool do_bit = false;
    bool co_bit = false; // "Compact Answers OK" (RFC 9824 §4): NXDOMAIN may come with a compact denial
    bool nsid = false;   // the client asked for NSID
    ClientSubnet ecs;
    // IXFR (RFC 1995 §3): the serial of the client's SOA in the authority section, when there is one.
    bool ixfr_soa = false;
    uint32_t ixfr_serial = 0;
    // TSIG (RFC 8945): offset of the TSIG RR (0 when none); it must be the last record.
    size_t tsig_offset = 0;
};

// Parses `len` bytes. On formerr/notimp the header fields (id, flags, opcode) are filled; on formerr the question
// may or may not be (question_end != 0 when it was).
QueryStatus parse_query(const uint8_t* data, size_t len, ParsedQuery* q) noexcept;

} // namespace dns
