// HTTP-date parsing and formatting (RFC 9110 §5.6.7). Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge {

// IMF-fixdate is always exactly this long: "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr size_t kHttpDateLen = 29;

// Parses IMF-fixdate, and the obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime
// ("Sun Nov  6 08:49:37 1994") forms that recipients must accept. Returns seconds since the Unix epoch, or nullopt
// for anything else (including out-of-range fields). RFC 850 two-digit years >= 70 are 19xx, else 20xx.
std::optional<int64_t> parse_http_date(std::string_view s);

// Writes the IMF-fixdate for `unix_seconds` into out[0..29) (no NUL). Allocation-free.
void format_http_date(int64_t unix_seconds, char* out);
std::string format_http_date(int64_t unix_seconds);

} // namespace edge
