// The request path, decoded once and normalized: the one string used for behavior matching, the cache key and the
// bucket file, so what is cached is exactly what was read and nothing outside the bucket root is ever reachable.
// Pure, allocation-free, any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace edge {

enum class PathError : unsigned char {
    none,
    not_origin_form, // does not start with '/'
    bad_escape,      // '%' not followed by two hex digits
    encoded_slash,   // %2F / %2f: would let a "folder" boundary hide in one segment
    nul,             // %00
    control,         // other control characters (0x01-0x1f, 0x7f), raw or decoded
    backslash,       // '\' raw or %5C: Windows-style separator, never part of a key
    escapes_root,    // a ".." that climbs above "/"
    too_long,        // result does not fit the caller's buffer
};

// Every PathError maps to 400 Bad Request.
std::string_view to_string(PathError e);

struct TargetParts {
    std::string_view path;  // raw (still percent-encoded) path
    std::string_view query; // after '?', without it; "" when none
    bool has_query = false;
};
// Splits an origin-form request-target at the first '?' (a '#' fragment is cut off: clients must not send it).
TargetParts split_target(std::string_view target);

// Percent-decodes `raw_path` once and removes dot segments (RFC 3986 §5.2.4) and empty segments ("//" → "/"),
// writing the result to out[0..cap). A trailing '/' is kept ("/docs/" stays a folder request; "/a/." → "/a/",
// "/a/.." → "/"). Decoding happens before dot removal, so "%2e%2e" is "..". Double-encoded input ("%252e") decodes
// to the literal text "%2e", a plain name. Returns the length written, or 0 with *err set. cap >= raw_path.size() is
// always enough.
size_t normalize_request_path(std::string_view raw_path, char* out, size_t cap, PathError* err);

} // namespace edge
