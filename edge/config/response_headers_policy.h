// Response headers policies (CloudFront's): the header lines added to, or removed from, every response the edge sends
// to a viewer for a behavior — browser Cache-Control, security headers, CORS, custom headers — and the CORS preflight
// answered at the edge. A policy is applied while a response head is written and never to what is stored, so one
// cached object serves behaviors with different policies.
//
// `[[response_headers_policy]]` tables are parsed once per config load into immutable ResponseHeadersPolicy objects
// (every header line rendered then), referenced by name from behaviors (`response_headers_policy = "name"`), and read
// by every worker. The matching functions below are pure and allocation-free (they run on cache hits).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/config.h"

namespace edge {

// One header the policy sets.
struct PolicyHeader {
    std::string lname;    // lower-cased name
    std::string line;     // "Name: value\r\n", rendered at load
    bool override = true; // true: replaces the origin's field; false: only added when the response has none
};

struct CorsPolicy {
    bool enabled = false;
    bool any_origin = false;                // "*" in allow_origins
    std::vector<std::string> allow_origins; // lower-cased "scheme://host[:port]"; "scheme://*.domain" matches
                                            // subdomains of domain
    std::string allow_methods;              // rendered Access-Control-Allow-Methods value
    std::vector<std::string> allow_methods_list;
    std::string allow_headers; // rendered value; "*" = any
    bool any_header = false;
    std::string expose_headers; // rendered value; "" = not sent
    bool allow_credentials = false;
    int64_t max_age_s = -1;      // -1: no Access-Control-Max-Age
    bool origin_override = true; // false: an origin response carrying Access-Control-Allow-Origin keeps its own CORS
                                 // fields, and a preflight goes to the origin when the behavior allows OPTIONS
};

struct ResponseHeadersPolicy {
    std::string name;
    std::vector<PolicyHeader> headers; // cache_control, security headers and custom headers, config order
    // Lower-cased names removed from the origin's (or stored) fields; an entry ending in '*' is a prefix.
    std::vector<std::string> remove;
    // The edge's own fields named in `remove` ("server", "via", "x-cache", "cache-status").
    bool remove_server = false;
    bool remove_via = false;
    bool remove_x_cache = false;
    bool remove_cache_status = false;
    CorsPolicy cors;
    // Precomputed at load so a response only appends them.
    std::string cors_lines;      // Access-Control-Allow-Credentials / -Expose-Headers of an allowed CORS response
    std::string preflight_lines; // Access-Control-Allow-Methods / -Allow-Credentials / -Max-Age of a preflight 204

    // True when a field of this name from the origin (or the stored object) must not reach the viewer: removed, or
    // replaced by one of the policy's override headers (or CORS fields, with origin_override). Allocation-free.
    bool drops(std::string_view name) const;
};

// Whether `origin` (the request's Origin field, as sent) may read the response. Case-insensitive on scheme and host,
// exact on the rest; "null" only matches a literal "null" entry. Allocation-free.
bool cors_origin_allowed(const CorsPolicy& cors, std::string_view origin);

enum class PreflightAnswer : uint8_t {
    not_preflight, // not an OPTIONS with Origin and Access-Control-Request-Method (or CORS off): handled normally
    to_origin,     // origin_override = false and OPTIONS allowed: the origin answers it
    allowed,       // 204 with the CORS preflight fields
    refused,       // 403 without CORS fields: the origin or the method is not allowed
};

// The edge's answer to an OPTIONS request carrying `origin` and `request_method` (Access-Control-Request-Method;
// `has_request_method` false when absent). `options_allowed`: the behavior forwards OPTIONS. Allocation-free.
PreflightAnswer preflight_answer(const ResponseHeadersPolicy* policy, bool is_options, std::string_view origin,
                                 bool has_request_method, std::string_view request_method, bool options_allowed);

// Parses one `[[response_headers_policy]]` table; errors and warnings go to `sec` (file:line and key). Returns
// nullptr when a value was refused.
std::shared_ptr<const ResponseHeadersPolicy> parse_response_headers_policy(shared::ConfigSection& sec);

// Parses every `[[response_headers_policy]]` of `root` (names unique).
std::vector<std::shared_ptr<const ResponseHeadersPolicy>> parse_response_headers_policies(shared::ConfigSection& root);

// The policy named `name` (a behavior's `response_headers_policy`, read by the behavior's parser), or nullptr: for
// "" without a word, otherwise with an error on `sec`'s response_headers_policy key.
std::shared_ptr<const ResponseHeadersPolicy>
find_response_headers_policy(shared::ConfigSection& sec,
                             const std::vector<std::shared_ptr<const ResponseHeadersPolicy>>& policies,
                             std::string_view name);

} // namespace edge
