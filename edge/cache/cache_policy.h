// Whether and how long an origin response may be stored: RFC 9111 freshness with CloudFront's min/default/max TTL
// clamp, and RFC 9111 §4.2.3 Age. Pure functions, any thread; time is always passed in (milliseconds since the Unix
// epoch for `*_ms`, seconds for HTTP header values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "edge/cache/stored_headers.h"

namespace edge {

// Cache-Control response directives that matter to a shared cache (RFC 9111 §5.2.2). Unknown directives are ignored;
// a malformed delta-seconds makes that directive count as absent, except that a malformed max-age/s-maxage reads as
// 0 (RFC 9111 §4.2.1: invalid freshness information → stale).
struct CacheControl {
    int64_t max_age = -1;  // seconds; -1 = absent
    int64_t s_maxage = -1; // seconds; -1 = absent
    bool no_store = false;
    bool no_cache = false; // unqualified no-cache: store, but revalidate before every use
    bool private_ = false; // unqualified private: a shared cache does not store the response
    // The qualified forms (RFC 9111 §5.2.2.4 no-cache="a, b", §5.2.2.7 private="a"): the response may be stored and
    // reused without revalidation, but never with the named fields (lower or mixed case, as written; views into
    // the parsed value). Where the unqualified form is present too, it wins.
    std::vector<std::string_view> no_cache_fields;
    std::vector<std::string_view> private_fields;
    bool public_ = false;
    bool must_revalidate = false;
    bool proxy_revalidate = false;
    bool must_understand = false;        // RFC 9111 §5.2.2.3: store only statuses understood; no-store then yields
    int64_t stale_while_revalidate = -1; // seconds (RFC 5861 §3); -1 = absent
    int64_t stale_if_error = -1;         // seconds (RFC 5861 §4); -1 = absent
};

// Parses one Cache-Control field value (a comma-separated list) and merges it into *cc, so repeated header lines can
// be fed one by one. Directive names are case-insensitive; quoted-string arguments are accepted.
void parse_cache_control(std::string_view value, CacheControl* cc);

// The parts of the origin response (and request) the storage decision needs. Views stay owned by the caller.
struct ResponseFacts {
    int status = 200;
    CacheControl cache_control;     // merged over every Cache-Control line, or the targeted field's (below)
    bool targeted = false;          // CDN-Cache-Control (RFC 9213) or Surrogate-Control decided: Cache-Control
                                    // and Expires are ignored
    std::string_view expires;       // "" = absent
    std::string_view date;          // "" = absent
    std::string_view age;           // "" = absent
    std::string_view last_modified; // "" = absent (heuristic freshness)
    std::string_view vary;          // merged Vary value, "" = absent
    bool has_set_cookie = false;
    bool has_validators = false; // ETag or Last-Modified present (a 0-lifetime object is kept only with them)
    bool request_had_authorization = false;
    uint64_t request_time_ms = 0;  // when the request was sent to the origin
    uint64_t response_time_ms = 0; // when the response headers arrived
};

// The behavior's TTL settings (EdgeConfig BehaviorConfig fields, copied so this header has no config dependency).
struct TtlPolicy {
    uint64_t min_ttl_ms = 0;
    uint64_t default_ttl_ms = 86'400'000;
    uint64_t max_ttl_ms = 31'536'000'000;
    uint64_t error_ttl_ms = 10'000;
    bool cache_set_cookie = false;
    // RFC 9111 §4.2.2 heuristic freshness, instead of default_ttl for a response with Last-Modified and no explicit
    // freshness: this fraction of (Date - Last-Modified), at most heuristic_max_ms. 0 = off.
    double heuristic_fraction = 0;
    uint64_t heuristic_max_ms = 86'400'000;
    // The caller stores a response that Varies on request fields as a variant of its key (vary_variant.h); without
    // it such a response is not stored (a plain key would serve one variant to every request). Vary: * never is.
    bool vary_variants = false;
    // The behavior may serve an expired copy when the origin fails (serve_stale_on_error /
    // serve_stale_when_disconnected): keep such copies even without validators (Freshness::keep_stale).
    bool keep_stale = false;
};

// Why a response is (not) stored; used for logs, metrics and tests.
enum class StoreReason : uint8_t {
    stored,
    status,        // not a storable status (5xx, 1xx, 206, 3xx without explicit freshness...)
    no_store,      // Cache-Control: no-store (min_ttl = 0)
    private_,      // Cache-Control: private (min_ttl = 0)
    set_cookie,    // Set-Cookie and the behavior does not allow caching it
    vary,          // Vary: * or a Vary on anything but Accept-Encoding (we keep one variant per key)
    authorization, // request had Authorization and the response did not allow sharing (RFC 9111 §3.5)
    zero_ttl,      // the clamped lifetime is 0 and there are no validators to revalidate with
};

struct Freshness {
    bool store = false;
    StoreReason reason = StoreReason::status;
    uint64_t lifetime_ms = 0;              // freshness lifetime after the CloudFront clamp; 0 = revalidate every use
    uint64_t corrected_initial_age_ms = 0; // RFC 9111 §4.2.3 corrected_initial_age
    // The instant the response had age 0: response_time - corrected_initial_age. Age(now) = now - age_origin.
    uint64_t age_origin_ms = 0;
    // Fresh while now < expires_at_ms (= age_origin + lifetime).
    uint64_t expires_at_ms = 0;
    bool must_revalidate = false; // must-revalidate / proxy-revalidate / no-cache: never serve stale
    // Kept once expired even without validators, as a copy to serve when the origin fails (TtlPolicy::keep_stale);
    // never with must_revalidate.
    bool keep_stale = false;
    // The response's Date (RFC 9110 §6.6.1), in Unix seconds: what the origin sent, or, when it sent none or an
    // invalid one, the time it was received (a recipient with a clock adds one). Stored with the object and sent
    // unchanged on every reuse (the Age field tells how old it is); a 304 replaces it (RFC 9111 §4.3.4).
    // 0 = unknown: the edge writes the current time.
    int64_t date_s = 0;
};

// Collects ResponseFacts from an origin response's header list: Cache-Control lines merged (replaced by
// CDN-Cache-Control, else Surrogate-Control, when the response has one, and Expires then ignored), Expires/Date/Age
// (first line of each), Set-Cookie presence (not when a qualified no-cache / private names it: it is then left
// out of what is stored), ETag/Last-Modified presence (has_validators), and Vary (the first Vary line that names
// anything but Accept-Encoding, else the first Vary line). Views point into `headers`.
// request_had_authorization stays false: set it from the request.
ResponseFacts response_facts(int status, const HeaderField* headers, size_t count, uint64_t request_time_ms,
                             uint64_t response_time_ms);

// How long past its expiry a stored response may still be served (RFC 5861), read from its stored fields (the
// targeted field when there is one, as response_facts does). 0 = not at all; must-revalidate / proxy-revalidate /
// no-cache make both 0 (RFC 9111 §4.2.4: never serve those stale).
struct StaleWindows {
    uint64_t while_revalidate_ms = 0;
    uint64_t if_error_ms = 0;
};
StaleWindows stale_windows(std::string_view stored_fields);

// RFC 9111 §4.3.4: the freshness of a stored response after the origin answered its revalidation with 304. The 304's
// Cache-Control / Expires replace the stored ones when it carries them; otherwise the stored ones (read back from
// `stored_header_block`) still apply. Date and Age come from the 304. `stored_status` is the stored response's status.
Freshness freshness_after_304(int stored_status, std::string_view stored_header_block, bool has_validators,
                              const HeaderField* headers_304, size_t count, uint64_t request_time_ms,
                              uint64_t response_time_ms, const TtlPolicy& policy);

// The fields a shared cache must not store or serve from a stored response under `cc` (its qualified no-cache and
// private directives); empty when there are none, or when an unqualified no-cache / private applies instead.
std::vector<std::string_view> omitted_fields(const CacheControl& cc);

// The facts freshness_after_304 decides on: the 304's merged over the stored response's (see there). Views point
// into `stored_header_block` and `headers_304`.
ResponseFacts facts_after_304(int stored_status, std::string_view stored_header_block, bool has_validators,
                              const HeaderField* headers_304, size_t count, uint64_t request_time_ms,
                              uint64_t response_time_ms);

// Is this status storable at all? Heuristically cacheable statuses (RFC 9110 §15.1: 200, 203, 204, 300, 301, 308,
// 404, 405, 410, 414) always; any other final status (302, 5xx, unknown ones like 299) only with explicit freshness
// (RFC 9111 §3); 206 never (whole objects only), 304 never (it updates what is stored), 1xx never.
bool status_storable(int status, bool has_explicit_freshness);
// A status code RFC 9110 defines (what must-understand asks of a cache, RFC 9111 §5.2.2.3).
bool status_understood(int status);

// The storage decision and lifetime. CloudFront's rules
// ("Managing how long content stays in the cache (expiration)"):
//  - s-maxage, else max-age, else Expires - Date: lifetime = clamp(value, min_ttl, max_ttl);
//  - none of them: lifetime = default_ttl (4xx: error_ttl);
//  - no-store / private / no-cache with min_ttl = 0: honoured as RFC 9111 says (no-store, private → not stored;
//    no-cache → stored with lifetime 0, i.e. revalidated on every request);
//    with min_ttl > 0 they are overridden and the object is stored for min_ttl.
// Set-Cookie: not stored unless policy.cache_set_cookie (regardless of min_ttl).
Freshness compute_freshness(const ResponseFacts& facts, const TtlPolicy& policy);

// RFC 9111 §4.2.3: corrected_initial_age from the Age and Date headers and the request/response times.
// date_s / age_s: -1 = absent.
uint64_t corrected_initial_age_ms(int64_t date_s, int64_t age_s, uint64_t request_time_ms, uint64_t response_time_ms);

// The Age header value (whole seconds, rounded down) for an object whose age was 0 at age_origin_ms.
uint32_t age_seconds(uint64_t age_origin_ms, uint64_t now_ms);

// Parses a delta-seconds value (RFC 9111 §1.2.2); values over 2^31 saturate to 2^31. -1 on syntax error.
int64_t parse_delta_seconds(std::string_view s);

} // namespace edge
