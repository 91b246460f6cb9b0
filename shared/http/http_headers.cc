#include "shared/http/http_headers.h"

namespace shared {

bool header_name_equals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = char(x + 32);
        if (y >= 'A' && y <= 'Z') y = char(y + 32);
        if (x != y) return false;
    }
    return true;
}

const std::string* find_header(const HttpHeaders& headers, std::string_view name) noexcept {
    for (const auto& h : headers)
        if (header_name_equals(h.name, name)) return &h.value;
    return nullptr;
}

} // namespace shared
