// Range requests answered from a stored object (RFC 9110 §14): one byte range → 206, an unsatisfiable one → 416,
// anything else (other units, bad syntax, several ranges) → the whole object with 200, which §14.2 allows.
// Pure and allocation-free (used on the hit path), any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace edge {

enum class RangeOutcome : uint8_t {
    full,          // ignore the Range header: 200 with the whole representation
    partial,       // 206 with bytes [first, last]
    unsatisfiable, // 416 with "Content-Range: bytes */size"
};

struct ByteRange {
    uint64_t first = 0; // inclusive
    uint64_t last = 0;  // inclusive
    uint64_t length() const { return last - first + 1; }
};

// Evaluates a Range field value against a representation of `size` bytes: "bytes=a-b" (b clamped to size-1),
// "bytes=a-", "bytes=-n" (the last n bytes). *out is set for RangeOutcome::partial only.
RangeOutcome evaluate_range(std::string_view range, uint64_t size, ByteRange* out);

// RFC 9110 §13.1.5 If-Range: true when the stored representation still is the one the client has, so the Range
// applies. An entity tag must match the stored ETag by strong comparison (a weak tag on either side never
// matches); an HTTP-date must equal the stored Last-Modified exactly.
bool if_range_matches(std::string_view if_range, std::string_view etag, std::string_view last_modified);

} // namespace edge
