#include "edge/config/site_hosts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "shared/http/http_tokens.h"

namespace edge {
namespace {

bool is_ldh(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// "[...]" → the canonical text of the IPv6 address inside, bracketed, into out (room for INET6_ADDRSTRLEN + 2).
// Returns the length, or 0.
size_t canonical_ipv6(std::string_view bracketed, char* out) {
    if (bracketed.size() < 3 || bracketed.front() != '[' || bracketed.back() != ']') return 0;
    std::string_view inner = bracketed.substr(1, bracketed.size() - 2);
    char tmp[INET6_ADDRSTRLEN];
    if (inner.size() >= sizeof tmp) return 0;
    std::memcpy(tmp, inner.data(), inner.size());
    tmp[inner.size()] = '\0';
    in6_addr a;
    if (::inet_pton(AF_INET6, tmp, &a) != 1) return 0;
    if (!::inet_ntop(AF_INET6, &a, out + 1, INET6_ADDRSTRLEN)) return 0;
    size_t n = std::strlen(out + 1);
    out[0] = '[';
    out[n + 1] = ']';
    return n + 2;
}

} // namespace

bool normalize_site_host(std::string_view in, std::string* out, std::string* err) {
    out->clear();
    if (in.empty()) {
        *err = "an empty host name";
        return false;
    }
    if (in.front() == '[') {
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n = canonical_ipv6(in, buf);
        if (n == 0) {
            *err = "\"" + std::string(in) + "\" is not an IPv6 address in brackets (and a site host has no port)";
            return false;
        }
        out->assign(buf, n);
        return true;
    }
    std::string s;
    for (char c : in)
        s.push_back(shared::ascii_lower(c));
    if (s.size() > 1 && s.back() == '.') s.pop_back();
    if (s.find(':') != std::string::npos) {
        *err = "\"" + std::string(in) + "\": no port (a site answers on every listener), and IPv6 goes in brackets";
        return false;
    }
    std::string_view name = s;
    if (name.substr(0, 2) == "*.") name.remove_prefix(2);
    if (name.size() > kMaxSiteHostBytes || name.empty()) {
        *err = "\"" + std::string(in) + "\" is not a host name (1 to 253 characters)";
        return false;
    }
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        std::string_view label = name.substr(start, dot - start);
        bool ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-' &&
                  std::all_of(label.begin(), label.end(), is_ldh);
        if (!ok) {
            *err = "\"" + std::string(in) +
                   "\" is not a host name: labels of 1-63 letters, digits, '-' or '_' (a wildcard only as a whole "
                   "first label, \"*.example.com\")";
            return false;
        }
        start = dot + 1;
    }
    *out = std::move(s);
    return true;
}

std::string_view normalize_request_host(std::string_view a, char (&buf)[kMaxSiteHostBytes + 3]) {
    if (a.empty()) return {};
    if (a.front() == '[') {
        size_t close = a.find(']');
        if (close == std::string_view::npos) return {};
        size_t n = canonical_ipv6(a.substr(0, close + 1), buf);
        return std::string_view(buf, n);
    }
    // A reg-name or IPv4 address holds no ':', so the last one starts the port.
    size_t colon = a.rfind(':');
    if (colon != std::string_view::npos) a = a.substr(0, colon);
    if (a.size() > 1 && a.back() == '.') a.remove_suffix(1);
    if (a.empty() || a.size() > kMaxSiteHostBytes) return {};
    for (size_t i = 0; i < a.size(); ++i)
        buf[i] = shared::ascii_lower(a[i]);
    return std::string_view(buf, a.size());
}

bool SiteHosts::add(std::string host, size_t site, size_t* other_site) {
    auto [it, fresh] = added_.emplace(host, site);
    if (!fresh) {
        *other_site = it->second;
        return false;
    }
    bool wild = host.size() > 2 && host[0] == '*' && host[1] == '.';
    (wild ? wildcard_ : exact_).emplace_back(wild ? host.substr(2) : std::move(host), site);
    return true;
}

void SiteHosts::seal() {
    added_ = {};
    std::sort(exact_.begin(), exact_.end());
    std::sort(wildcard_.begin(), wildcard_.end());
}

size_t SiteHosts::lookup(const std::vector<Entry>& table, std::string_view name) {
    auto it = std::lower_bound(table.begin(), table.end(), name,
                               [](const Entry& e, std::string_view n) { return std::string_view(e.first) < n; });
    return it != table.end() && it->first == name ? it->second : npos;
}

size_t SiteHosts::find_normalized(std::string_view host) const {
    if (!host.empty()) {
        size_t s = lookup(exact_, host);
        if (s != npos) return s;
        size_t dot = host.find('.');
        if (dot != std::string_view::npos && dot > 0 && !wildcard_.empty()) {
            // One label only: "a.b.example.com" looks for "*.b.example.com", never "*.example.com".
            s = lookup(wildcard_, host.substr(dot + 1));
            if (s != npos) return s;
        }
    }
    return default_;
}

size_t SiteHosts::find(std::string_view authority) const {
    if (empty()) return default_;
    char buf[kMaxSiteHostBytes + 3];
    return find_normalized(normalize_request_host(authority, buf));
}

} // namespace edge
