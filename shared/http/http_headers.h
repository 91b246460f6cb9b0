// Header lists as the HTTP client sends and receives them: ordered (name, value) pairs, names as received.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shared {

struct HttpHeader {
    std::string name;
    std::string value;
};

using HttpHeaders = std::vector<HttpHeader>;

// ASCII case-insensitive comparison for header names (RFC 9110 §5.1).
bool header_name_equals(std::string_view a, std::string_view b) noexcept;

// The value of the first header named `name` (case-insensitive), or nullptr.
const std::string* find_header(const HttpHeaders& headers, std::string_view name) noexcept;

} // namespace shared
