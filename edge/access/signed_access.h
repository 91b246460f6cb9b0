// The viewer-request gate of behaviors with trusted key groups (CloudFront's "restrict viewer access"): takes the
// signing values from the query string, else from the CloudFront-* cookies, rebuilds the viewer URL and verifies
// (signed_request.h). Denials are logged at debug level with their reason and counted by reason.
//
// Thread: the worker's loop. Verifying a signature costs an RSA/ECDSA operation and a few allocations per request:
// private content is never on the allocation-free hit path.
#pragma once

#include <cstdint>
#include <string_view>

#include "edge/access/signed_request.h"
#include "edge/http/request_parser.h"

namespace edge {

struct EdgeMetrics;

// The body of the 403 a denied request gets.
inline constexpr std::string_view kSignedAccessDeniedBody =
    "forbidden: this path needs a valid signed URL or signed cookies\n";

// SignedDenial::none when `req` carries a valid signature from one of `keys` for the URL it asks for. `scheme` is
// "http" or "https" (how the viewer connected); `now_s` Unix seconds.
SignedDenial check_signed_access(const TrustedKeys& keys, const HttpRequest& req, std::string_view scheme,
                                 int64_t now_s, std::string_view client_ip, EdgeMetrics* metrics, unsigned shard);

} // namespace edge
