#include "edge/invalidation/invalidation_request.h"

#include "edge/cache/cache_key.h"
#include "edge/cache/cache_tags.h"
#include "edge/origin/request_path.h"
#include "shared/http/http_tokens.h"
#include "shared/json/json_value.h"

namespace edge {
namespace {

// The path as build_cache_key writes it (decoded and normalized, '%' and '?' escaped), or false.
bool key_path(std::string_view path, std::string* out) {
    std::string norm(path.size() + 1, '\0');
    PathError err = PathError::none;
    size_t n = normalize_request_path(path, norm.data(), norm.size(), &err);
    if (n == 0) return false;
    norm.resize(n);
    // A trailing '/' survives normalization only as written; "/assets/*" keeps its folder slash.
    if (path.size() > 1 && path.back() == '/' && norm.back() != '/') norm.push_back('/');
    return build_cache_key("", norm, "", QueryStringPolicy::none, {}, out);
}

bool string_list(const shared::JsonValue& v, const char* what, std::vector<std::string>* out, std::string* err) {
    if (v.type != shared::JsonValue::Type::array) {
        *err = std::string(what) + " must be an array of strings";
        return false;
    }
    for (const shared::JsonValue& item : v.items) {
        if (item.type != shared::JsonValue::Type::string || item.string.empty()) {
            *err = std::string(what) + " must be an array of non-empty strings";
            return false;
        }
        out->push_back(item.string);
    }
    return true;
}

} // namespace

bool parse_invalidation_request(std::string_view json, InvalidationRequest* out, std::string* err) {
    *out = InvalidationRequest();
    shared::JsonValue doc;
    std::string jerr;
    if (!shared::parse_json(json, &doc, &jerr)) {
        *err = "invalid JSON: " + jerr;
        return false;
    }
    if (doc.type != shared::JsonValue::Type::object) {
        *err = "the body must be a JSON object";
        return false;
    }
    for (const auto& [k, v] : doc.members) {
        if (k == "host") {
            if (v.type != shared::JsonValue::Type::string || v.string.empty() ||
                v.string.find_first_of("/?%# \t\r\n") != std::string::npos) {
                *err = "host must be a host name (optionally with :port)";
                return false;
            }
            for (char c : v.string)
                out->host.push_back(shared::ascii_lower(c));
        } else if (k == "site") {
            bool ok = v.type == shared::JsonValue::Type::string && v.string.size() <= 64;
            for (char c : ok ? v.string : std::string())
                ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                            c == '-' || c == '.');
            if (!ok) {
                *err = "site must be a site's name (\"\" for the top-level site)";
                return false;
            }
            out->has_site = true;
            out->site = v.string;
        } else if (k == "paths") {
            if (!string_list(v, "paths", &out->paths, err)) return false;
        } else if (k == "tags") {
            if (!string_list(v, "tags", &out->tags, err)) return false;
        } else if (k == "mode") {
            if (v.type != shared::JsonValue::Type::string || (v.string != "soft" && v.string != "hard")) {
                *err = "mode must be \"hard\" (remove, the default) or \"soft\" (mark stale)";
                return false;
            }
            out->soft = v.string == "soft";
        } else {
            *err = "unknown member \"" + k + "\" (expected site, host, paths, tags, mode)";
            return false;
        }
    }
    if (out->paths.empty() && out->tags.empty()) {
        *err = "nothing to invalidate: give paths, tags or both";
        return false;
    }
    if (out->paths.size() > InvalidationRequest::kMaxPaths) {
        *err = "at most " + std::to_string(InvalidationRequest::kMaxPaths) + " paths per invalidation";
        return false;
    }
    for (const std::string& p : out->paths) {
        size_t star = p.find('*');
        if (p[0] != '/' || p.find_first_of("?#") != std::string::npos ||
            (star != std::string::npos && star != p.size() - 1)) {
            *err = "\"" + p + "\": a path starts with '/', has no query, and '*' only at its end";
            return false;
        }
        std::string k;
        bool prefix = star != std::string::npos;
        if (!key_path(prefix ? std::string_view(p).substr(0, star) : std::string_view(p), &k)) {
            *err = "\"" + p + "\": not a valid path";
            return false;
        }
        (prefix ? out->prefixes : out->exact).push_back(std::move(k));
    }
    return true;
}

bool invalidation_covers(const InvalidationRequest& r, const CachedObject& obj) {
    std::string_view key = obj.key();
    if (r.has_site && key_site_name(key) != r.site) return false;
    key.remove_prefix(key_site_prefix(key).size());
    size_t slash = key.find('/');
    if (slash == std::string_view::npos) return false;
    if (!r.host.empty() && key.substr(0, slash) != r.host) return false;
    // The path runs to the query, the cache key fields or the variant suffix, whichever comes first.
    std::string_view path = key.substr(slash);
    path = path.substr(0, path.find_first_of(std::string_view("?\n\0", 3)));
    for (const std::string& e : r.exact)
        if (path == e) return true;
    for (const std::string& p : r.prefixes)
        if (path.substr(0, p.size()) == p) return true;
    if (r.tags.empty()) return false;
    bool tagged = false;
    for_each_cache_tag(obj, [&](std::string_view t) {
        for (const std::string& want : r.tags)
            tagged = tagged || t == want;
    });
    return tagged;
}

} // namespace edge
