// How a compressed variant differs from its identity object in the cache: which stored objects qualify, the variant's
// header block (Content-Encoding, merged Vary, weak ETag, no Accept-Ranges), and the tie that keeps a variant from
// outliving the identity object it was made from.
//
// A variant is stored with the identity's expiry instant and validators. It is served only while the identity object
// in the cache is fresh and has that same expiry and the same validators: a replaced identity (new fill) has a new
// expiry, so its old variants are ignored (and dropped), and a revalidated one (RefreshHit, same validators) has its
// variants refreshed in the same step (see ProxySession). Pure, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edge/cache/cached_object.h"
#include "edge/cache/stored_headers.h"
#include "edge/compress/content_coding.h"

namespace edge {

// The value of the first `name` line of a stored header block (see stored_headers.h); "" when absent.
std::string_view block_header(std::string_view block, std::string_view name, bool* found = nullptr) noexcept;

// Status 200, compressible Content-Type, no Content-Encoding (other than identity), no Cache-Control: no-transform:
// the object's headers allow a compressed variant. Allocation-free.
bool variant_eligible_headers(int status, std::string_view header_block) noexcept;
// variant_eligible_headers + a complete body of kMinCompressBytes..kMaxCompressBytes.
bool variant_eligible(const CachedObject& identity) noexcept;

// For an origin response about to be stored: true when it may get variants (status 200, compressible type, no
// Content-Encoding) and carries no Vary line yet, so the stored identity should say "Vary: Accept-Encoding" and
// shared caches behind the edge keep the two shapes apart.
bool identity_needs_vary(int status, const HeaderField* fields, size_t count) noexcept;

// The header block of the `c` variant of an identity block: the same lines, plus Content-Encoding, with
// Accept-Encoding merged into Vary, the ETag made weak (W/ + the strong tag, as nginx's gzip filter does; a weak
// tag stays as it is), and Accept-Ranges and Content-MD5 dropped (ranges are answered from the identity object).
std::string variant_header_block(std::string_view identity_block, ContentCoding c, ValidatorSpans* validators);

// The block of a "no variant" marker for `identity_block`: the validators only. A marker is stored under the variant
// key (status 0, empty body) when the compressed body was not smaller, so later requests serve identity without
// compressing again (hit-for-miss); it is tied to the identity like a variant.
std::string marker_header_block(std::string_view identity_block, ValidatorSpans* validators);
inline bool is_variant_marker(const CachedObject& o) noexcept {
    return o.status() == 0;
}

// The variant (or marker) was made from this identity object (or one with the same expiry and validators).
bool variant_tied(const CachedObject& variant, const CachedObject& identity) noexcept;
// The same, against the expiry `identity_expires_at_ms` the identity had (before a revalidation refreshed it).
bool variant_tied(const CachedObject& variant, const CachedObject& identity, uint64_t identity_expires_at_ms) noexcept;

} // namespace edge
