// Turns an origin response's header list into the header block a cached object replays on every hit.
//
// The block is "HTTP/1.1 <status> <reason>\r\n" followed by the end-to-end header lines, without the final empty
// line and without the fields the edge writes per response: Date, Age, X-Cache, Connection, Keep-Alive,
// Content-Length, Transfer-Encoding (and other hop-by-hop fields, RFC 9110 §7.6.1, incl. those named in Connection).
// A hit is then one gather write: block + "Date/Age/X-Cache/Via/Content-Length/Connection" lines + "\r\n" + body.
// Pure, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace edge {

struct HeaderField {
    std::string_view name;
    std::string_view value;
};

// Where the validators sit inside a header block (offset/length of the field value; len 0 = absent).
struct ValidatorSpans {
    uint32_t etag_off = 0, etag_len = 0;
    uint32_t last_modified_off = 0, last_modified_len = 0;
};

// Builds the block. `reason` "" picks the standard reason phrase. Set-Cookie lines are dropped unless
// keep_set_cookie. Returns the spans of ETag / Last-Modified in *validators (may be null).
std::string build_stored_header_block(int status, std::string_view reason, const HeaderField* headers, size_t count,
                                      bool keep_set_cookie, ValidatorSpans* validators);

// True for fields a proxy never forwards (hop-by-hop, RFC 9110 §7.6.1) or that the edge writes itself (see above).
bool is_edge_managed_header(std::string_view name);

// The standard reason phrase ("OK", "Not Found"...), "Unknown" for others.
std::string_view reason_phrase(int status);

} // namespace edge
