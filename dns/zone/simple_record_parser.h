// A fast path for the master-file lines that make up nearly all of a large zone: one record on one line, of type
// A, AAAA, NS, CNAME, PTR, MX or TXT, class IN, with plain names (letters, digits, '-', '_', '*') and TXT strings
// without escapes. Such a line is turned into wire form here, about ten times faster than ldns_rr_new_frm_fp_l
// (which allocates an ldns_rr and an ldns_rdf per field). Anything else — directives, parentheses, escapes,
// other types or classes, TTL units, anything unusual or wrong — is "not simple" and goes to ldns, which also
// reports the errors, so the fast path only ever accepts what ldns would read the same way (the unit tests compare
// both on every accepted form).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dns {

// What ldns would use for the parts a line leaves out.
struct SimpleParseContext {
    std::string_view origin;      // wire form, as written in $ORIGIN or the zone name (case kept)
    std::string_view prev_owner;  // wire form of the previous record's owner ("" = none yet)
    uint32_t default_ttl = 3600;  // $TTL (ldns uses 3600 when it is 0)
};

struct SimpleRecord {
    std::string owner; // wire form, case as written
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::string rdata; // wire form, names uncompressed and case kept (like ldns_rr_rdata2buffer_wire)
};

enum class SimpleLine {
    blank,      // only whitespace and/or a comment: nothing to do
    record,     // *out holds the record
    not_simple, // hand this line to ldns
};

// Only spaces, tabs and an optional comment.
bool is_blank_line(std::string_view line);

// `line` without its newline. *out is reused between calls (its buffers keep their capacity).
SimpleLine parse_simple_line(std::string_view line, const SimpleParseContext& ctx, SimpleRecord* out);

} // namespace dns
