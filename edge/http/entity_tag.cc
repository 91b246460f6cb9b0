#include "edge/http/entity_tag.h"

#include "shared/http/http_tokens.h"

namespace edge {

namespace {
std::string_view opaque_tag(std::string_view t) {
    t = shared::trim_ows(t);
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
}
} // namespace

bool if_none_match_hits(std::string_view field, std::string_view etag) {
    if (shared::trim_ows(field) == "*") return true;
    if (etag.empty()) return false;
    std::string_view mine = opaque_tag(etag);
    while (true) {
        size_t comma = field.find(',');
        std::string_view tok = opaque_tag(field.substr(0, comma));
        if (!tok.empty() && tok == mine) return true;
        if (comma == std::string_view::npos) return false;
        field.remove_prefix(comma + 1);
    }
}

} // namespace edge
