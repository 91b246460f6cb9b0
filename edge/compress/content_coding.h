// Which content coding a response gets: Accept-Encoding negotiation (RFC 9110 §12.5.3), the media types worth
// compressing, and the names that tie a compressed variant to its identity object in the cache.
//
// Pure functions, allocation-free (except variant_key, which reuses the caller's string), any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace edge {

enum class ContentCoding : uint8_t { identity, gzip, br };

// The coding to serve for this Accept-Encoding value. br is chosen whenever it is acceptable and `br_available`
// (CloudFront's rule when a viewer takes both), else gzip (or its alias x-gzip), else identity. q=0 excludes a
// coding; `*` covers the codings not named; names are case-insensitive; malformed members are skipped, so a garbage
// header just means identity. identity is always the fallback, even when the viewer wrote identity;q=0 (the edge
// has nothing else to offer and a 406 helps nobody).
ContentCoding negotiate_content_coding(std::string_view accept_encoding, bool br_available = true) noexcept;

// "gzip", "br", "identity".
std::string_view content_coding_name(ContentCoding c) noexcept;

// True for media types that shrink under gzip/brotli: text/*, JavaScript, JSON, XML (and +json/+xml types, SVG),
// wasm, uncompressed fonts (ttf/otf/eot). False for raster images (icons too), audio, video, woff/woff2 (already
// compressed), archives and anything unknown.
// Parameters (";charset=...") and letter case are ignored.
bool is_compressible_type(std::string_view content_type) noexcept;

// CloudFront compresses objects of 1,000 to 10,000,000 bytes: below that the saving does not pay for the header and
// the CPU, above it the wait for the first viewer grows too long.
inline constexpr uint64_t kMinCompressBytes = 1'000;
inline constexpr uint64_t kMaxCompressBytes = 10'000'000;

// The cache key of the `c` variant of the object stored under `identity_key`: the key followed by a NUL byte and the
// coding name. Request paths, hosts and queries never contain NUL (the parser and path normalization reject control
// characters), so no request's own key can equal a variant key. Writes into *out (cleared; capacity reused).
void variant_key(std::string_view identity_key, ContentCoding c, std::string* out);

} // namespace edge
