// Redirects and path rewrites of a behavior, answered or applied at the edge before the cache (what CloudFront
// Functions are mostly used for, and S3 website routing rules): a viewer protocol policy (HTTP → HTTPS), a redirect
// with `$host`/`$path`/`$query` substitution (www ↔ apex in a site's behavior, moved pages), and a rewrite of the
// path the origin is asked for — which is also the path the cache key holds, so every route of a single-page app
// rewritten to /index.html shares one cached object.
//
// Parsed with the behavior (immutable afterwards, read by every worker); the expansion functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/config/config.h"

namespace edge {

// CloudFront's viewer protocol policy.
enum class ViewerProtocolPolicy : uint8_t {
    allow_all,
    redirect_to_https, // plain HTTP requests get 301 (GET, HEAD) or 308 (other methods) to https://host/path?query
    https_only,        // plain HTTP requests get 403
};

struct RedirectRule {
    std::string target; // template ("" = no redirect): an absolute URL or an absolute path, with $host, $path,
                        // $query and $$ (a literal '$')
    int status = 301;   // 301, 302, 303, 307 or 308
};

enum class RewriteWhen : uint8_t {
    always,
    no_extension, // only paths whose last segment has no '.' (SPA routes, "folders"), so /app/main.js is fetched as is
};

struct RewriteRule {
    std::string target; // path template ("" = no rewrite): starts with '/' or "$path"; $path and $$ only
    RewriteWhen when = RewriteWhen::always;
};

struct ViewerRouting {
    ViewerProtocolPolicy protocol = ViewerProtocolPolicy::allow_all;
    RedirectRule redirect;
    RewriteRule rewrite;
};

// Reads a behavior's viewer_protocol_policy, redirect, redirect_status, rewrite_path and rewrite_when keys; errors
// name the key (file:line).
ViewerRouting parse_viewer_routing(shared::ConfigSection& sec);

// A Host usable in a Location: letters, digits, '.', '-', '_', ':' and an IPv6 literal's brackets.
bool host_is_safe(std::string_view host);
// `host` without its ":port" (kept for an IPv6 literal's brackets).
std::string_view host_without_port(std::string_view host);

// The Location for `target` (RedirectRule::target) and a request for the normalized, decoded `path` with raw query
// `query` on `host`: `$path` is percent-encoded (RFC 3986 path characters kept), `$query` is "?query" (or "" when
// there is none) with bytes a query cannot hold encoded, `$host` is `host` (checked with host_is_safe first). `out`
// is replaced.
void expand_redirect(std::string_view target, std::string_view host, std::string_view path, std::string_view query,
                     std::string* out);

// Applies `rule` to the normalized, decoded `path`: true with the new path in *out (runs of '/' collapsed), false
// (out untouched) when the rule does not apply. Allocates only when *out must grow.
bool apply_rewrite(const RewriteRule& rule, std::string_view path, std::string* out);

} // namespace edge
