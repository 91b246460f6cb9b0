#include "edge/explain/cache_explainer.h"

#include <algorithm>

#include "edge/access/signed_request.h"
#include "edge/cache/cache_key.h"
#include "edge/cache/cache_policy.h"
#include "edge/cache/cache_tags.h"
#include "edge/cache/vary_variant.h"
#include "edge/compress/content_coding.h"
#include "edge/compress/variant_headers.h"
#include "edge/config/redirect_rule.h"
#include "edge/origin/request_path.h"
#include "shared/http/http_tokens.h"
#include "shared/http/query_string.h"
#include "shared/json/json_value.h"

namespace edge {
namespace {

// The kind of an object stored under `key`, which starts with the URL's `base` key.
std::string kind_of(const CachedObject& o, std::string_view base) {
    if (is_vary_marker(o)) return "vary-marker";
    std::string_view k = o.key();
    size_t nul = k.rfind('\0');
    if (nul != std::string_view::npos && nul >= base.size()) {
        if (is_variant_marker(o)) return "no-variant-marker";
        return std::string(k.substr(nul + 1));
    }
    return k.size() == base.size() ? "object" : "variant";
}

// The request field lines of a key after `base`: "\nname:value" / "\nname!" (a Vary variant's generation line
// "\nv<hex>" is left out), up to a compressed copy's NUL.
std::vector<std::string> selects_of(std::string_view key, std::string_view base) {
    std::vector<std::string> out;
    std::string_view rest = key.substr(base.size());
    rest = rest.substr(0, rest.find('\0'));
    while (!rest.empty() && rest[0] == '\n') {
        rest.remove_prefix(1);
        size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
        bool generation = line.size() > 1 && line[0] == 'v' &&
                          line.find_first_not_of("0123456789abcdef", 1) == std::string_view::npos;
        if (!generation) out.emplace_back(line);
    }
    return out;
}

// A key with its '\n' and NUL separators spelled out (text output).
std::string printable_key(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\0') {
            out += "\\0";
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            out += '?';
        } else {
            out += c;
        }
    }
    return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

std::string object_json(const CachedObjectReport& r) {
    using shared::json_quote;
    std::string o = "{\"key\":" + json_quote(r.key) + ",\"kind\":" + json_quote(r.kind);
    if (!r.selects.empty()) o += ",\"selects\":" + shared::json_string_array(r.selects);
    o += ",\"status\":" + std::to_string(r.status) + ",\"content_type\":" + json_quote(r.content_type) +
         ",\"size\":" + std::to_string(r.size) + ",\"complete\":" + (r.complete ? "true" : "false") +
         ",\"charged_bytes\":" + std::to_string(r.charged_bytes) + ",\"age\":" + std::to_string(r.age_s) +
         ",\"freshness_lifetime\":" + std::to_string(r.lifetime_s) +
         ",\"freshness_left\":" + std::to_string(r.freshness_left_s) + ",\"fresh\":" + (r.fresh ? "true" : "false") +
         ",\"must_revalidate\":" + (r.must_revalidate ? "true" : "false") +
         ",\"stale_while_revalidate\":" + std::to_string(r.stale_while_revalidate_s) +
         ",\"stale_if_error\":" + std::to_string(r.stale_if_error_s) + ",\"etag\":" + json_quote(r.etag) +
         ",\"last_modified\":" + json_quote(r.last_modified) + ",\"tags\":" + shared::json_string_array(r.tags) + "}";
    return o;
}

void object_text(const CachedObjectReport& r, std::string_view indent, std::string& o) {
    auto line = [&](std::string_view name, const std::string& value) {
        o.append(indent).append(name).append(": ").append(value).append("\n");
    };
    line("key", printable_key(r.key));
    line("kind", r.kind);
    if (!r.selects.empty()) line("selects", join(r.selects, ", "));
    line("status", std::to_string(r.status));
    if (!r.content_type.empty()) line("content type", r.content_type);
    line("size", std::to_string(r.size) + " bytes" + (r.complete ? "" : " (still filling)") + ", " +
                     std::to_string(r.charged_bytes) + " charged");
    line("age", std::to_string(r.age_s) + "s");
    line("freshness", std::to_string(r.lifetime_s) + "s lifetime, " +
                          (r.fresh ? std::to_string(r.freshness_left_s) + "s left"
                                   : "stale for " + std::to_string(-r.freshness_left_s) + "s") +
                          (r.must_revalidate ? ", must revalidate" : ""));
    if (r.stale_while_revalidate_s || r.stale_if_error_s)
        line("stale windows", "while-revalidate " + std::to_string(r.stale_while_revalidate_s) + "s, if-error " +
                                  std::to_string(r.stale_if_error_s) + "s");
    if (!r.etag.empty()) line("etag", r.etag);
    if (!r.last_modified.empty()) line("last modified", r.last_modified);
    if (!r.tags.empty()) line("tags", join(r.tags, " "));
}

} // namespace

bool parse_cache_query(std::string_view url, std::string_view host, CacheQuery* out, std::string* err) {
    *out = CacheQuery();
    std::string_view authority;
    for (std::string_view scheme : {"http://", "https://"}) {
        if (!shared::ascii_istarts_with(url, scheme)) continue;
        url.remove_prefix(scheme.size());
        size_t slash = url.find_first_of("/?#");
        authority = url.substr(0, slash);
        url = slash == std::string_view::npos ? std::string_view("/") : url.substr(slash);
        break;
    }
    url = url.substr(0, url.find('#'));
    if (!authority.empty() && !url.empty() && url[0] == '?') out->target = "/"; // "http://host?x=1"
    if (out->target.empty() && (url.empty() || url[0] != '/')) {
        *err = "url must be a path (/a/b?x=1) or an http(s) URL";
        return false;
    }
    if (host.empty()) host = authority;
    if (host.empty()) {
        *err = "host is required (or an absolute url)";
        return false;
    }
    for (char c : host) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#') {
            *err = "host must be a host name (optionally with :port)";
            return false;
        }
    }
    out->host.assign(host);
    out->target.append(url);
    return true;
}

CachedObjectReport report_cached_object(const CachedObject& o, uint64_t now_ms) {
    CachedObjectReport r;
    r.key.assign(o.key());
    r.kind = "object";
    r.status = o.status();
    std::string_view block = o.header_block();
    r.content_type.assign(block_header(block, "content-type"));
    r.size = o.body().size();
    r.complete = o.complete();
    r.charged_bytes = o.charge();
    r.age_s = o.age_seconds(now_ms);
    uint64_t origin = o.age_origin_ms(), expires = o.expires_at_ms();
    r.lifetime_s = expires > origin ? (expires - origin) / 1000 : 0;
    r.fresh = o.fresh(now_ms);
    // Whole seconds towards zero, as Age is: 0.4 s left reads 0 (and fresh), 0.4 s stale reads 0 (and stale).
    r.freshness_left_s =
        r.fresh ? static_cast<int64_t>((expires - now_ms) / 1000) : -static_cast<int64_t>((now_ms - expires) / 1000);
    r.must_revalidate = o.must_revalidate();
    StaleWindows w = stale_windows(o.stored_fields());
    r.stale_while_revalidate_s = w.while_revalidate_ms / 1000;
    r.stale_if_error_s = w.if_error_ms / 1000;
    r.etag.assign(o.etag());
    r.last_modified.assign(o.last_modified());
    for_each_cache_tag(o, [&](std::string_view t) { r.tags.emplace_back(t); });
    return r;
}

CacheExplanation explain_cache(const EdgeConfig& cfg, const ObjectCache& cache, const CacheQuery& q, uint64_t now_ms) {
    CacheExplanation e;
    e.query = q;
    // The steps of ProxyHandler::handle for a GET, in its order, with the functions it calls.
    const SiteConfig* site = match_site(cfg, q.host);
    if (!site) {
        e.reason = "no site serves this host (a viewer gets 421)";
        return e;
    }
    e.site = site->display_name();
    TargetParts parts = split_target(q.target);
    std::string path(parts.path.size() + 1, '\0');
    PathError perr = PathError::none;
    size_t n = normalize_request_path(parts.path, path.data(), path.size(), &perr);
    if (n == 0) {
        e.reason = "bad request path: " + std::string(to_string(perr)) + " (a viewer gets 400)";
        return e;
    }
    path.resize(n);
    const BehaviorConfig& b = match_behavior(*site, path);
    e.behavior = b.path_pattern;
    std::string rewritten;
    if (apply_rewrite(b.routing.rewrite, path, &rewritten)) path = rewritten;
    if (const OriginConfig& o = cfg.origins[b.origin_index];
        o.type == OriginType::http && !o.index_document.empty() && path.back() == '/')
        path += o.index_document;
    e.path = path;
    if (!b.cache) {
        e.reason = "the behavior does not cache (cache = false)";
        return e;
    }
    std::string signed_query_buf;
    std::string_view query =
        b.trusted_keys ? query_without_signing_params(parts.query, &signed_query_buf) : parts.query;
    std::string base;
    if (!build_cache_key(site->key_prefix, q.host, path, query, b.query_string, b.query_string_allowlist, &base)) {
        e.reason = "the query has too many parameters to be keyed (a viewer's request bypasses the cache)";
        return e;
    }
    e.cacheable = true;
    e.key = base;
    append_key_fields({}, b, &e.key);

    if (Ref<CachedObject> obj = cache.peek(e.key)) {
        e.object = report_cached_object(*obj, now_ms);
        if (is_vary_marker(*obj)) {
            e.object->kind = "vary-marker";
            std::string_view fields;
            uint64_t gen = 0;
            if (read_vary_marker(*obj, &fields, &gen)) {
                while (!fields.empty()) {
                    size_t comma = fields.find(',');
                    e.vary.emplace_back(fields.substr(0, comma));
                    fields = comma == std::string_view::npos ? std::string_view() : fields.substr(comma + 1);
                }
            }
        } else {
            e.cached = true;
        }
    }
    // Everything else stored for the URL: keys that continue the base key with a field line ('\n') or a coding
    // (NUL). A longer path or a query continues it with other bytes.
    std::vector<Ref<CachedObject>> found = cache.peek_prefix(base, CacheExplanation::kMaxVariants + 2);
    std::sort(found.begin(), found.end(),
              [](const Ref<CachedObject>& a, const Ref<CachedObject>& b) { return a->key() < b->key(); });
    for (size_t i = 0; i < found.size(); ++i) {
        const CachedObject& o = *found[i];
        std::string_view k = o.key();
        if (k == e.key || k.size() == base.size() || (k[base.size()] != '\n' && k[base.size()] != '\0')) continue;
        if (i && found[i - 1]->key() == k) continue; // seen twice by a scan racing a move
        if (e.variants.size() == CacheExplanation::kMaxVariants) {
            e.variants_truncated = true;
            break;
        }
        CachedObjectReport r = report_cached_object(o, now_ms);
        r.kind = kind_of(o, base);
        r.selects = selects_of(k, base);
        if (r.kind != "vary-marker" && r.kind != "no-variant-marker") e.cached = true;
        e.variants.push_back(std::move(r));
    }
    return e;
}

std::string cache_explanation_json(const CacheExplanation& e) {
    using shared::json_quote;
    std::string o = "{\"query\":{\"host\":" + json_quote(e.query.host) + ",\"url\":" + json_quote(e.query.target) + "}";
    o += ",\"site\":" + json_quote(e.site) + ",\"behavior\":" + json_quote(e.behavior) +
         ",\"path\":" + json_quote(e.path) + ",\"cacheable\":" + (e.cacheable ? "true" : "false");
    if (!e.reason.empty()) o += ",\"reason\":" + json_quote(e.reason);
    o += ",\"key\":" + json_quote(e.key) + ",\"cached\":" + (e.cached ? "true" : "false");
    o += ",\"object\":" + (e.object ? object_json(*e.object) : std::string("null"));
    o += ",\"vary\":" + shared::json_string_array(e.vary);
    o += ",\"variants\":[";
    for (size_t i = 0; i < e.variants.size(); ++i)
        o += (i ? "," : "") + object_json(e.variants[i]);
    o += "],\"variants_truncated\":" + std::string(e.variants_truncated ? "true" : "false") + "}\n";
    return o;
}

std::string cache_explanation_text(const CacheExplanation& e) {
    std::string o = "query:     host " + e.query.host + ", url " + e.query.target + "\n";
    if (!e.site.empty()) o += "site:      " + e.site + "\n";
    if (!e.behavior.empty()) o += "behavior:  " + e.behavior + " (path " + e.path + ")\n";
    if (!e.cacheable) return o + "cacheable: no: " + e.reason + "\ncached:    no\n";
    o += "key:       " + printable_key(e.key) + "\n";
    o += std::string("cached:    ") + (e.cached ? "yes" : "no") + "\n";
    if (!e.vary.empty()) o += "vary:      " + join(e.vary, ", ") + "\n";
    if (e.object) {
        o += "object:\n";
        object_text(*e.object, "  ", o);
    }
    if (!e.variants.empty())
        o += "variants:  " + std::to_string(e.variants.size()) + (e.variants_truncated ? " (and more)" : "") + "\n";
    for (const CachedObjectReport& r : e.variants) {
        o += "  -\n";
        object_text(r, "    ", o);
    }
    return o;
}

bool answer_cache_request(const shared::AdminRequest& req, const EdgeConfig& cfg, const ObjectCache* cache,
                          uint64_t now_ms, shared::AdminResponse* out) {
    static constexpr std::string_view kUsage =
        "usage: GET /_meridian/cache?url=PATH-OR-URL[&host=HOST][&format=text]\n";
    if (req.path != "/_meridian/cache") return false;
    if (req.method != "GET" && req.method != "HEAD") {
        out->status = 405;
        out->extra_headers = "Allow: GET, HEAD\r\n";
        out->body = kUsage;
        return true;
    }
    auto url = shared::query_param(req.query, "url");
    auto host = shared::query_param(req.query, "host");
    auto format = shared::query_param(req.query, "format");
    CacheQuery q;
    std::string err;
    if (!url) {
        err = "url is required";
    } else if (format && *format != "json" && *format != "text") {
        err = "format: json or text";
    } else {
        parse_cache_query(*url, host ? *host : "", &q, &err);
    }
    if (!err.empty()) {
        out->status = 400;
        out->body = "cache: " + err + "\n" + std::string(kUsage);
        return true;
    }
    if (!cache) {
        out->status = 503;
        out->body = "cache: the cache is not running yet\n";
        return true;
    }
    CacheExplanation e = explain_cache(cfg, *cache, q, now_ms);
    out->status = e.cached ? 200 : 404;
    if (format && *format == "text") {
        out->body = cache_explanation_text(e);
    } else {
        out->content_type = "application/json";
        out->body = cache_explanation_json(e);
    }
    return true;
}

} // namespace edge
