#include "edge/http/cdn_loop.h"

#include "shared/http/http_tokens.h"

namespace edge {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace

size_t cdn_loop_count(std::string_view v, std::string_view cdn_id) noexcept {
    size_t n = 0;
    while (true) {
        size_t comma = v.find(',');
        std::string_view entry = v.substr(0, comma);
        entry = trim(entry.substr(0, entry.find(';')));
        if (!entry.empty() && shared::ascii_iequals(entry, cdn_id)) ++n;
        if (comma == std::string_view::npos) return n;
        v.remove_prefix(comma + 1);
    }
}

size_t cdn_loop_count(const HttpRequest& req, std::string_view cdn_id) noexcept {
    size_t n = 0;
    for (const HeaderField& h : req.headers) {
        if (shared::ascii_iequals(h.name, "cdn-loop")) n += cdn_loop_count(h.value, cdn_id);
    }
    return n;
}

} // namespace edge
