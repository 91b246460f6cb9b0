// Applies a behavior's response headers policy (edge/config/response_headers_policy.h) to a response head while it is
// written to a viewer: the fields the policy drops are left out (or stripped in place from the head being built),
// its lines are appended, and the CORS fields follow the request's Origin. Nothing here touches what is stored.
// Allocation-free once the head buffer has grown to its working size (cache hits go through here).
//
// Thread: any (pure functions over the caller's buffers).
#pragma once

#include <string>
#include <string_view>

#include "edge/config/response_headers_policy.h"
#include "edge/http/response_writer.h"

namespace edge {

// True when a header line of `block` (a stored header block: status line first) is one `p` drops.
bool block_has_dropped(const ResponseHeadersPolicy& p, std::string_view block);

// Removes, in place, the header lines of out[from, end) that `p` drops. `from` must be the start of a line.
void strip_dropped_lines(const ResponseHeadersPolicy& p, std::string& out, size_t from);

// The edge's own fields the policy removes (Server, Via, X-Cache, Cache-Status).
void apply_to_edge_headers(const ResponseHeadersPolicy* p, EdgeHeaders* eh);

// Appends the policy's lines for an answer to a request whose Origin is `origin` ("" = none): each header it sets
// (an override one always, another only when has_field(lower-cased name) says the response has none), and the CORS
// fields — "Access-Control-Allow-Origin: *" on every answer for any origin, or the request's Origin when allowed
// (with "Vary: Origin" on every answer, since the field depends on it). `cors` false leaves the CORS fields out (a
// preflight answer writes its own).
template <typename HasField>
void append_policy_lines(const ResponseHeadersPolicy& p, std::string_view origin, HasField&& has_field,
                         std::string& out, bool cors = true) {
    for (const PolicyHeader& h : p.headers) {
        if (h.override || !has_field(std::string_view(h.lname))) out.append(h.line);
    }
    const CorsPolicy& c = p.cors;
    if (!cors || !c.enabled || (!c.origin_override && has_field(std::string_view("access-control-allow-origin"))))
        return;
    if (c.any_origin) {
        out.append("Access-Control-Allow-Origin: *\r\n");
        out.append(p.cors_lines);
        return;
    }
    out.append("Vary: Origin\r\n");
    if (!cors_origin_allowed(c, origin)) return;
    out.append("Access-Control-Allow-Origin: ");
    out.append(origin);
    out.append("\r\n");
    out.append(p.cors_lines);
}

// The same for a response whose origin fields are the stored header block `block`.
void append_policy_lines_for_block(const ResponseHeadersPolicy& p, std::string_view origin, std::string_view block,
                                   std::string& out);

// The CORS fields of an allowed preflight answer (preflight_answer() == allowed) to a request with `origin` and
// Access-Control-Request-Headers `request_headers`.
void append_preflight_lines(const ResponseHeadersPolicy& p, std::string_view origin, std::string_view request_headers,
                            std::string& out);

} // namespace edge
