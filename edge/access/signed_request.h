// Verification of CloudFront-style signed URLs and signed cookies for behaviors with trusted key groups.
//
// A signed URL carries `Expires` (canned policy) or `Policy` (custom policy, URL-safe base64 JSON), plus `Signature`
// and `Key-Pair-Id` (and optionally `Hash-Algorithm=SHA256` for RSA keys); signed cookies carry the same as
// `CloudFront-Expires` / `CloudFront-Policy`, `CloudFront-Signature`, `CloudFront-Key-Pair-Id`. Query parameters
// win over cookies, as on CloudFront. The resource compared is the viewer URL as CloudFront rebuilds it:
// scheme://host/path?query, the query in the viewer's order with the signing parameters removed.
//
// Signatures: RSA PKCS#1 v1.5 with SHA-1 (CloudFront's scheme; SHA-256 with Hash-Algorithm=SHA256) and ECDSA
// P-256 with SHA-256 (DER), over the policy bytes. Time and the client address are arguments: no clock reads.
// Pure, any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "edge/access/trusted_key_group.h"
#include "edge/cache/stored_headers.h" // HeaderField

namespace edge {

enum class SignedDenial : uint8_t {
    none,              // valid
    missing,           // no signing parameters or cookies at all
    malformed,         // incomplete set, bad base64, bad policy JSON, bad Expires
    unknown_key,       // Key-Pair-Id not in the behavior's trusted key groups
    bad_signature,     // tampered URL/policy/signature, or signed by another key
    expired,           // now >= DateLessThan / Expires
    not_yet_valid,     // now < DateGreaterThan
    wrong_ip,          // client outside IpAddress/AWS:SourceIp
    resource_mismatch, // custom policy's Resource does not match the URL
};

// "missing", "expired", ... (for logs and metric labels).
std::string_view to_string(SignedDenial d);

// The signing values of a request (views into the request).
struct SignedParams {
    std::string_view expires, policy, signature, key_pair_id, hash_algorithm;
    bool any() const { return !expires.empty() || !policy.empty() || !signature.empty() || !key_pair_id.empty(); }
};

// True for Expires, Policy, Signature, Key-Pair-Id and Hash-Algorithm.
bool is_signing_param(std::string_view name);

// Reads the signing parameters from a raw query string (no leading '?').
SignedParams signed_params_from_query(std::string_view query);

// Reads them from the CloudFront-* cookies of the request.
SignedParams signed_params_from_cookies(std::span<const HeaderField> headers);

// `query` without the signing parameters, the others in order ("a=1&b=2"). Returns `query` itself when it has
// none (no copy); otherwise the result is written into *buf and a view of it returned.
std::string_view query_without_signing_params(std::string_view query, std::string* buf);

// "scheme://host" + path + ("?" + query when not empty), host lower-cased: what the policy's Resource names.
std::string viewer_url(std::string_view scheme, std::string_view host, std::string_view path, std::string_view query);

// Checks `p` against `keys` for the viewer URL `url` at Unix time `now` from `client_ip` (textual). On a denial,
// *detail (when given) says more for the log (e.g. the policy's JSON error).
SignedDenial verify_signed_request(const TrustedKeys& keys, const SignedParams& p, std::string_view url, int64_t now,
                                   std::string_view client_ip, std::string* detail = nullptr);

} // namespace edge
