// Entity-tag comparisons (RFC 9110 §8.8.3.2) shared by every place that answers a conditional request: cache hits
// (edge/proxy) and bucket origins (edge/origin). Pure and allocation-free (used on the hit path), any thread.
#pragma once

#include <string_view>

namespace edge {

// RFC 9110 §13.1.2 If-None-Match: true when `field` is "*" (the representation exists) or lists an entity tag that
// matches `etag` by weak comparison (W/ prefixes ignored). An empty `etag` matches only "*".
bool if_none_match_hits(std::string_view field, std::string_view etag);

} // namespace edge
