// What an invalidation (CloudFront's CreateInvalidation) covers, read from the admin API's JSON body, and whether a
// stored object is covered. Pure, any thread.
//
// Body: {"site": "blog", "host": "www.example.com", "paths": ["/index.html", "/assets/*"], "tags": ["release-42"],
// "mode": "soft"} — site optional (every site; "" names the top-level one), host optional (every host), at least one
// path or tag; a path is absolute, `*` only at its end (CloudFront's
// rule: a prefix), and covers every query string, cache key field and compressed variant of that path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cached_object.h"

namespace edge {

struct InvalidationRequest {
    std::string host;                         // lower-cased; "" = every host
    bool has_site = false;                    // false: every site
    std::string site;                         // the site's name ("" = the top-level site) when has_site
    std::vector<std::string> paths;           // as given (for the report)
    std::vector<std::string> exact;           // the paths as cache keys write them
    std::vector<std::string> prefixes;        // likewise, for "…*" paths (without the star)
    std::vector<std::string> tags;            // Surrogate-Key / Cache-Tag values
    bool soft = false;                        // mark stale instead of removing
    static constexpr size_t kMaxPaths = 3000; // CloudFront's limit per invalidation
};

// False with a message for a 400 answer.
bool parse_invalidation_request(std::string_view json, InvalidationRequest* out, std::string* err);

// Whether the invalidation covers `obj`: its key's site, host and path, or (on its site and host) one of its tags.
bool invalidation_covers(const InvalidationRequest& r, const CachedObject& obj);

} // namespace edge
