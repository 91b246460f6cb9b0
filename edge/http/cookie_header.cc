#include "edge/http/cookie_header.h"

#include "shared/http/http_tokens.h"

namespace edge {

bool is_cookie_field(std::string_view field_name) {
    return shared::ascii_iequals(field_name, "cookie");
}

bool find_cookie(std::span<const HeaderField> fields, std::string_view name, std::string_view* value) {
    bool found = false;
    for_each_cookie(fields, [&](std::string_view n, std::string_view v) {
        if (n != name) return true;
        *value = v;
        found = true;
        return false;
    });
    return found;
}

} // namespace edge
