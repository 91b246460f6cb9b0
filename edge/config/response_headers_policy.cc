#include "edge/config/response_headers_policy.h"

#include <algorithm>
#include <set>

#include "shared/http/http_tokens.h"

namespace edge {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = shared::ascii_lower(c);
    return out;
}

bool is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// RFC 9110 §5.5: visible characters, spaces and tabs inside; no CR, LF or NUL anywhere (they would split the head).
bool is_field_value(std::string_view v) {
    if (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t')) return false;
    return std::all_of(v.begin(), v.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u == '\t' || (u >= 0x20 && u != 0x7f);
    });
}

// Fields that frame the message or that the edge must keep right (Date/Age per RFC 9110 §6.6.1 and RFC 9111 §5.1,
// Content-Encoding/-Range describe the body bytes, Vary tells browser caches which request fields chose the
// representation — a compressed one among them): a policy may neither set nor remove them.
constexpr std::string_view kProtected[] = {"content-length",
                                           "transfer-encoding",
                                           "connection",
                                           "keep-alive",
                                           "upgrade",
                                           "te",
                                           "trailer",
                                           "proxy-connection",
                                           "date",
                                           "age",
                                           "content-encoding",
                                           "content-range",
                                           "vary"};

bool is_protected(std::string_view lname) {
    return std::find(std::begin(kProtected), std::end(kProtected), lname) != std::end(kProtected);
}

bool name_matches(std::string_view pattern, std::string_view name) {
    if (!pattern.empty() && pattern.back() == '*')
        return shared::ascii_istarts_with(name, pattern.substr(0, pattern.size() - 1));
    return shared::ascii_iequals(pattern, name);
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}

// "scheme://host[:port]" (lower-cased), "scheme://*.domain[:port]", "null" or "*"; "" when malformed.
std::string normalize_origin(std::string_view o) {
    if (o == "*" || o == "null") return std::string(o);
    size_t sep = o.find("://");
    if (sep == std::string_view::npos || sep == 0) return "";
    std::string_view scheme = o.substr(0, sep), rest = o.substr(sep + 3);
    if (!std::all_of(scheme.begin(), scheme.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                   c == '.';
        })) {
        return "";
    }
    if (rest.empty()) return "";
    std::string_view host = rest;
    if (rest.front() != '[') { // an IPv6 literal keeps its colons
        size_t colon = rest.rfind(':');
        if (colon != std::string_view::npos) {
            std::string_view port = rest.substr(colon + 1);
            if (port.empty() || port.size() > 5 ||
                !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                return "";
            }
            host = rest.substr(0, colon);
        }
    }
    if (host.empty() || host.find_first_of("/?#@ \t") != std::string_view::npos) return "";
    size_t star = host.find('*');
    if (star != std::string_view::npos &&
        (star != 0 || host.size() < 3 || host[1] != '.' || host.find('*', 1) != std::string_view::npos)) {
        return "";
    }
    return lower(o);
}

const std::vector<std::string> kMethods = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"};

} // namespace

bool ResponseHeadersPolicy::drops(std::string_view name) const {
    for (const std::string& r : remove) {
        if (name_matches(r, name)) return true;
    }
    for (const PolicyHeader& h : headers) {
        if (h.override && shared::ascii_iequals(h.lname, name)) return true;
    }
    return cors.enabled && cors.origin_override && shared::ascii_istarts_with(name, "access-control-");
}

bool cors_origin_allowed(const CorsPolicy& cors, std::string_view origin) {
    if (!cors.enabled || origin.empty()) return false;
    if (cors.any_origin) return true;
    for (const std::string& a : cors.allow_origins) {
        size_t star = a.find('*');
        if (star == std::string::npos) {
            if (a == "null" ? origin == "null" : shared::ascii_iequals(a, origin)) return true;
            continue;
        }
        // "https://*.example.com[:port]": one or more labels in place of the star.
        std::string_view prefix = std::string_view(a).substr(0, star), suffix = std::string_view(a).substr(star + 1);
        if (origin.size() <= prefix.size() + suffix.size() || !shared::ascii_istarts_with(origin, prefix) ||
            !shared::ascii_iends_with(origin, suffix)) {
            continue;
        }
        std::string_view middle = origin.substr(prefix.size(), origin.size() - prefix.size() - suffix.size());
        if (middle.find_first_of("/:@?#[] ") == std::string_view::npos && middle.front() != '.' &&
            middle.back() != '.') {
            return true;
        }
    }
    return false;
}

PreflightAnswer preflight_answer(const ResponseHeadersPolicy* policy, bool is_options, std::string_view origin,
                                 bool has_request_method, std::string_view request_method, bool options_allowed) {
    if (!policy || !policy->cors.enabled || !is_options || origin.empty() || !has_request_method) {
        return PreflightAnswer::not_preflight;
    }
    const CorsPolicy& c = policy->cors;
    if (!c.origin_override && options_allowed) return PreflightAnswer::to_origin;
    if (!cors_origin_allowed(c, origin)) return PreflightAnswer::refused;
    if (c.allow_methods == "*") return PreflightAnswer::allowed;
    for (const std::string& m : c.allow_methods_list) {
        if (m == request_method) return PreflightAnswer::allowed; // methods are case-sensitive (RFC 9110 §9.1)
    }
    return PreflightAnswer::refused;
}

std::shared_ptr<const ResponseHeadersPolicy> parse_response_headers_policy(shared::ConfigSection& sec) {
    auto p = std::make_shared<ResponseHeadersPolicy>();
    size_t errors_before = sec.diagnostics().error_count();
    p->name = sec.require_string("name");
    std::set<std::string> set_names;
    auto add = [&](std::string_view key, std::string_view name, const std::string& value, bool override) {
        std::string ln = lower(name);
        if (!set_names.insert(ln).second) {
            sec.error(key, "sets " + std::string(name) + " twice");
            return;
        }
        if (!is_field_value(value)) {
            sec.error(key, "the value of " + std::string(name) +
                               " must be visible characters without leading or trailing spaces (no CR, LF or NUL)");
            return;
        }
        p->headers.push_back(PolicyHeader{ln, std::string(name) + ": " + value + "\r\n", override});
    };

    // Browser caching, apart from the edge's own TTL (which is always computed from the origin's fields).
    bool cc_override = sec.get_bool("cache_control_override", true);
    if (auto cc = sec.opt_string("cache_control")) {
        if (cc->empty())
            sec.error("cache_control", "must not be empty (leave the key out to keep the origin's)");
        else
            add("cache_control", "Cache-Control", *cc, cc_override);
    } else if (sec.has("cache_control_override")) {
        sec.error("cache_control_override", "only used with cache_control");
    }

    // Security headers.
    bool sec_override = sec.get_bool("security_headers_override", true);
    if (sec.has("hsts_max_age")) {
        uint64_t ms = sec.get_duration_ms("hsts_max_age", 0);
        bool subdomains = sec.get_bool("hsts_include_subdomains", false);
        bool preload = sec.get_bool("hsts_preload", false);
        std::string v = "max-age=" + std::to_string(ms / 1000);
        if (subdomains) v += "; includeSubDomains";
        if (preload) v += "; preload";
        // The preload list (hstspreload.org) refuses a site without both of these.
        if (preload && (!subdomains || ms < 31'536'000'000ull)) {
            sec.warning("hsts_preload", "browsers' preload lists require hsts_include_subdomains = true and "
                                        "hsts_max_age of at least 365d");
        }
        add("hsts_max_age", "Strict-Transport-Security", v, sec_override);
    } else {
        for (const char* k : {"hsts_include_subdomains", "hsts_preload"}) {
            if (sec.has(k)) sec.error(k, "only used with hsts_max_age");
        }
    }
    if (sec.get_bool("content_type_options", false)) {
        add("content_type_options", "X-Content-Type-Options", "nosniff", sec_override);
    }
    if (sec.has("frame_options")) {
        add("frame_options", "X-Frame-Options", sec.get_enum("frame_options", "DENY", {"DENY", "SAMEORIGIN"}),
            sec_override);
    }
    if (sec.has("referrer_policy")) {
        add("referrer_policy", "Referrer-Policy",
            sec.get_enum("referrer_policy", "strict-origin-when-cross-origin",
                         {"no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
                          "same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"}),
            sec_override);
    }
    if (auto csp = sec.opt_string("content_security_policy")) {
        if (csp->empty())
            sec.error("content_security_policy", "must not be empty");
        else
            add("content_security_policy", "Content-Security-Policy", *csp, sec_override);
    }

    // Custom headers: [{ name = "...", value = "...", override = true }, ...]
    for (shared::ConfigSection& h : sec.array_of_tables("headers")) {
        std::string name = h.require_string("name");
        std::string value = h.require_string("value");
        bool override = h.get_bool("override", true);
        std::string ln = lower(name);
        if (!name.empty() && !is_token(name)) {
            h.error("name", "\"" + name + "\" is not a header name");
        } else if (is_protected(ln)) {
            h.error("name", name + " is managed by the edge and cannot be set by a policy");
        } else if (shared::ascii_istarts_with(ln, "access-control-")) {
            h.error("name", "CORS fields are set with the cors_* keys");
        } else if (!name.empty()) {
            if (!set_names.insert(ln).second) {
                h.error("name", "the policy sets " + name + " twice");
            } else if (!is_field_value(value) || value.empty()) {
                h.error("value", "must be non-empty visible characters without leading or trailing spaces");
            } else {
                p->headers.push_back(PolicyHeader{ln, name + ": " + value + "\r\n", override});
            }
        }
        h.finish();
    }
    for (const PolicyHeader& h : p->headers) {
        if (h.lname == "server") p->remove_server = true; // the policy's Server replaces the edge's own
    }

    for (const std::string& r : sec.get_string_list("remove_headers", {})) {
        std::string ln = lower(r);
        std::string_view stem = std::string_view(ln).substr(0, ln.size() - (!ln.empty() && ln.back() == '*'));
        if (stem.empty() || !is_token(stem) || stem.find('*') != std::string_view::npos) {
            sec.error("remove_headers", "\"" + r + "\" is not a header name (or a name prefix ending in '*')");
            continue;
        }
        bool protected_match = false;
        for (std::string_view n : kProtected) {
            if (name_matches(ln, n)) protected_match = true;
        }
        if (protected_match) {
            sec.error("remove_headers", "\"" + r +
                                            "\" would remove a field the edge must send (Content-Length, "
                                            "Transfer-Encoding, Connection, Date, Age, Content-Encoding, Vary...)");
            continue;
        }
        if (set_names.count(ln)) {
            sec.error("remove_headers", r + " is also set by this policy");
            continue;
        }
        if (name_matches(ln, "server")) p->remove_server = true;
        if (name_matches(ln, "via")) p->remove_via = true;
        if (name_matches(ln, "x-cache")) p->remove_x_cache = true;
        if (name_matches(ln, "cache-status")) p->remove_cache_status = true;
        p->remove.push_back(ln);
    }

    // CORS.
    CorsPolicy& c = p->cors;
    std::vector<std::string> origins = sec.get_string_list("cors_allow_origins", {});
    c.enabled = sec.has("cors_allow_origins");
    c.allow_credentials = sec.get_bool("cors_allow_credentials", false);
    std::vector<std::string> methods = sec.get_string_list("cors_allow_methods", {"GET", "HEAD"});
    std::vector<std::string> allow_headers = sec.get_string_list("cors_allow_headers", {});
    std::vector<std::string> expose = sec.get_string_list("cors_expose_headers", {});
    bool has_max_age = sec.has("cors_max_age");
    uint64_t max_age_ms = sec.get_duration_ms("cors_max_age", 0);
    c.origin_override = sec.get_bool("cors_origin_override", true);
    if (!c.enabled) {
        for (const char* k : {"cors_allow_credentials", "cors_allow_methods", "cors_allow_headers",
                              "cors_expose_headers", "cors_max_age", "cors_origin_override"}) {
            if (sec.has(k)) sec.error(k, "only used with cors_allow_origins");
        }
    } else {
        if (origins.empty()) sec.error("cors_allow_origins", "lists no origin (use \"*\" for any)");
        for (const std::string& o : origins) {
            std::string n = normalize_origin(o);
            if (n.empty()) {
                sec.error("cors_allow_origins", "\"" + o +
                                                    "\" is not an origin like \"https://app.example.com\", "
                                                    "\"https://*.example.com\", \"null\" or \"*\"");
            } else if (n == "*") {
                c.any_origin = true;
            } else {
                c.allow_origins.push_back(n);
            }
        }
        if (c.any_origin && c.allow_credentials) {
            sec.error("cors_allow_origins", "\"*\" cannot be used with cors_allow_credentials = true (browsers refuse "
                                            "credentialed responses to any origin): list the origins");
        }
        for (const std::string& m : methods) {
            if (m == "ALL" || m == "*") {
                if (m == "*" && c.allow_credentials) {
                    sec.error("cors_allow_methods", "\"*\" is a literal method name to browsers with credentials: "
                                                    "use \"ALL\"");
                }
                c.allow_methods_list = kMethods;
                if (m == "*") c.allow_methods = "*";
            } else if (std::find(kMethods.begin(), kMethods.end(), m) != kMethods.end()) {
                if (std::find(c.allow_methods_list.begin(), c.allow_methods_list.end(), m) ==
                    c.allow_methods_list.end()) {
                    c.allow_methods_list.push_back(m);
                }
            } else {
                sec.error("cors_allow_methods", "\"" + m +
                                                    "\" is not one of GET, HEAD, OPTIONS, PUT, PATCH, POST, "
                                                    "DELETE, ALL");
            }
        }
        if (c.allow_methods.empty()) c.allow_methods = join(c.allow_methods_list);
        for (const std::string& h : allow_headers) {
            if (h == "*") {
                c.any_header = true;
            } else if (!is_token(h)) {
                sec.error("cors_allow_headers", "\"" + h + "\" is not a header name");
            }
        }
        c.allow_headers = c.any_header ? "*" : join(allow_headers);
        for (const std::string& h : expose) {
            if (!is_token(h) || (h == "*" && c.allow_credentials)) {
                sec.error("cors_expose_headers", "\"" + h + "\" is not a header name" +
                                                     (h == "*" ? " (\"*\" is literal with credentials)" : ""));
            }
        }
        c.expose_headers = join(expose);
        if (has_max_age) c.max_age_s = static_cast<int64_t>(max_age_ms / 1000);

        if (c.allow_credentials) p->cors_lines += "Access-Control-Allow-Credentials: true\r\n";
        if (!c.expose_headers.empty()) p->cors_lines += "Access-Control-Expose-Headers: " + c.expose_headers + "\r\n";
        p->preflight_lines = "Access-Control-Allow-Methods: " + c.allow_methods + "\r\n";
        if (c.allow_credentials) p->preflight_lines += "Access-Control-Allow-Credentials: true\r\n";
        if (c.max_age_s >= 0) p->preflight_lines += "Access-Control-Max-Age: " + std::to_string(c.max_age_s) + "\r\n";
    }
    sec.finish();
    if (sec.diagnostics().error_count() > errors_before) return nullptr;
    return p;
}

std::vector<std::shared_ptr<const ResponseHeadersPolicy>> parse_response_headers_policies(shared::ConfigSection& root) {
    std::vector<std::shared_ptr<const ResponseHeadersPolicy>> out;
    std::set<std::string> names;
    for (shared::ConfigSection& sec : root.array_of_tables("response_headers_policy")) {
        auto p = parse_response_headers_policy(sec);
        if (!p) continue;
        if (!names.insert(p->name).second) {
            sec.error("name", "duplicate response headers policy name \"" + p->name + "\"");
            continue;
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::shared_ptr<const ResponseHeadersPolicy>
find_response_headers_policy(shared::ConfigSection& sec,
                             const std::vector<std::shared_ptr<const ResponseHeadersPolicy>>& policies,
                             std::string_view name) {
    if (name.empty()) return nullptr;
    for (const auto& p : policies) {
        if (p->name == name) return p;
    }
    sec.error("response_headers_policy", "no [[response_headers_policy]] named \"" + std::string(name) + "\"");
    return nullptr;
}

} // namespace edge
