// The meridian-edge configuration: sites (CloudFront distributions, picked by Host), their origins and behaviors
// (CloudFront's path-pattern model), cache, limits, logging.
//
// Parsed once at start and again on SIGHUP by the main thread; the resulting EdgeConfig is immutable and may then be
// read by every worker (the server swaps a shared_ptr<const EdgeConfig> on reload). Every key is documented in
// conf/README.md ("meridian-edge"). Durations are stored in milliseconds, sizes in bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/access/trusted_key_group.h"
#include "edge/access_log/access_log.h"
#include "edge/config/http2_config.h"
#include "edge/config/redirect_rule.h"
#include "edge/config/response_headers_policy.h"
#include "edge/config/site_hosts.h"
#include "edge/config/tls_config.h"
#include "shared/config/common_config.h"
#include "shared/config/config.h"

namespace shared {
class TlsClientContext;
}

namespace edge {

struct SigV4Config;
class OriginHealth;

enum class OriginType : uint8_t { bucket, http };

// Which Host header the edge sends to an http origin.
enum class HostHeaderMode : uint8_t {
    origin,  // the origin's own host name from `address` (CloudFront's default for S3 origins)
    viewer,  // the Host the client sent
    literal, // OriginConfig::host_header_value
};

// One `[[origin]]` (or `[[site.origin]]`) table.
struct OriginConfig {
    std::string name;
    size_t site_index = 0; // index into EdgeConfig::sites: the site this origin belongs to (names are per site)
    std::string site_name; // that site's name ("" for the top-level site): keeps the connection pools of sites apart
    OriginType type = OriginType::bucket;

    // type = "bucket": the folder served with S3 static-website semantics.
    std::string path;                          // canonical absolute path (realpath), no trailing slash
    std::string index_document = "index.html"; // served for "/" and for "folders" (http origins too, when set;
                                               // their default is "")
    std::string error_document;                // served with status 404 for missing keys; "" = plain 404

    // type = "http"
    std::string address; // as written: "host:port"
    std::string host;    // host part of `address` (a name or an IP literal)
    uint16_t port = 80;
    bool tls = false;
    bool tls_verify = true;      // verify the origin's chain and name (CloudFront always does)
    std::string tls_ca_file;     // PEM bundle; "" = the system store
    std::string tls_server_name; // SNI and the name the certificate must carry; "" = host
    // Built by the parser (main thread) for every tls origin: one SSL_CTX per config load, shared by the pools of
    // all workers (TlsClientContext is thread-safe). A reload builds new ones, so a changed CA file takes effect.
    std::shared_ptr<shared::TlsClientContext> tls_context;
    HostHeaderMode host_header_mode = HostHeaderMode::origin;
    std::string host_header_value;           // only for HostHeaderMode::literal
    uint64_t connect_timeout_ms = 10'000;    // CloudFront: connection timeout 10 s
    uint64_t first_byte_timeout_ms = 30'000; // CloudFront: response timeout 30 s
    uint64_t idle_timeout_ms = 30'000;       // max silence between body bytes
    uint32_t max_idle_connections = 32;      // per worker, per origin
    // [origin.sigv4]: requests signed with AWS Signature Version 4 (edge/upstream/sigv4_signer.h); null = unsigned.
    std::shared_ptr<const SigV4Config> sigv4;
    // How long the origin is skipped after a failure that made a request fail over (edge/upstream/origin_health.h).
    uint64_t cooldown_ms = 10'000;
    // Built by the parser for every http origin and parent: its up/down state, shared by the workers (mutable
    // through a const config: the state machine is atomic). Null in hand-built test configs: never marked down.
    std::shared_ptr<OriginHealth> health;
    // A tier (`parents = [...]` instead of `address`): the parent edges, each an http origin with this one's
    // settings and its own address, health and pool; a key goes to one of them (edge/upstream/rendezvous_hash.h).
    std::vector<OriginConfig> parents;
    uint64_t parent_hash = 0; // a parent's stable_hash(address): its identity in the rendezvous ranking
};

// CloudFront's allowed-methods sets.
enum class AllowedMethods : uint8_t {
    get_head,         // GET, HEAD (others: 405 with Allow)
    get_head_options, // GET, HEAD, OPTIONS
    all,              // GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE (non-GET/HEAD are forwarded uncached)
};

// Which parts of the query string are forwarded to the origin and included in the cache key.
enum class QueryStringPolicy : uint8_t { none, all, allowlist };

// Which viewer request headers (or cookies) an http origin receives (CloudFront's origin request policies).
enum class ForwardPolicy : uint8_t { none, all, allowlist };

// One `[[behavior]]` table (or the implicit default).
struct BehaviorConfig {
    std::string path_pattern = "*"; // normalized: a leading '/' is added unless it starts with '/' or '*'
    std::string origin_name;
    size_t origin_index = 0; // index into EdgeConfig::origins
    // CloudFront's origin group: the secondary origin GET/HEAD requests fail over to (edge/upstream/origin_group.h)
    // on connection failures, timeouts and these statuses of the origin above. "" / SIZE_MAX: none.
    std::string failover_origin_name;
    size_t failover_origin_index = SIZE_MAX;
    std::vector<int> failover_status = {500, 502, 503, 504};
    size_t site_index = 0; // index into EdgeConfig::sites: the site this behavior belongs to
    bool cache = true;     // false: every request goes to the origin, nothing is stored
    AllowedMethods allowed_methods = AllowedMethods::get_head;
    uint64_t min_ttl_ms = 0;
    uint64_t default_ttl_ms = 86'400'000;   // CloudFront default TTL: 1 day
    uint64_t max_ttl_ms = 31'536'000'000;   // CloudFront default max TTL: 1 year
    uint64_t error_ttl_ms = 10'000;         // 4xx without explicit freshness (CloudFront error caching min TTL)
    double heuristic_fraction = 0;          // RFC 9111 §4.2.2 heuristic freshness from Last-Modified; 0 = off
    uint64_t heuristic_max_ms = 86'400'000; // ... at most this
    QueryStringPolicy query_string = QueryStringPolicy::none;
    std::vector<std::string> query_string_allowlist; // parameter names, sorted, for QueryStringPolicy::allowlist
    // Origin request policy (http origins): the viewer's end-to-end headers are forwarded by default, as nginx and
    // Varnish do; hop-by-hop ones never, and a shared fill never carries one viewer's conditionals, Range or
    // Accept-Encoding (origin_request.h). Names are lower-cased, sorted, unique.
    ForwardPolicy forward_headers = ForwardPolicy::all;
    std::vector<std::string> forward_headers_allowlist;
    ForwardPolicy forward_cookies = ForwardPolicy::all; // applied to the Cookie header when it is forwarded
    std::vector<std::string> forward_cookies_allowlist; // cookie names (case-sensitive, sorted, unique)
    // Cache key policy: these request headers / cookies are part of the cache key (and always forwarded), so an
    // origin may answer differently per value without a Vary header. Header names lower-cased; config order.
    std::vector<std::string> cache_key_headers;
    std::vector<std::string> cache_key_cookies;
    bool cache_set_cookie = false;    // store responses carrying Set-Cookie (and replay the cookie)
    bool serve_stale_on_error = true; // a stale object whose revalidation fails (origin unreachable, timed
                                      // out, 5xx) is served instead of the error, as CloudFront does;
                                      // never for must-revalidate / proxy-revalidate / s-maxage / no-cache
    // The same only when the origin could not be reached at all (refused, reset, timed out: RFC 9111 §4.2.4's
    // "disconnected"), not for its 5xx answers. Implied by serve_stale_on_error.
    bool serve_stale_when_disconnected = false;
    bool compress = true;    // serve gzip/br variants of compressible objects (CloudFront's
                             // "Compress objects automatically", on by default in its console)
    int brotli_quality = -1; // 0-11; the parser resolves -1 (unset) to CacheConfig's
    int gzip_level = -1;     // 1-9; likewise
    bool implicit = false;   // added by the parser (no `[[behavior]]` in the file)
    // Viewer-facing rules (edge/config/response_headers_policy.h, edge/config/redirect_rule.h): the headers policy
    // applied to every answer of this behavior (null = none), and its redirect / rewrite / protocol policy.
    std::string response_headers_policy_name;
    std::shared_ptr<const ResponseHeadersPolicy> response_headers_policy;
    ViewerRouting routing;
    // `trusted_key_groups`: requests need a valid signed URL or signed cookies (edge/access/signed_request.h).
    std::shared_ptr<const TrustedKeys> trusted_keys; // null: a public behavior
};

struct CacheConfig {
    uint64_t max_bytes = 256ull << 20;             // whole in-memory cache
    uint64_t max_object_bytes = 8ull << 20;        // larger responses stream through uncached
    uint32_t shards = 16;                          // each shard has max_bytes / shards and its own lock; the config's
                                                   // 0 (default) = up to 16, as many as keep max_bytes/shards >=
                                                   // max_object_bytes
    uint64_t collapse_timeout_ms = 10'000;         // how long a collapsed request waits for the leader's headers
    uint64_t hit_for_miss_ttl_ms = 120'000;        // an uncacheable answer makes later misses skip collapsing this long
    uint64_t hit_for_miss_max_bytes = 16ull << 20; // budget of the hit-for-miss keys (LRU beyond it)
    uint64_t collapse_max_bytes = 16ull << 20;     // budget of the fills in flight; beyond it misses are not collapsed
    int brotli_quality = 5;                        // default for behaviors (see edge/compress/compressor.h for why)
    int gzip_level = 6;
    uint64_t compress_timeout_ms = 2'000; // how long a request waits for a variant being compressed before it
                                          // takes the identity object instead
};

struct LimitsConfig {
    uint64_t max_uri_bytes = 8 << 10;            // longer request-target: 414
    uint64_t max_header_bytes = 32 << 10;        // request line + headers larger: 431
    uint64_t header_timeout_ms = 10'000;         // headers not complete in time after the first byte: 408 (slowloris)
    uint64_t handshake_timeout_ms = 10'000;      // TLS handshake not finished in time after the connection: closed
    uint64_t body_timeout_ms = 60'000;           // longest silence while a request body arrives: 408
    uint64_t send_timeout_ms = 60'000;           // queued response bytes that make no progress this long: close
    uint64_t lingering_time_ms = 30'000;         // after an answer that ends the connection, drain input at most this
    uint64_t lingering_timeout_ms = 5'000;       // ... and stop draining after this much silence
    uint64_t keepalive_timeout_ms = 60'000;      // idle keep-alive connection is closed after this
    uint32_t max_connections = 10'000;           // per worker; beyond it new connections are closed at once
    uint32_t max_connections_per_address = 1024; // whole process, per IPv4 address / IPv6 /64; 0 = no limit
    uint64_t client_buffer_bytes = 256 << 10;    // queued response bytes per client before backpressure
};

struct AccessLogConfig {
    std::string file; // "" = off; reopened on SIGUSR1
    AccessLogFormat format = AccessLogFormat::text;
};

struct HealthConfig {
    std::string path = "/_meridian/health"; // also answered on the main listeners; "" = only on admin
    uint64_t drain_delay_ms = 0;            // SIGTERM: report 503 "draining" this long before closing listeners
    uint64_t shutdown_timeout_ms = 30'000;  // then in-flight requests get this long before connections are cut
};

// One `[[error_response]]` table: CloudFront's custom error responses. When the origin (or the edge, for 502/503/504)
// answers `status`, the viewer gets `page` — fetched through the cache like any request for that path, with that
// path's behavior — with `response_status`, and/or the origin's answer is cached for `caching_min_ttl`.
struct ErrorResponseConfig {
    int status = 0;                  // 400-599
    std::string page;                // normalized absolute path; "" = the original answer's body
    int response_status = 0;         // 0 = `status`
    int64_t caching_min_ttl_ms = -1; // -1 = the behavior's error_ttl
};

// One site (CloudFront's distribution): the host names it answers for, its origins, behaviors and custom error
// responses. The top-level `[[origin]]`/`[[behavior]]`/`[[error_response]]` tables form the top-level site (name
// "", no host names), which answers every host no `[[site]]` claims; `[[site]]` tables form the others.
struct SiteConfig {
    std::string name;                      // "" for the top-level site; otherwise unique, [A-Za-z0-9_.-]{1,64}
    std::vector<std::string> hosts;        // normalized (site_hosts.h), in config order
    bool is_default = false;               // answers hosts no site claims (the top-level site, or `default = true`)
    std::vector<size_t> origins;           // indexes into EdgeConfig::origins, in config order
    std::vector<BehaviorConfig> behaviors; // never empty in a valid config; the last one matches every path
    std::vector<ErrorResponseConfig> error_responses; // at most one per status
    // What every cache key of this site starts with (cache_key.h): "" for the top-level site as loaded at start,
    // "<name> " for a named one, and "<name>#<n> " for a site that appeared in reload n (assign_site_key_prefixes):
    // a site removed and later added again never finds what its earlier self stored.
    std::string key_prefix;
    std::string display_name() const { return name.empty() ? std::string("(top-level)") : name; }
};

struct EdgeConfig {
    shared::CommonConfig common;          // workers, listen, admin.listen, log.*
    std::string server_name = "meridian"; // Via ("1.1 <server_name>"), access-log x-edge-location
    // RFC 8586: appended to CDN-Loop on every origin request; a request already naming it cdn_loop_max times is
    // answered 508 instead of being forwarded again (a tier configured in a circle).
    std::string cdn_id = "meridian"; // default: server_name
    uint32_t cdn_loop_max = 4;
    // TCP_DEFER_ACCEPT on the viewer listeners (edge/server/listener.h); made once at start.
    bool defer_accept = true;
    CacheConfig cache;
    std::vector<OriginConfig> origins; // of every site; never empty in a valid config
    std::vector<SiteConfig> sites;     // never empty in a valid config; sites[0] is the top-level one when it has
                                       // origins
    KeyGroups key_groups;              // top-level [[key_group]] tables, shared by every site
    SiteHosts site_hosts;              // host name → index into sites (with the default site, if any)
    std::string invalidation_token;    // [invalidation] token_file's content (a secret: never logged); "" = API off
    // [[response_headers_policy]] tables, shared by the behaviors of every site that name them.
    std::vector<std::shared_ptr<const ResponseHeadersPolicy>> response_headers_policies;
    LimitsConfig limits;
    AccessLogConfig access_log;
    HealthConfig health;
    TlsConfig tls;           // [tls]: the HTTPS listener
    Http2Config http2;       // [http2]: HTTP/2 for viewers
    std::string config_file; // the file this was loaded from
};

// Reads every edge key from `root` (including the common ones) and calls finish() on each table so unknown keys are
// reported. Problems go to root.diagnostics(); returns nullopt when there was any error (warnings alone are fine).
// Checks, per site: origin names unique, behavior origins exist, bucket paths are existing directories, TTL order
// min <= default <= max, a catch-all default behavior exists (added implicitly when there is no [[behavior]] at all),
// and warns about behaviors shadowed by an earlier one. Across sites: names unique, every host name valid and
// claimed by one site only, at most one default site.
std::optional<EdgeConfig> parse_edge_config(shared::ConfigSection root);

// Loads and parses `path`. Problems go to `diags`.
std::optional<EdgeConfig> load_edge_config(const std::string& path, shared::ConfigDiagnostics& diags);

// The site for a request's authority (Host, or the absolute-form target's), or nullptr when no site claims it and
// there is no default site (the answer is then 421 Misdirected Request). Allocation-free.
const SiteConfig* match_site(const EdgeConfig& config, std::string_view authority);

// Gives every site of `next` its cache key prefix (SiteConfig::key_prefix): a site `prev` also has (same name) keeps
// its prefix, so a reload keeps its cache; a new one gets "<name>#<generation> " when `generation` > 0 (a reload),
// so objects a removed site of the same name stored (even by requests still in flight) are never found.
void assign_site_key_prefixes(EdgeConfig& next, const EdgeConfig* prev, uint64_t generation);

// The custom error response of `site` for `status`, or nullptr. Allocation-free.
const ErrorResponseConfig* find_error_response(const SiteConfig& site, int status);

// The first behavior of `site` whose pattern matches `path` (the decoded, normalized request path, without query), in
// config order. A valid config always has a catch-all last behavior, so this never fails. Allocation-free.
const BehaviorConfig& match_behavior(const SiteConfig& site, std::string_view path);

// CloudFront path-pattern semantics: case-sensitive, `*` matches any run of characters (including '/' and none),
// `?` exactly one character; the whole path must match. Allocation-free, O(pattern * path) worst case.
bool path_pattern_matches(std::string_view pattern, std::string_view path);

// True when every path matched by `later` is also matched by `earlier` (sufficient test, used for the shadowing
// warning): `earlier` matched against the text of `later`, where `*` in `later` can only be covered by `*`.
bool path_pattern_covers(std::string_view earlier, std::string_view later);

std::string_view to_string(AllowedMethods m);
// True when `method` (upper-case token) is in the set.
bool method_allowed(AllowedMethods m, std::string_view method);
// The `Allow` header value for a 405 answer.
std::string_view allow_header(AllowedMethods m);

} // namespace edge
