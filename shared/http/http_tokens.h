// The small pieces of HTTP field syntax every parser here needs (RFC 9110 §5.5-5.6): ASCII case-insensitive
// comparison (field names, tokens, directives), optional whitespace, comma-separated lists. One copy, inline and
// allocation-free: they run on the request and cache-hit paths.
#pragma once

#include <string_view>

namespace shared {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

constexpr bool ascii_istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && ascii_iequals(s.substr(0, prefix.size()), prefix);
}

constexpr bool ascii_iends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && ascii_iequals(s.substr(s.size() - suffix.size()), suffix);
}

// OWS = *( SP / HTAB ), RFC 9110 §5.6.3.
constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

// Calls f(item) for each non-empty, OWS-trimmed element of a comma-separated list (RFC 9110 §5.6.1), honouring
// quoted strings: a comma inside quotes does not split.
template <typename F> void for_each_list_item(std::string_view v, F&& f) {
    size_t start = 0;
    bool quoted = false;
    for (size_t i = 0; i <= v.size(); ++i) {
        if (i < v.size()) {
            char c = v[i];
            if (quoted && c == '\\') {
                ++i;
                continue;
            }
            if (c == '"') quoted = !quoted;
            if (c != ',' || quoted) continue;
        }
        std::string_view item = trim_ows(v.substr(start, i - start));
        if (!item.empty()) f(item);
        start = i + 1;
    }
}

} // namespace shared
