// Reading parameters from a URL query string (application/x-www-form-urlencoded, as curl --data-urlencode and
// browsers send it) for the admin endpoints that take their arguments there. Pure, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shared {

// The first `key=value` of `query` (without the '?') whose key is `key`, percent-decoded ('+' reads as a space).
// nullopt when absent or when the value has a bad %-escape; a key without '=' reads as "".
std::optional<std::string> query_param(std::string_view query, std::string_view key);

} // namespace shared
