// The request Cookie header (RFC 6265 §4.2): "name=value" pairs separated by "; ". A request may carry it on
// several lines (HTTP/2 splits it, some HTTP/1.1 clients do too); they are read as one list. Pure, any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "edge/cache/stored_headers.h" // HeaderField

namespace edge {

// Calls f(name, value) for every cookie of every Cookie field in `fields`, in order; stops early when f returns
// false. Pairs without '=' are skipped (RFC 6265 §5.4 ignores them); names and values are trimmed of spaces/tabs.
template <typename F> void for_each_cookie(std::span<const HeaderField> fields, F&& f);

// The value of the first cookie named `name` (case-sensitive, as RFC 6265 compares names). False when absent.
bool find_cookie(std::span<const HeaderField> fields, std::string_view name, std::string_view* value);

// The Cookie header value made of the cookies for which keep(name) is true, "; "-separated, into *out (cleared).
template <typename Keep> void filter_cookies(std::span<const HeaderField> fields, Keep&& keep, std::string* out) {
    out->clear();
    for_each_cookie(fields, [&](std::string_view name, std::string_view value) {
        if (!keep(name)) return true;
        if (!out->empty()) out->append("; ");
        out->append(name);
        out->push_back('=');
        out->append(value);
        return true;
    });
}

bool is_cookie_field(std::string_view field_name);

template <typename F> void for_each_cookie(std::span<const HeaderField> fields, F&& f) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
            s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
            s.remove_suffix(1);
        return s;
    };
    for (const HeaderField& h : fields) {
        if (!is_cookie_field(h.name)) continue;
        std::string_view v = h.value;
        while (!v.empty()) {
            size_t semi = v.find(';');
            std::string_view pair = v.substr(0, semi);
            v = semi == std::string_view::npos ? std::string_view() : v.substr(semi + 1);
            size_t eq = pair.find('=');
            if (eq == std::string_view::npos) continue;
            std::string_view name = trim(pair.substr(0, eq));
            if (name.empty()) continue;
            if (!f(name, trim(pair.substr(eq + 1)))) return;
        }
    }
}

} // namespace edge
