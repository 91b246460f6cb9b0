#include "edge/config/redirect_rule.h"

#include <algorithm>

namespace edge {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool is_unreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

bool is_sub_delim(char c) {
    return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void put_escaped(char c, std::string* out) {
    auto u = static_cast<unsigned char>(c);
    out->push_back('%');
    out->push_back(kHex[u >> 4]);
    out->push_back(kHex[u & 15]);
}

// RFC 3986 §3.3: a decoded path back to URI form (pchar and '/'); '%', '?', '#', spaces, controls and non-ASCII bytes
// are escaped.
void append_path(std::string_view path, std::string* out) {
    for (char c : path) {
        if (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/')
            out->push_back(c);
        else
            put_escaped(c, out);
    }
}

// RFC 3986 §3.4: the raw query as the viewer sent it, with bytes a query cannot hold escaped (valid escapes kept).
void append_query(std::string_view q, std::string* out) {
    for (size_t i = 0; i < q.size(); ++i) {
        char c = q[i];
        if (c == '%' && i + 2 < q.size() && is_hex(q[i + 1]) && is_hex(q[i + 2])) {
            out->push_back(c);
        } else if (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/' || c == '?') {
            out->push_back(c);
        } else {
            put_escaped(c, out);
        }
    }
}

// Literal text of a template: URI characters only (no spaces, controls, quotes or non-ASCII bytes to escape).
bool literal_ok(char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && std::string_view("\"<>\\^`{|}").find(c) == std::string_view::npos;
}

// Checks a template: every '$' starts $$ or one of `vars`. Returns "" or what is wrong.
std::string check_template(std::string_view t, std::initializer_list<std::string_view> vars) {
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '$') {
            if (i + 1 < t.size() && t[i + 1] == '$') {
                ++i;
                continue;
            }
            bool known = false;
            for (std::string_view v : vars) {
                if (t.substr(i + 1, v.size()) == v) {
                    i += v.size();
                    known = true;
                    break;
                }
            }
            if (!known) {
                std::string list;
                for (std::string_view v : vars)
                    list += (list.empty() ? "$" : ", $") + std::string(v);
                return "unknown variable at \"" + std::string(t.substr(i, 8)) + "\" (known: " + list + ", $$)";
            }
        } else if (!literal_ok(t[i])) {
            return "contains a character that must be percent-encoded (space, quote, control or non-ASCII)";
        }
    }
    return "";
}

} // namespace

ViewerRouting parse_viewer_routing(shared::ConfigSection& sec) {
    ViewerRouting r;
    std::string vpp =
        sec.get_enum("viewer_protocol_policy", "allow-all", {"allow-all", "redirect-to-https", "https-only"});
    r.protocol = vpp == "redirect-to-https" ? ViewerProtocolPolicy::redirect_to_https
                 : vpp == "https-only"      ? ViewerProtocolPolicy::https_only
                                            : ViewerProtocolPolicy::allow_all;
    r.redirect.target = sec.get_string("redirect", "");
    r.redirect.status = static_cast<int>(sec.get_int("redirect_status", 301, 300, 399));
    if (sec.has("redirect")) {
        const std::string& t = r.redirect.target;
        std::string why = check_template(t, {"host", "path", "query"});
        bool absolute = t.rfind("https://", 0) == 0 || t.rfind("http://", 0) == 0 || t.rfind("$host", 0) == 0;
        if (t.empty()) {
            sec.error("redirect", "must not be empty (leave the key out for no redirect)");
        } else if (!why.empty()) {
            sec.error("redirect", "\"" + t + "\": " + why);
        } else if (!absolute && t[0] != '/' && t.rfind("$path", 0) != 0) {
            sec.error("redirect", "\"" + t +
                                      "\" must be an absolute URL (https://example.com$path$query) or an "
                                      "absolute path (/new$path)");
        } else if (t.rfind("//", 0) == 0) {
            sec.error("redirect", "\"" + t + "\": a scheme-relative target; write https:// or http://");
        }
    }
    if (sec.has("redirect_status")) {
        int s = r.redirect.status;
        if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) {
            sec.error("redirect_status", "must be 301, 302, 303, 307 or 308");
        }
        if (!sec.has("redirect")) sec.error("redirect_status", "only used with redirect");
    }
    r.rewrite.target = sec.get_string("rewrite_path", "");
    std::string when = sec.get_enum("rewrite_when", "always", {"always", "no_extension"});
    r.rewrite.when = when == "no_extension" ? RewriteWhen::no_extension : RewriteWhen::always;
    if (sec.has("rewrite_path")) {
        const std::string& t = r.rewrite.target;
        std::string why = check_template(t, {"path"});
        if (t.empty() || (t[0] != '/' && t.rfind("$path", 0) != 0)) {
            sec.error("rewrite_path", "\"" + t + "\" must start with '/' or $path");
        } else if (!why.empty()) {
            sec.error("rewrite_path", "\"" + t + "\": " + why);
        } else if (t.find_first_of("?#%") != std::string::npos) {
            sec.error("rewrite_path", "\"" + t + "\": a path only (no query, fragment or percent-escapes)");
        } else if (("/" + t + "/").find("/../") != std::string::npos ||
                   ("/" + t + "/").find("/./") != std::string::npos) {
            sec.error("rewrite_path", "\"" + t + "\": no dot segments");
        }
        if (sec.has("redirect")) sec.error("rewrite_path", "a behavior either redirects or rewrites, not both");
    } else if (sec.has("rewrite_when")) {
        sec.error("rewrite_when", "only used with rewrite_path");
    }
    return r;
}

bool host_is_safe(std::string_view host) {
    if (host.empty()) return false;
    return std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_' || c == ':' || c == '[' || c == ']';
    });
}

std::string_view host_without_port(std::string_view host) {
    size_t colon = host.rfind(':');
    if (colon == std::string_view::npos) return host;
    size_t bracket = host.rfind(']');
    if (bracket != std::string_view::npos && bracket > colon) return host; // "[::1]" without a port
    return host.substr(0, colon);
}

void expand_redirect(std::string_view target, std::string_view host, std::string_view path, std::string_view query,
                     std::string* out) {
    out->clear();
    for (size_t i = 0; i < target.size(); ++i) {
        char c = target[i];
        if (c != '$') {
            out->push_back(c);
            continue;
        }
        std::string_view rest = target.substr(i + 1);
        if (rest.substr(0, 1) == "$") {
            out->push_back('$');
            i += 1;
        } else if (rest.substr(0, 4) == "host") {
            out->append(host);
            i += 4;
        } else if (rest.substr(0, 4) == "path") {
            append_path(path, out);
            i += 4;
        } else if (rest.substr(0, 5) == "query") {
            if (!query.empty()) {
                out->push_back('?');
                append_query(query, out);
            }
            i += 5;
        } else {
            out->push_back('$'); // refused at load; kept literal if a hand-built rule has one
        }
    }
}

bool apply_rewrite(const RewriteRule& rule, std::string_view path, std::string* out) {
    if (rule.target.empty()) return false;
    if (rule.when == RewriteWhen::no_extension) {
        std::string_view last = path.substr(path.rfind('/') + 1);
        if (last.find('.') != std::string_view::npos) return false;
    }
    out->clear();
    auto put = [&](char c) {
        if (c == '/' && !out->empty() && out->back() == '/') return; // "$path/index.html" for "/docs/"
        out->push_back(c);
    };
    std::string_view t = rule.target;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '$' && t.substr(i + 1, 1) == "$") {
            put('$');
            ++i;
        } else if (t[i] == '$' && t.substr(i + 1, 4) == "path") {
            for (char c : path)
                put(c);
            i += 4;
        } else {
            put(t[i]);
        }
    }
    return true;
}

} // namespace edge
