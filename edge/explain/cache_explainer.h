// What the edge holds for a URL: GET /_meridian/cache?url=...&host=... on the admin listener, the edge's counterpart
// of meridian-dns's /_meridian/explain. The key is derived as a viewer's GET would derive it (site by host, path
// normalization, behavior match, rewrite, index document, query string policy, cache key fields for a request that
// carries none of them), then the cache is only peeked at: no LRU move, no erase of an expired object, no counter,
// so asking changes nothing it reports. Every other object stored for the URL is listed as a variant: Vary variants
// (vary_variant.h), compressed ones (content_coding.h), and the entries of other cache key header or cookie values.
//
// Thread: any (the cache locks its shards; the config must stay alive during the call). The admin listener calls it
// on the main loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cached_object.h"
#include "edge/cache/object_cache.h"
#include "edge/config/edge_config.h"
#include "shared/http/admin_server.h"

namespace edge {

struct CacheQuery {
    std::string host;   // the Host a viewer would send
    std::string target; // origin-form request target: path with its query, still percent-encoded
};

// From the endpoint's parameters: `url` is an origin-form target ("/a/b?x=1") or an absolute http(s) URL, whose
// authority is the host when `host` is empty. False with *err when there is no host or the target is not a path.
bool parse_cache_query(std::string_view url, std::string_view host, CacheQuery* out, std::string* err);

struct CachedObjectReport {
    std::string key;
    // "object", "vary-marker" (the entry that says which request fields select a variant), "variant" (a Vary
    // variant, or another value of a cache key field), "gzip" / "br" (compressed copies), "no-variant-marker" (the
    // compressed copy was not smaller: identity is served).
    std::string kind;
    std::vector<std::string> selects; // a variant's request fields, "name:value" or "name!" (absent), from its key
    int status = 0;
    std::string content_type;
    uint64_t size = 0; // body bytes stored so far
    bool complete = false;
    uint64_t charged_bytes = 0;   // what it counts against the cache budget (key, headers, body, bookkeeping)
    uint64_t age_s = 0;           // the Age a hit would send now
    uint64_t lifetime_s = 0;      // freshness lifetime (after the behavior's TTL clamp)
    int64_t freshness_left_s = 0; // negative: stale for that long
    bool fresh = false;
    bool must_revalidate = false;
    uint64_t stale_while_revalidate_s = 0; // RFC 5861 windows from its Cache-Control; 0 = none
    uint64_t stale_if_error_s = 0;
    std::string etag, last_modified;
    std::vector<std::string> tags; // Surrogate-Key / Cache-Tag
};

// The report of one stored object at `now_ms`. Pure.
CachedObjectReport report_cached_object(const CachedObject& o, uint64_t now_ms);

struct CacheExplanation {
    CacheQuery query;
    std::string site;     // its display name
    std::string behavior; // the path pattern of the behavior matched
    std::string path;     // normalized, after any rewrite and index document
    bool cacheable = false;
    std::string reason; // why not, when !cacheable
    std::string key;    // the key a GET without cache key fields uses
    bool cached = false;
    std::optional<CachedObjectReport> object; // what is stored under `key` (an object or a vary marker)
    std::vector<std::string> vary;            // the request fields the URL's answers vary on (from the marker)
    std::vector<CachedObjectReport> variants; // the other objects stored for the URL, by key
    bool variants_truncated = false;          // more than kMaxVariants
    static constexpr size_t kMaxVariants = 100;
};

CacheExplanation explain_cache(const EdgeConfig& cfg, const ObjectCache& cache, const CacheQuery& q, uint64_t now_ms);

// One JSON object; keys are written with JSON escapes (they hold '\n' and NUL separators).
std::string cache_explanation_json(const CacheExplanation& e);
// For people: one "name: value" line per fact, keys with \n and \0 spelled out.
std::string cache_explanation_text(const CacheExplanation& e);

// The admin endpoint: true when `req` is for /_meridian/cache (then *out is the answer). 200 with the report when
// something is cached for the URL, 404 with the same report ("cached": false) when not, 400 with a usage line for
// a missing or bad parameter, 405 for methods other than GET and HEAD, 503 before the cache exists (cache null).
// JSON unless format=text.
bool answer_cache_request(const shared::AdminRequest& req, const EdgeConfig& cfg, const ObjectCache* cache,
                          uint64_t now_ms, shared::AdminResponse* out);

} // namespace edge
