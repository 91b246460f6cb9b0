// AWS Signature Version 4 for requests to a private S3-compatible origin (CloudFront's Origin Access Control):
// the Authorization header computed as AWS specifies it, with the target re-encoded into the form that is signed.
//
// S3 signs the path as sent, each segment URI-encoded once (no normalization, no double encoding), so the edge
// sends exactly the canonical form it signs: every byte outside A-Z a-z 0-9 - . _ ~ is %XX (upper-case hex), '/'
// kept. The query is sent as its canonical form too (parameters sorted, both sides encoded the same way), so the
// origin and the edge cannot read different strings into one request. The signed headers are Host, x-amz-date,
// x-amz-content-sha256 (UNSIGNED-PAYLOAD unless there is a body, then its SHA-256) and x-amz-security-token with
// temporary credentials; any viewer x-amz-* or Authorization header is dropped, since S3 refuses x-amz-* headers
// that are not signed and the viewer's own credentials are not the origin's.
//
// Pure functions over strings: no clock (the caller passes the time), any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/http/http_headers.h"

namespace edge {

struct SigV4Config {
    std::string access_key_id;
    std::string secret_access_key; // a secret: never logged
    std::string session_token;     // temporary credentials (STS); "" = none
    std::string region;            // e.g. "us-east-1"
    std::string service = "s3";
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved bytes as is, everything else %XX; '/' kept when
// `keep_slash` (paths), encoded otherwise (query names and values).
void sigv4_encode(std::string_view raw, bool keep_slash, std::string* out);

// The canonical URI of a request path as the edge would send it (percent-encoded in any valid way): decoded, then
// encoded with sigv4_encode. An empty path is "/".
std::string sigv4_canonical_uri(std::string_view path);

// The canonical query string: each name=value decoded ('+' is a plus, not a space) and re-encoded, sorted by name
// then value; a parameter without '=' has an empty value.
std::string sigv4_canonical_query(std::string_view query);

// "20130524T000000Z" for a Unix time.
std::string sigv4_amz_date(uint64_t unix_s);

// The hex HMAC-SHA256 signature of `string_to_sign` with the key derived from the secret, date (YYYYMMDD), region
// and service.
std::string sigv4_signature(const SigV4Config& cfg, std::string_view date, std::string_view string_to_sign);

// Hex SHA-256.
std::string sha256_hex(std::string_view data);

// What one signature covers. `headers`: the signed headers as sent (any case; values are trimmed here).
struct SigV4Input {
    std::string_view method;
    std::string_view canonical_uri;   // sigv4_canonical_uri()
    std::string_view canonical_query; // sigv4_canonical_query()
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view payload_hash; // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
    std::string_view amz_date;     // sigv4_amz_date()
};

// The Authorization header value for `in`; *canonical_request gets the canonical request when given.
std::string sigv4_authorization(const SigV4Config& cfg, const SigV4Input& in, std::string* canonical_request = nullptr);

// Signs a request about to be sent: rewrites *target (path[?query]) to its canonical form, removes viewer
// Authorization and x-amz-* headers from *headers, and adds x-amz-date, x-amz-content-sha256, x-amz-security-token
// (with a session token) and Authorization. `headers` must hold the Host header that will be sent.
// *canonical_request, when given, receives the canonical request (tests, debugging).
void sigv4_sign(const SigV4Config& cfg, uint64_t unix_s, std::string_view method, std::string_view body,
                std::string* target, shared::HttpHeaders* headers, std::string* canonical_request = nullptr);

} // namespace edge
