// RFC 8941 Structured Field Values, as far as the edge reads them: whether a field value is a valid Dictionary.
// CDN-Cache-Control (RFC 9213 §2.1) is one, and a cache must ignore the whole field when it does not parse, so that a
// malformed targeted field never overrides a valid Cache-Control.
#pragma once

#include <string_view>

namespace edge {

// True when `value` (one field line, or lines joined with ",") is a syntactically valid RFC 8941 §3.2 Dictionary:
// members `key[=bare-item]` each with optional `;key[=bare-item]` parameters, separated by commas; keys lower-case;
// bare items integers, decimals, strings, tokens, byte sequences or booleans. Inner lists are accepted too.
bool sf_dictionary_valid(std::string_view value) noexcept;

} // namespace edge
