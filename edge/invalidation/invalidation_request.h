// What an invalidation (CloudFront's CreateInvalidation) covers, read from the admin API's JSON body, and whether a
// stored object is covered. Pure, any thread.
//
// Body: {"host": "www.example.com", "paths": ["/index.html", "/assets/*"], "tags": ["release-42"], "mode": "soft"}
// — host optional (every host), at least one path or tag; a path is absolute, `*` only at its end (CloudFront's
// rule: a prefix), and covers every query string, cache key field and compressed variant of that path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cached_object.h"

namespace edge {

struct InvalidationRequest {
    std::string host;                         // lower-cased; "" = every host
    std::vector<std::string> paths;           // as given (for the report)
    std::vector<std::string> exact;           // the paths as cache keys write them
    std::vector<std::string> prefixes;        // likewise, for "…*" paths (without the star)
    std::vector<std::string> tags;            // Surrogate-Key / Cache-Tag values
    bool soft = false;                        // mark stale instead of removing
    static constexpr size_t kMaxPaths = 3000; // CloudFront's limit per invalidation
};

// False with a message for a 400 answer.
bool parse_invalidation_request(std::string_view json, InvalidationRequest* out, std::string* err);

// Whether the invalidation covers `obj`: its key's host and path, or one of its tags.
bool invalidation_covers(const InvalidationRequest& r, const CachedObject& obj);

} // namespace edge
