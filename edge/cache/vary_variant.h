// Responses that Vary on request fields (RFC 9111 §4.1), stored one object per variant, as Varnish and nginx do.
//
// A response whose Vary names request fields (other than Accept-Encoding, which the compression variants handle) is
// stored under its request's key plus a variant suffix — "\nv<generation>" then, for each field the Vary names,
// "\n<name>:<value>" ("\n<name>!" when the request lacks it) — and a vary marker is stored under the plain key: an
// object that is never served, holding the Vary field list and the generation. A lookup that finds a marker appends
// the suffix the request's own fields give and looks again, so a request is only ever served the variant its fields
// select (a request without a field the stored one had is a different variant, RFC 9111 §4.1).
//
// The generation ties variants to their marker: when the marker goes (an unsafe request to the URI erases the plain
// key, eviction), the next response makes a new marker with a new generation, and the old variants, never reachable
// again, age out of the LRU. An invalidation by path (the API) matches variants directly: their keys start with the
// plain key. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "edge/cache/cached_object.h"
#include "edge/cache/ref.h"
#include "edge/cache/stored_headers.h"

namespace edge {

inline constexpr int kVaryMarkerStatus = 1; // never an HTTP status: a marker is not an answer
inline constexpr size_t kMaxVaryFields = 8;
// A marker stays fresh this long (it is also used when stale: it only says how variants are keyed).
inline constexpr uint64_t kVaryMarkerLifetimeMs = 86'400'000;

// The request fields a response varies on (every Vary line of `headers`), lower-cased and comma-joined into *out, in
// the order the response names them, without Accept-Encoding. Returns false when the response cannot be stored as a
// variant: Vary: * (RFC 9111 §4.1: never reused), a name that is not a token, more than kMaxVaryFields names.
bool vary_request_fields(const HeaderField* headers, size_t count, std::string* out);

// Appends the variant suffix of a request for `fields` (from vary_request_fields) under `generation` to *key.
// Allocation-free once *key has grown to its working size.
void append_vary_suffix(std::span<const HeaderField> request, std::string_view fields, uint64_t generation,
                        std::string* key);

// The marker for the plain key `key`: complete, empty, fresh for `lifetime_ms` from `now_ms`.
Ref<CachedObject> make_vary_marker(std::string_view key, std::string_view fields, uint64_t generation, uint64_t now_ms,
                                   uint64_t lifetime_ms);
inline bool is_vary_marker(const CachedObject& o) noexcept {
    return o.status() == kVaryMarkerStatus;
}
// What a marker holds (false when `o` is not one).
bool read_vary_marker(const CachedObject& o, std::string_view* fields, uint64_t* generation) noexcept;

// A new generation (random: distinct across markers, restarts and workers).
uint64_t new_vary_generation() noexcept;

} // namespace edge
