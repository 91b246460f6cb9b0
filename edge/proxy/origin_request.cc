#include "edge/proxy/origin_request.h"

#include "edge/http/cookie_header.h"
#include "edge/http/request_fields.h"
#include "shared/http/http_tokens.h"

#include <strings.h>

#include <cstring>

namespace edge {
namespace {

// Whether `name` is listed in a Connection header value (comma-separated tokens).
bool listed_in(std::string_view list, std::string_view name) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view tok = list.substr(0, comma);
        while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t'))
            tok.remove_prefix(1);
        while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t'))
            tok.remove_suffix(1);
        if (shared::ascii_iequals(tok, name)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

bool in_list(const std::vector<std::string>& names, std::string_view name) {
    for (const std::string& n : names) {
        if (shared::ascii_iequals(n, name)) return true;
    }
    return false;
}

// The viewer's own preconditions and representation choices: a shared fill asks for the whole identity object.
bool is_viewer_specific(std::string_view name) {
    for (const char* s : {"if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range",
                          "accept-encoding"}) {
        if (shared::ascii_iequals(name, s)) return true;
    }
    return false;
}

bool header_forwarded(const BehaviorConfig& b, std::string_view name) {
    if (in_list(b.cache_key_headers, name)) return true;
    switch (b.forward_headers) {
    case ForwardPolicy::all:
        return true;
    case ForwardPolicy::none:
        return false;
    case ForwardPolicy::allowlist:
        return in_list(b.forward_headers_allowlist, name);
    }
    return false;
}

bool cookie_forwarded(const BehaviorConfig& b, std::string_view name) {
    auto listed = [name](const std::vector<std::string>& v) {
        for (const std::string& n : v) {
            if (n == name) return true; // cookie names are case-sensitive
        }
        return false;
    };
    if (listed(b.cache_key_cookies)) return true;
    switch (b.forward_cookies) {
    case ForwardPolicy::all:
        return true;
    case ForwardPolicy::none:
        return false;
    case ForwardPolicy::allowlist:
        return listed(b.forward_cookies_allowlist);
    }
    return false;
}

} // namespace

void encode_path(std::string_view p, std::string* out) {
    static const char hex[] = "0123456789ABCDEF";
    out->clear();
    for (unsigned char c : p) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     std::strchr("-._~!$&'()*+,;=:@/", c) != nullptr;
        if (plain && c != 0) {
            out->push_back(static_cast<char>(c));
        } else {
            out->push_back('%');
            out->push_back(hex[c >> 4]);
            out->push_back(hex[c & 15]);
        }
    }
}

std::string origin_host_header(const OriginConfig& origin, std::string_view viewer_host) {
    switch (origin.host_header_mode) {
    case HostHeaderMode::viewer:
        if (!viewer_host.empty()) return std::string(viewer_host);
        break;
    case HostHeaderMode::literal:
        return origin.host_header_value;
    case HostHeaderMode::origin:
        break;
    }
    std::string h = origin.host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]"; // IPv6 literal
    uint16_t default_port = origin.tls ? 443 : 80;
    if (origin.port != default_port) h += ":" + std::to_string(origin.port);
    return h;
}

bool is_unforwarded_request_header(std::string_view name, std::string_view connection_value) {
    return is_never_forwarded_request_field(name) || listed_in(connection_value, name);
}

bool build_origin_headers(const HttpRequest& req, const OriginConfig& origin, const OriginHeaderOptions& opt,
                          shared::HttpHeaders* out) {
    out->clear();
    out->push_back({"Host", origin_host_header(origin, req.host)});
    std::string xff;
    std::string via;
    std::string cdn_loop;
    bool authorization = false;
    bool cookies = false;
    std::string_view connection = req.header("connection");
    for (const auto& h : req.headers) {
        // Several X-Forwarded-For / Via lines are one comma-separated list (RFC 9110 §5.3).
        if (shared::ascii_iequals(h.name, "x-forwarded-for")) {
            if (!xff.empty()) xff += ", ";
            xff.append(h.value);
        } else if (shared::ascii_iequals(h.name, "via")) {
            if (!via.empty()) via += ", ";
            via.append(h.value);
        } else if (!opt.cdn_id.empty() && shared::ascii_iequals(h.name, "cdn-loop")) {
            if (!cdn_loop.empty()) cdn_loop += ", ";
            cdn_loop.append(h.value);
        } else if (!opt.behavior || is_unforwarded_request_header(h.name, connection) ||
                   (opt.shared_fill && is_viewer_specific(h.name))) {
            continue;
        } else if (is_cookie_field(h.name)) {
            cookies = true; // one filtered Cookie line, below
        } else if (header_forwarded(*opt.behavior, h.name)) {
            if (shared::ascii_iequals(h.name, "authorization")) authorization = true;
            out->push_back({std::string(h.name), std::string(h.value)});
        }
    }
    if (cookies && !listed_in(connection, "cookie")) {
        std::string kept;
        filter_cookies(
            req.headers, [&](std::string_view name) { return cookie_forwarded(*opt.behavior, name); }, &kept);
        if (!kept.empty()) out->push_back({"Cookie", std::move(kept)});
    }
    if (!opt.client_ip.empty()) {
        if (!xff.empty()) xff += ", ";
        xff.append(opt.client_ip);
    }
    if (!xff.empty()) out->push_back({"X-Forwarded-For", std::move(xff)});
    if (!via.empty()) via += ", ";
    via.append(opt.via);
    out->push_back({"Via", std::move(via)});
    if (!opt.cdn_id.empty()) {
        if (!cdn_loop.empty()) cdn_loop += ", ";
        cdn_loop.append(opt.cdn_id);
        out->push_back({"CDN-Loop", std::move(cdn_loop)});
    }
    if (opt.shared_fill) {
        // A fill is shared by every viewer, so it never carries one viewer's conditionals; only ours.
        if (!opt.if_none_match.empty()) out->push_back({"If-None-Match", std::string(opt.if_none_match)});
        if (!opt.if_modified_since.empty()) out->push_back({"If-Modified-Since", std::string(opt.if_modified_since)});
    }
    return authorization;
}

} // namespace edge
