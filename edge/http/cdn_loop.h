// RFC 8586 CDN-Loop: every origin request of the edge appends its cdn_id to the field (origin_request.h), and a
// request that already names that id cdn_loop_max times is answered 508 Loop Detected instead of being forwarded
// once more. Several entries are normal: a tier's parent sees its CDN's id once per edge below it (Fastly sends
// up to four "Fastly" entries with clustering and shielding), so the limit counts, as Fastly does, rather than
// refusing on the first sight as a single-hop CDN may. 508 is what Cloudflare answers to a CDN-Loop loop (Fastly
// answers 503 "Loop detected" for its own Fastly-FF loops; CloudFront documents no status): it names the problem,
// and unlike 502/503 no retry or failover logic upstream takes it for a passing origin failure.
//
// Pure functions, any thread; no allocation (it runs before the cache lookup).
#pragma once

#include <cstddef>
#include <string_view>

#include "edge/http/request_parser.h"

namespace edge {

// How many entries of one CDN-Loop field value name `cdn_id` (case-insensitive; parameters after ';' ignored).
size_t cdn_loop_count(std::string_view field_value, std::string_view cdn_id) noexcept;

// The same over every CDN-Loop line of `req`.
size_t cdn_loop_count(const HttpRequest& req, std::string_view cdn_id) noexcept;

} // namespace edge
