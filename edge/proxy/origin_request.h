// What the edge sends to an http origin for a viewer request: the target (normalized path re-encoded, query per the
// behavior), Host per the origin's host_header mode, X-Forwarded-For, Via and CDN-Loop appended, and the viewer's
// end-to-end headers and cookies that the behavior's origin request policy forwards (all of them by default, as
// nginx and Varnish do; CloudFront's origin request policies choose). Pure functions, any thread.
#pragma once

#include <string>
#include <string_view>

#include "edge/config/edge_config.h"
#include "edge/http/request_parser.h"
#include "shared/http/http_headers.h"

namespace edge {

// Percent-encodes a decoded, normalized path for the request line (RFC 3986 pchar plus '/').
void encode_path(std::string_view decoded_path, std::string* out);

// The Host header value sent to `origin` for a request whose viewer Host was `viewer_host`.
std::string origin_host_header(const OriginConfig& origin, std::string_view viewer_host);

struct OriginHeaderOptions {
    std::string_view client_ip;
    std::string_view via = "1.1 meridian";
    // RFC 8586: appended to the viewer's CDN-Loop (edge/http/cdn_loop.h); "" = the field is passed on as it is.
    std::string_view cdn_id;
    // The origin request policy (forward_headers, forward_cookies, cache_key_*); nullptr forwards nothing of the
    // viewer's but Host, X-Forwarded-For and Via.
    const BehaviorConfig* behavior = nullptr;
    // true: a shared fill, whose answer is stored for every viewer: the viewer's conditionals, Range and
    // Accept-Encoding are not forwarded (the edge asks for the whole identity object, with its own validators
    // below); false: a private pass-through, which forwards them as the policy says.
    bool shared_fill = true;
    std::string_view if_none_match; // revalidation of a stale object
    std::string_view if_modified_since;
};

// Builds the origin request headers into *out (cleared first). Returns whether the viewer's Authorization went to
// the origin (RFC 9111 §3.5: the answer is then stored only if it says public, s-maxage or must-revalidate).
bool build_origin_headers(const HttpRequest& req, const OriginConfig& origin, const OriginHeaderOptions& opt,
                          shared::HttpHeaders* out);

// True for request headers a proxy must not forward (hop-by-hop, RFC 9110 §7.6.1) or that the edge rewrites.
bool is_unforwarded_request_header(std::string_view name, std::string_view connection_value);

} // namespace edge
