#include "edge/config/edge_config.h"

#include "edge/http/request_fields.h"
#include "edge/origin/request_path.h"
#include "edge/upstream/origin_health.h"
#include "edge/upstream/rendezvous_hash.h"
#include "edge/upstream/sigv4_signer.h"

#include "shared/http/bearer_token.h"
#include "shared/tls/tls_client_context.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

namespace edge {
namespace {

// `*` runs of the pattern only; true for "*", "**", "/*": every request path starts with '/'.
bool is_catch_all(std::string_view p) {
    if (!p.empty() && p[0] == '/') p.remove_prefix(1);
    if (p.empty()) return false;
    return std::all_of(p.begin(), p.end(), [](char c) { return c == '*'; });
}

std::string normalize_pattern(std::string p) {
    if (p.empty() || p[0] == '/' || p[0] == '*') return p;
    return "/" + p;
}

// Iterative glob with single-star backtracking (the classic two-pointer algorithm): no recursion, no allocation.
// In "cover" mode `text` is itself a pattern: its '*' may only be covered by a '*' of `pat`.
bool glob(std::string_view pat, std::string_view text, bool cover) {
    size_t p = 0, t = 0;
    size_t star_p = std::string_view::npos, star_t = 0;
    while (t < text.size()) {
        if (p < pat.size() && pat[p] == '*') {
            star_p = p++;
            star_t = t;
        } else if (p < pat.size() && (pat[p] == text[t] ? (!cover || text[t] != '?' || pat[p] == '?')
                                                        : (pat[p] == '?' && !(cover && text[t] == '*')))) {
            ++p;
            ++t;
        } else if (star_p != std::string_view::npos) {
            p = star_p + 1;
            t = ++star_t;
        } else {
            return false;
        }
    }
    while (p < pat.size() && pat[p] == '*')
        ++p;
    return p == pat.size();
}

// Up to 16 shards (enough to keep 2-8 workers off each other's locks), but never so many that a shard's budget
// is below max_object_bytes, since each object lives in a single shard.
uint32_t auto_shards(uint64_t max_bytes, uint64_t max_object_bytes) {
    uint32_t n = 16;
    while (n > 1 && max_bytes / n < max_object_bytes)
        n /= 2;
    return n;
}

bool is_directory(const std::string& path, std::string* why) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        *why = std::strerror(errno);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = "not a directory";
        return false;
    }
    return true;
}

// [origin.sigv4]: a private S3-compatible bucket (CloudFront's Origin Access Control). The secret is best given as
// "${AWS_SECRET_ACCESS_KEY}" (config files get copied around); an unset variable is an error naming it.
void parse_sigv4(shared::ConfigSection& s, OriginConfig* o) {
    auto c = std::make_shared<SigV4Config>();
    c->access_key_id = s.require_string("access_key_id");
    c->secret_access_key = s.require_string("secret_access_key");
    c->session_token = s.get_string("session_token", "");
    c->region = s.require_string("region");
    c->service = s.get_string("service", "s3");
    auto token = [](const std::string& v) {
        return !v.empty() && v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
    };
    if (s.has("access_key_id") &&
        (c->access_key_id.empty() || c->access_key_id.find_first_of(" \t\r\n/,=") != std::string::npos))
        s.error("access_key_id", "expected an access key id like \"AKIAIOSFODNN7EXAMPLE\"");
    if (s.has("secret_access_key") && c->secret_access_key.empty()) s.error("secret_access_key", "must not be empty");
    if (s.has("region") && !token(c->region)) s.error("region", "expected a region like \"us-east-1\"");
    if (!token(c->service)) s.error("service", "expected a service name like \"s3\"");
    s.finish();
    o->sigv4 = std::move(c);
}

void parse_origin(shared::ConfigSection& sec, OriginConfig* o) {
    o->name = sec.require_string("name");
    std::string type = sec.get_enum("type", "", {"bucket", "http"});
    if (!sec.has("type")) sec.error("type", "missing required key (\"bucket\" or \"http\")");
    o->type = type == "http" ? OriginType::http : OriginType::bucket;
    if (o->type == OriginType::bucket) {
        std::string path = sec.get_path("path", "");
        if (!sec.has("path")) {
            sec.error("path", "missing required key (the folder to serve)");
        } else {
            std::string why;
            if (!is_directory(path, &why)) {
                sec.error("path", "\"" + path + "\": " + why);
            } else {
                // Absolute but not resolved: a release symlink in it is followed per request (bucket_origin.h).
                std::error_code ec;
                o->path = std::filesystem::absolute(path, ec).lexically_normal().string();
                if (ec) sec.error("path", "\"" + path + "\": " + ec.message());
            }
        }
        o->index_document = sec.get_string("index_document", "index.html");
        o->error_document = sec.get_string("error_document", "");
        for (const char* k : {"index_document", "error_document"}) {
            const std::string& v = std::string_view(k) == "index_document" ? o->index_document : o->error_document;
            if (v.find('\0') != std::string::npos || v.find("..") != std::string::npos || (!v.empty() && v[0] == '/')) {
                sec.error(k, "must be a key inside the bucket (no leading '/', no \"..\")");
            }
        }
        if (o->index_document.empty()) sec.error("index_document", "must not be empty");
        // Read them with their own types (marking them used) so the one message is the clear one below.
        if (auto s4 = sec.table("sigv4")) {
            parse_sigv4(*s4, o);
            o->sigv4 = nullptr;
            sec.error("sigv4", "only valid for type = \"http\" origins");
        }
        for (const char* k :
             {"address", "tls", "tls_verify", "tls_ca_file", "tls_server_name", "host_header", "connect_timeout",
              "first_byte_timeout", "idle_timeout", "max_idle_connections", "cooldown", "parents"}) {
            if (!sec.has(k)) continue;
            std::string_view key = k;
            if (key == "tls" || key == "tls_verify") {
                sec.get_bool(k, false);
            } else if (key == "max_idle_connections") {
                sec.get_int(k, 0, INT64_MIN, INT64_MAX);
            } else if (key == "parents") {
                sec.get_string_list(k, {});
            } else if (key.find("timeout") != std::string_view::npos || key == "cooldown") {
                sec.get_duration_ms(k, 0);
            } else {
                sec.get_string(k, "");
            }
            sec.error(k, "only valid for type = \"http\" origins");
        }
    } else {
        std::vector<std::string> parents = sec.get_string_list("parents", {});
        if (sec.has("parents")) {
            if (sec.has("address")) {
                sec.get_string("address", "");
                sec.error("address", "not with parents (a tier's addresses are its parents)");
            }
            if (parents.empty()) sec.error("parents", "needs at least one \"host:port\"");
            if (parents.size() > 64) sec.error("parents", "at most 64 parents");
        } else {
            o->address = sec.require_string("address");
        }
        if (!o->address.empty()) {
            std::string err;
            if (!shared::split_host_port(o->address, &o->host, &o->port, &err)) {
                sec.error("address", "\"" + o->address + "\": " + err);
            }
        }
        o->tls = sec.get_bool("tls", false);
        o->tls_verify = sec.get_bool("tls_verify", true);
        o->tls_ca_file = sec.get_path("tls_ca_file", "");
        o->tls_server_name = sec.get_string("tls_server_name", "");
        if (!o->tls) {
            for (const char* k : {"tls_verify", "tls_ca_file", "tls_server_name"}) {
                if (sec.has(k)) sec.error(k, "only valid with tls = true");
            }
        } else if (o->tls_server_name.find_first_of(" \t\r\n/:") != std::string::npos) {
            sec.error("tls_server_name", "expected a host name, got \"" + o->tls_server_name + "\"");
        } else {
            std::string err;
            o->tls_context = shared::TlsClientContext::create({o->tls_verify, o->tls_ca_file}, &err);
            if (!o->tls_context) sec.error(sec.has("tls_ca_file") ? "tls_ca_file" : "tls", err);
        }
        // A parent edge picks the site (and so the cache key) by the viewer's Host: a tier forwards it by default.
        std::string hh = sec.get_string("host_header", parents.empty() ? "origin" : "viewer");
        if (hh == "origin") {
            o->host_header_mode = HostHeaderMode::origin;
        } else if (hh == "viewer") {
            o->host_header_mode = HostHeaderMode::viewer;
        } else if (hh.empty() || hh.find_first_of(" \t\r\n/") != std::string::npos) {
            sec.error("host_header", "expected \"origin\", \"viewer\" or a host name, got \"" + hh + "\"");
        } else {
            o->host_header_mode = HostHeaderMode::literal;
            o->host_header_value = hh;
        }
        o->connect_timeout_ms = sec.get_duration_ms("connect_timeout", 10'000);
        o->first_byte_timeout_ms = sec.get_duration_ms("first_byte_timeout", 30'000);
        o->idle_timeout_ms = sec.get_duration_ms("idle_timeout", 30'000);
        o->max_idle_connections = static_cast<uint32_t>(sec.get_int("max_idle_connections", 32, 0, 100'000));
        if (auto s4 = sec.table("sigv4")) parse_sigv4(*s4, o);
        o->cooldown_ms = sec.get_duration_ms("cooldown", 10'000);
        o->health = std::make_shared<OriginHealth>(o->cooldown_ms);
        const OriginConfig base = *o; // before any parent is added
        for (const std::string& a : parents) {
            OriginConfig p = base;
            p.address = a;
            p.name = o->name + "/" + a; // its pool, its log lines
            std::string err;
            if (!shared::split_host_port(a, &p.host, &p.port, &err)) sec.error("parents", "\"" + a + "\": " + err);
            p.health = std::make_shared<OriginHealth>(o->cooldown_ms);
            p.parent_hash = stable_hash(a);
            for (const OriginConfig& q : o->parents) {
                if (q.address == a) sec.error("parents", "\"" + a + "\" is listed twice");
            }
            o->parents.push_back(std::move(p));
        }
        for (const char* k : {"connect_timeout", "first_byte_timeout", "idle_timeout"}) {
            uint64_t v = std::string_view(k) == "connect_timeout"      ? o->connect_timeout_ms
                         : std::string_view(k) == "first_byte_timeout" ? o->first_byte_timeout_ms
                                                                       : o->idle_timeout_ms;
            if (sec.has(k) && v == 0) sec.error(k, "must be greater than 0");
        }
        // CloudFront's default root object, and index pages for folder paths: off unless set.
        o->index_document = sec.get_string("index_document", "");
        if (o->index_document.find_first_of("/?#% \t") != std::string::npos || o->index_document == "." ||
            o->index_document == "..") {
            sec.error("index_document", "must be a file name like \"index.html\" (no '/', '?', '#', '%' or spaces)");
        }
        for (const char* k : {"path", "error_document"}) {
            if (sec.has(k)) {
                sec.get_string(k, "");
                sec.error(k, "only valid for type = \"bucket\" origins");
            }
        }
    }
    sec.finish();
}

// RFC 9110 §5.1 field names and RFC 6265 §4.1.1 cookie names are both tokens (tchar).
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

// `key`: an array of header names (lower-cased) or cookie names; errors name the key.
std::vector<std::string> name_list(shared::ConfigSection& sec, const char* key, bool headers) {
    std::vector<std::string> v = sec.get_string_list(key, {});
    for (std::string& n : v) {
        if (!is_token(n)) {
            sec.error(key, "\"" + n + "\" is not a " + (headers ? "header" : "cookie") + " name");
            continue;
        }
        if (!headers) continue;
        for (char& c : n)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (is_never_forwarded_request_field(n))
            sec.error(key, "\"" + n + "\" is hop-by-hop or set by the edge itself");
        if (n == "cookie") sec.error(key, "name cookies in the *_cookies keys instead of the Cookie header");
    }
    return v;
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

void parse_forward_policy(shared::ConfigSection& sec, const char* key, const char* list_key, bool headers,
                          ForwardPolicy* policy, std::vector<std::string>* list) {
    std::string f = sec.get_enum(key, "all", {"none", "all", "allowlist"});
    *policy = f == "none" ? ForwardPolicy::none : f == "allowlist" ? ForwardPolicy::allowlist : ForwardPolicy::all;
    *list = sorted_unique(name_list(sec, list_key, headers));
    if (*policy == ForwardPolicy::allowlist && list->empty()) {
        sec.error(list_key, std::string(key) + " = \"allowlist\" needs at least one name");
    }
    if (*policy != ForwardPolicy::allowlist && sec.has(list_key)) {
        sec.error(list_key, std::string("only used with ") + key + " = \"allowlist\"");
    }
}

void parse_forwarding(shared::ConfigSection& sec, BehaviorConfig* b) {
    parse_forward_policy(sec, "forward_headers", "forward_headers_allowlist", true, &b->forward_headers,
                         &b->forward_headers_allowlist);
    parse_forward_policy(sec, "forward_cookies", "forward_cookies_allowlist", false, &b->forward_cookies,
                         &b->forward_cookies_allowlist);
    b->cache_key_headers = name_list(sec, "cache_key_headers", true);
    b->cache_key_cookies = name_list(sec, "cache_key_cookies", false);
    for (const char* k : {"cache_key_headers", "cache_key_cookies"}) {
        auto& v = std::string_view(k) == "cache_key_headers" ? b->cache_key_headers : b->cache_key_cookies;
        if (sorted_unique(v).size() != v.size()) sec.error(k, "names a field twice");
        if (v.size() > 16) sec.error(k, "at most 16 names");
    }
}

void parse_behavior(shared::ConfigSection& sec, const KeyGroups& key_groups, BehaviorConfig* b) {
    b->path_pattern = normalize_pattern(sec.get_string("path_pattern", "*"));
    // A behavior that only redirects needs no origin.
    b->origin_name = sec.has("redirect") ? sec.get_string("origin", "") : sec.require_string("origin");
    b->cache = sec.get_bool("cache", true);
    std::string m = sec.get_enum("allowed_methods", "GET_HEAD", {"GET_HEAD", "GET_HEAD_OPTIONS", "ALL"});
    b->allowed_methods = m == "ALL"                ? AllowedMethods::all
                         : m == "GET_HEAD_OPTIONS" ? AllowedMethods::get_head_options
                                                   : AllowedMethods::get_head;
    b->min_ttl_ms = sec.get_duration_ms("min_ttl", 0);
    b->default_ttl_ms = sec.get_duration_ms("default_ttl", 86'400'000);
    b->max_ttl_ms = sec.get_duration_ms("max_ttl", 31'536'000'000);
    b->error_ttl_ms = sec.get_duration_ms("error_ttl", 10'000);
    b->heuristic_fraction = sec.get_double("heuristic_fraction", 0, 0, 1);
    b->heuristic_max_ms = sec.get_duration_ms("heuristic_max", 86'400'000);
    // CloudFront's rule: minimum <= default <= maximum.
    if (b->min_ttl_ms > b->default_ttl_ms) {
        sec.error(sec.has("min_ttl") ? "min_ttl" : "default_ttl", "min_ttl must not exceed default_ttl");
    }
    if (b->default_ttl_ms > b->max_ttl_ms) {
        sec.error(sec.has("max_ttl") ? "max_ttl" : "default_ttl", "default_ttl must not exceed max_ttl");
    }
    std::string q = sec.get_enum("query_string", "none", {"none", "all", "allowlist"});
    b->query_string = q == "all"         ? QueryStringPolicy::all
                      : q == "allowlist" ? QueryStringPolicy::allowlist
                                         : QueryStringPolicy::none;
    b->query_string_allowlist = sec.get_string_list("query_string_allowlist", {});
    if (b->query_string == QueryStringPolicy::allowlist && b->query_string_allowlist.empty()) {
        sec.error("query_string_allowlist", "query_string = \"allowlist\" needs at least one parameter name");
    }
    if (b->query_string != QueryStringPolicy::allowlist && sec.has("query_string_allowlist")) {
        sec.error("query_string_allowlist", "only used with query_string = \"allowlist\"");
    }
    for (const std::string& n : b->query_string_allowlist) {
        if (n.empty() || n.find_first_of("&=#? ") != std::string::npos) {
            sec.error("query_string_allowlist", "\"" + n + "\" is not a query parameter name");
        }
    }
    std::sort(b->query_string_allowlist.begin(), b->query_string_allowlist.end());
    b->query_string_allowlist.erase(std::unique(b->query_string_allowlist.begin(), b->query_string_allowlist.end()),
                                    b->query_string_allowlist.end());
    parse_forwarding(sec, b);
    b->cache_set_cookie = sec.get_bool("cache_set_cookie", false);
    b->serve_stale_on_error = sec.get_bool("serve_stale_on_error", true);
    b->serve_stale_when_disconnected = sec.get_bool("serve_stale_when_disconnected", false);
    b->compress = sec.get_bool("compress", true);
    if (sec.has("brotli_quality")) b->brotli_quality = static_cast<int>(sec.get_int("brotli_quality", 5, 0, 11));
    if (sec.has("gzip_level")) b->gzip_level = static_cast<int>(sec.get_int("gzip_level", 6, 1, 9));
    if (b->path_pattern.size() > 255) sec.error("path_pattern", "longer than 255 characters");
    b->response_headers_policy_name = sec.get_string("response_headers_policy", "");
    b->routing = parse_viewer_routing(sec);
    b->trusted_keys = parse_trusted_key_groups(sec, key_groups);
    b->failover_origin_name = sec.get_string("failover_origin", "");
    if (sec.has("failover_status")) {
        std::vector<int64_t> st = sec.get_int_list("failover_status", {}, 100, 599);
        b->failover_status.clear();
        for (int64_t v : st) {
            // CloudFront's failover criteria.
            static constexpr int kAllowed[] = {400, 403, 404, 416, 500, 502, 503, 504};
            if (std::find(std::begin(kAllowed), std::end(kAllowed), v) == std::end(kAllowed)) {
                sec.error("failover_status",
                          std::to_string(v) + " is not one of 400, 403, 404, 416, 500, 502, 503, 504");
            } else {
                b->failover_status.push_back(static_cast<int>(v));
            }
        }
        if (b->failover_origin_name.empty()) sec.error("failover_status", "only used with failover_origin");
    }
    sec.finish();
}

// The origins, behaviors and custom error responses of one site, read from `root` (the file's root for the top-level
// site, else a [[site]] table) into c.origins and c.sites[site_index].
void parse_site_tables(shared::ConfigSection& root, EdgeConfig& c, size_t site_index, bool top_level) {
    SiteConfig& site = c.sites[site_index];
    const std::string t = top_level ? "" : "site."; // for messages: [[origin]] or [[site.origin]]
    std::vector<shared::ConfigSection> origin_secs = root.array_of_tables("origin");
    std::set<std::string> names;
    for (shared::ConfigSection& sec : origin_secs) {
        OriginConfig o;
        parse_origin(sec, &o);
        o.site_index = site_index;
        o.site_name = site.name;
        if (!o.name.empty() && !names.insert(o.name).second) {
            sec.error("name", "duplicate origin name \"" + o.name + "\"");
        }
        site.origins.push_back(c.origins.size());
        c.origins.push_back(std::move(o));
    }

    std::vector<shared::ConfigSection> behavior_secs = root.array_of_tables("behavior");
    for (shared::ConfigSection& sec : behavior_secs) {
        BehaviorConfig b;
        parse_behavior(sec, c.key_groups, &b);
        b.response_headers_policy =
            find_response_headers_policy(sec, c.response_headers_policies, b.response_headers_policy_name);
        b.site_index = site_index;
        auto it = std::find_if(site.origins.begin(), site.origins.end(),
                               [&](size_t i) { return c.origins[i].name == b.origin_name; });
        if (it == site.origins.end()) {
            if (!b.origin_name.empty()) {
                sec.error("origin", "no [[" + t + "origin]] named \"" + b.origin_name + "\"");
            }
        } else {
            b.origin_index = *it;
        }
        if (!b.failover_origin_name.empty()) {
            auto f = std::find_if(site.origins.begin(), site.origins.end(),
                                  [&](size_t i) { return c.origins[i].name == b.failover_origin_name; });
            if (f == site.origins.end()) {
                sec.error("failover_origin", "no [[" + t + "origin]] named \"" + b.failover_origin_name + "\"");
            } else if (c.origins[*f].type != OriginType::http ||
                       (it != site.origins.end() && c.origins[*it].type != OriginType::http)) {
                sec.error("failover_origin", "both origins of a failover pair must be type = \"http\"");
            } else if (it != site.origins.end() && *f == *it) {
                sec.error("failover_origin", "must differ from origin");
            } else {
                b.failover_origin_index = *f;
            }
        }
        site.behaviors.push_back(std::move(b));
    }
    // A site whose behaviors all redirect (www.example.com → example.com) needs no origin.
    bool only_redirects = !site.behaviors.empty() &&
                          std::all_of(site.behaviors.begin(), site.behaviors.end(),
                                      [](const BehaviorConfig& b) { return !b.routing.redirect.target.empty(); });
    if (origin_secs.empty() && !root.has("origin") && !only_redirects) {
        root.error("origin", "at least one [[" + t + "origin]] is required");
    }
    // Shadowing: a behavior every path of which an earlier one already takes can never be selected.
    for (size_t j = 0; j < site.behaviors.size(); ++j) {
        for (size_t i = 0; i < j; ++i) {
            if (path_pattern_covers(site.behaviors[i].path_pattern, site.behaviors[j].path_pattern)) {
                behavior_secs[j].warning("path_pattern", "\"" + site.behaviors[j].path_pattern +
                                                             "\" can never match: behavior[" + std::to_string(i) +
                                                             "] (\"" + site.behaviors[i].path_pattern +
                                                             "\") comes first and matches every such path");
                break;
            }
        }
    }
    if (site.behaviors.empty()) {
        // No [[behavior]] at all: CloudFront's default behavior, to the first origin, with default settings.
        if (!site.origins.empty()) {
            BehaviorConfig b;
            b.origin_name = c.origins[site.origins.front()].name;
            b.origin_index = site.origins.front();
            b.site_index = site_index;
            b.implicit = true;
            site.behaviors.push_back(std::move(b));
            if (site.origins.size() > 1) {
                root.warning("behavior", "no [[" + t + "behavior]]: every request goes to the first origin \"" +
                                             c.origins[site.origins.front()].name + "\"");
            }
        }
    } else if (std::none_of(site.behaviors.begin(), site.behaviors.end(),
                            [](const BehaviorConfig& b) { return is_catch_all(b.path_pattern); })) {
        behavior_secs.back().error("path_pattern", "no default behavior: the last [[" + t +
                                                       "behavior]] must have path_pattern = \"*\" (got \"" +
                                                       site.behaviors.back().path_pattern + "\")");
    }

    for (shared::ConfigSection& sec : root.array_of_tables("error_response")) {
        ErrorResponseConfig e;
        e.status = static_cast<int>(sec.get_int("status", 0, 400, 599));
        if (!sec.has("status")) sec.error("status", "required: the status (400-599) this response replaces");
        std::string page = sec.get_string("page", "");
        if (!page.empty()) {
            std::string norm(page.size() + 1, '\0');
            PathError perr = PathError::none;
            size_t n = page[0] == '/' && page.find_first_of("?#") == std::string::npos
                           ? normalize_request_path(page, norm.data(), norm.size(), &perr)
                           : 0;
            if (n == 0) {
                sec.error("page", "\"" + page + "\" is not an absolute path without query, like \"/404.html\"");
            } else {
                norm.resize(n);
                e.page = norm;
            }
        }
        if (sec.has("response_status")) {
            e.response_status = static_cast<int>(sec.get_int("response_status", 200, 200, 599));
            if (page.empty()) sec.error("response_status", "needs a page to answer with");
        }
        if (sec.has("caching_min_ttl"))
            e.caching_min_ttl_ms = static_cast<int64_t>(sec.get_duration_ms("caching_min_ttl", 0));
        if (page.empty() && !sec.has("caching_min_ttl")) sec.error("page", "set page, caching_min_ttl or both");
        for (const ErrorResponseConfig& other : site.error_responses) {
            if (other.status == e.status && e.status != 0) {
                sec.error("status", "a second [[" + t + "error_response]] for " + std::to_string(e.status));
            }
        }
        sec.finish();
        site.error_responses.push_back(std::move(e));
    }
}

bool valid_site_name(std::string_view n) {
    return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
               ch == '-' || ch == '.';
    });
}

// The top-level site (when the file has top-level tables, or no [[site]] at all) and every [[site]], with the host
// table that picks one per request.
void parse_sites(shared::ConfigSection& root, EdgeConfig& c) {
    std::vector<shared::ConfigSection> site_secs = root.array_of_tables("site");
    bool top_level = root.has("origin") || root.has("behavior") || root.has("error_response") || site_secs.empty();
    if (top_level) {
        c.sites.emplace_back();
        c.sites.back().is_default = true;
    }
    size_t first_named = c.sites.size();
    c.sites.resize(first_named + site_secs.size());
    if (top_level) parse_site_tables(root, c, 0, true);

    std::map<std::string, std::pair<size_t, std::string>> claims; // host → (site, where)
    std::map<std::string, std::string> site_names;                // name → where
    std::string default_where = top_level ? root.where("origin") + ", the top-level site" : "";
    size_t default_site = top_level ? 0 : SiteHosts::npos;
    for (size_t i = 0; i < site_secs.size(); ++i) {
        shared::ConfigSection& sec = site_secs[i];
        size_t index = first_named + i;
        SiteConfig& site = c.sites[index];
        site.name = sec.require_string("name");
        if (!site.name.empty() && !valid_site_name(site.name)) {
            sec.error("name", "\"" + site.name + "\": 1 to 64 letters, digits, '_', '-' or '.'");
        } else if (!site.name.empty()) {
            auto [it, fresh] = site_names.emplace(site.name, sec.where("name"));
            if (!fresh) sec.error("name", "site name \"" + site.name + "\" is already used at " + it->second);
        }
        site.is_default = sec.get_bool("default", false);
        if (site.is_default) {
            if (default_site != SiteHosts::npos) {
                sec.error("default",
                          "a second default site: " + default_where + " already answers every host no site claims");
            } else {
                default_site = index;
                default_where = sec.where("default");
            }
        }
        std::vector<std::string> hosts = sec.get_string_list("hosts", {});
        if (hosts.empty() && sec.has("hosts") && !site.is_default) {
            sec.error("hosts", "an empty list: this site would answer no request (list host names, or default = true)");
        }
        for (const std::string& h : hosts) {
            std::string norm, err;
            if (!normalize_site_host(h, &norm, &err)) {
                sec.error("hosts", err);
                continue;
            }
            auto [it, fresh] = claims.emplace(norm, std::make_pair(index, sec.where("hosts")));
            if (!fresh) {
                sec.error("hosts", "\"" + h + "\" is already claimed by site \"" +
                                       c.sites[it->second.first].display_name() + "\" at " + it->second.second);
                continue;
            }
            size_t other = 0;
            c.site_hosts.add(norm, index, &other);
            site.hosts.push_back(std::move(norm));
        }
        if (site.hosts.empty() && !site.is_default && !sec.has("hosts")) {
            sec.error("hosts", "required: the host names this site answers (or default = true)");
        }
        parse_site_tables(sec, c, index, false);
        sec.finish();
    }
    for (SiteConfig& site : c.sites)
        site.key_prefix = site.name.empty() ? "" : site.name + " ";
    c.site_hosts.set_default(default_site);
    c.site_hosts.seal();
}
} // namespace

bool path_pattern_matches(std::string_view pattern, std::string_view path) {
    return glob(pattern, path, false);
}

bool path_pattern_covers(std::string_view earlier, std::string_view later) {
    return glob(earlier, later, true);
}

const ErrorResponseConfig* find_error_response(const SiteConfig& site, int status) {
    for (const ErrorResponseConfig& e : site.error_responses) {
        if (e.status == status) return &e;
    }
    return nullptr;
}

const BehaviorConfig& match_behavior(const SiteConfig& site, std::string_view path) {
    for (const BehaviorConfig& b : site.behaviors) {
        if (path_pattern_matches(b.path_pattern, path)) return b;
    }
    // Unreachable for a parsed config (the last behavior is a catch-all); the last one is the safest answer.
    return site.behaviors.back();
}

const SiteConfig* match_site(const EdgeConfig& config, std::string_view authority) {
    size_t i = config.site_hosts.find(authority);
    return i < config.sites.size() ? &config.sites[i] : nullptr;
}

void assign_site_key_prefixes(EdgeConfig& next, const EdgeConfig* prev, uint64_t generation) {
    for (SiteConfig& site : next.sites) {
        const SiteConfig* same = nullptr;
        if (prev) {
            for (const SiteConfig& p : prev->sites)
                if (p.name == site.name) same = &p;
        }
        if (same) {
            site.key_prefix = same->key_prefix;
        } else if (prev && generation > 0) {
            site.key_prefix = site.name + "#" + std::to_string(generation) + " ";
        } else {
            site.key_prefix = site.name.empty() ? "" : site.name + " ";
        }
    }
}

std::string_view to_string(AllowedMethods m) {
    switch (m) {
    case AllowedMethods::get_head:
        return "GET_HEAD";
    case AllowedMethods::get_head_options:
        return "GET_HEAD_OPTIONS";
    case AllowedMethods::all:
        return "ALL";
    }
    return "GET_HEAD";
}

bool method_allowed(AllowedMethods m, std::string_view method) {
    if (method == "GET" || method == "HEAD") return true;
    if (method == "OPTIONS") return m != AllowedMethods::get_head;
    if (m != AllowedMethods::all) return false;
    // Every method the request parser accepts (WebDAV's, M-SEARCH, PURGE, QUERY...), as nginx and Varnish pass them:
    // the origin decides, and unsafe ones invalidate what they touch (RFC 9111 §4.4). Not CONNECT (a tunnel, which
    // a reverse proxy does not open) nor TRACE (it would echo the viewer's cookies and credentials; nginx refuses it
    // too).
    return method != "CONNECT" && method != "TRACE";
}

std::string_view allow_header(AllowedMethods m) {
    switch (m) {
    case AllowedMethods::get_head:
        return "GET, HEAD";
    case AllowedMethods::get_head_options:
        return "GET, HEAD, OPTIONS";
    case AllowedMethods::all:
        return "GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE";
    }
    return "GET, HEAD";
}

std::optional<EdgeConfig> parse_edge_config(shared::ConfigSection root) {
    EdgeConfig c;
    c.config_file = root.config_file();
    size_t errors_before = root.diagnostics().error_count();
    c.common = shared::parse_common_config(root, {"127.0.0.1:8080"});
    c.server_name = root.get_string("server_name", "meridian");
    if (c.server_name.empty() || c.server_name.find_first_of(" \t\r\n,;()\"") != std::string::npos) {
        root.error("server_name", "must be a non-empty token (no spaces, commas, quotes or parentheses)");
    }
    // RFC 8586: a cdn-id is a token (a pseudonym) or host[:port].
    c.cdn_id = root.get_string("cdn_id", c.server_name);
    if (c.cdn_id.empty() || c.cdn_id.find_first_of(" \t\r\n,;()\"") != std::string::npos) {
        root.error("cdn_id", "must be a non-empty token (no spaces, commas, quotes or parentheses)");
    }
    c.cdn_loop_max = static_cast<uint32_t>(root.get_int("cdn_loop_max", 4, 1, 64));
    c.defer_accept = root.get_bool("defer_accept", c.defer_accept);

    if (auto sec = root.table("cache")) {
        c.cache.max_bytes = sec->get_size("max_bytes", c.cache.max_bytes);
        c.cache.max_object_bytes = sec->get_size("max_object_bytes", c.cache.max_object_bytes);
        int64_t shards = sec->get_int("shards", 0, 0, 1024);
        c.cache.collapse_timeout_ms = sec->get_duration_ms("collapse_timeout", c.cache.collapse_timeout_ms);
        c.cache.hit_for_miss_ttl_ms = sec->get_duration_ms("hit_for_miss_ttl", c.cache.hit_for_miss_ttl_ms);
        c.cache.hit_for_miss_max_bytes = sec->get_size("hit_for_miss_max_bytes", c.cache.hit_for_miss_max_bytes);
        c.cache.collapse_max_bytes = sec->get_size("collapse_max_bytes", c.cache.collapse_max_bytes);
        c.cache.brotli_quality = static_cast<int>(sec->get_int("brotli_quality", c.cache.brotli_quality, 0, 11));
        c.cache.gzip_level = static_cast<int>(sec->get_int("gzip_level", c.cache.gzip_level, 1, 9));
        c.cache.compress_timeout_ms = sec->get_duration_ms("compress_timeout", c.cache.compress_timeout_ms);
        if (sec->has("compress_timeout") && c.cache.compress_timeout_ms == 0) {
            sec->error("compress_timeout", "must be greater than 0");
        }
        if (c.cache.max_object_bytes > c.cache.max_bytes) {
            sec->error("max_object_bytes", "must not exceed max_bytes (" + std::to_string(c.cache.max_bytes) + ")");
        }
        if (shards == 0) {
            c.cache.shards = auto_shards(c.cache.max_bytes, c.cache.max_object_bytes);
        } else if (shards & (shards - 1)) {
            sec->error("shards", "must be a power of two (or 0 = automatic)");
        } else {
            c.cache.shards = static_cast<uint32_t>(shards);
            uint64_t shard_budget = c.cache.max_bytes / c.cache.shards;
            if (c.cache.max_object_bytes > shard_budget) {
                sec->error("shards", "max_bytes / shards (" + std::to_string(shard_budget) +
                                         " bytes) must be at least max_object_bytes: an object is stored in one "
                                         "shard (use fewer shards, or 0 = automatic)");
            }
        }
        sec->finish();
    } else {
        c.cache.shards = auto_shards(c.cache.max_bytes, c.cache.max_object_bytes);
    }

    if (auto sec = root.table("limits")) {
        LimitsConfig& l = c.limits;
        l.max_uri_bytes = sec->get_size("max_uri_bytes", l.max_uri_bytes);
        l.max_header_bytes = sec->get_size("max_header_bytes", l.max_header_bytes);
        l.header_timeout_ms = sec->get_duration_ms("header_timeout", l.header_timeout_ms);
        l.handshake_timeout_ms = sec->get_duration_ms("handshake_timeout", l.handshake_timeout_ms);
        l.keepalive_timeout_ms = sec->get_duration_ms("keepalive_timeout", l.keepalive_timeout_ms);
        l.body_timeout_ms = sec->get_duration_ms("body_timeout", l.body_timeout_ms);
        l.send_timeout_ms = sec->get_duration_ms("send_timeout", l.send_timeout_ms);
        l.lingering_time_ms = sec->get_duration_ms("lingering_time", l.lingering_time_ms);
        l.lingering_timeout_ms = sec->get_duration_ms("lingering_timeout", l.lingering_timeout_ms);
        l.max_connections = static_cast<uint32_t>(sec->get_int("max_connections", l.max_connections, 1, 10'000'000));
        l.max_connections_per_address = static_cast<uint32_t>(
            sec->get_int("max_connections_per_address", l.max_connections_per_address, 0, 10'000'000));
        l.client_buffer_bytes = sec->get_size("client_buffer_bytes", l.client_buffer_bytes);
        if (l.max_uri_bytes < 16) sec->error("max_uri_bytes", "must be at least 16 bytes");
        if (l.max_header_bytes < 256) sec->error("max_header_bytes", "must be at least 256 bytes");
        if (l.max_uri_bytes > l.max_header_bytes) {
            sec->error("max_uri_bytes", "must not exceed max_header_bytes (the request line counts as header bytes)");
        }
        if (l.header_timeout_ms == 0) sec->error("header_timeout", "must be greater than 0");
        if (l.handshake_timeout_ms == 0) sec->error("handshake_timeout", "must be greater than 0");
        if (l.body_timeout_ms == 0) sec->error("body_timeout", "must be greater than 0");
        if (l.send_timeout_ms == 0) sec->error("send_timeout", "must be greater than 0");
        if (l.lingering_time_ms > 0 && l.lingering_timeout_ms == 0) {
            sec->error("lingering_timeout",
                       "must be greater than 0 (or set lingering_time = \"0s\" to turn lingering off)");
        }
        if (l.client_buffer_bytes < 4096) sec->error("client_buffer_bytes", "must be at least 4KiB");
        sec->finish();
    }

    parse_tls_config(root, c.tls);
    parse_http2_config(root, c.http2);
    if (!c.http2.enabled) {
        // HTTP/2 off: ALPN offers only what the connections speak.
        auto& alpn = c.tls.options.alpn;
        std::erase(alpn, std::string("h2"));
        if (alpn.empty()) {
            if (auto sec = root.table("tls")) sec->error("alpn", "lists only \"h2\" but [http2] enabled = false");
        }
    }

    if (auto sec = root.table("access_log")) {
        c.access_log.file = sec->get_output_path("file", "");
        c.access_log.format =
            sec->get_enum("format", "text", {"text", "json"}) == "json" ? AccessLogFormat::json : AccessLogFormat::text;
        sec->finish();
    }
    if (auto sec = root.table("health")) {
        c.health.path = sec->get_string("path", c.health.path);
        c.health.drain_delay_ms = sec->get_duration_ms("drain_delay", 0);
        c.health.shutdown_timeout_ms = sec->get_duration_ms("shutdown_timeout", c.health.shutdown_timeout_ms);
        if (!c.health.path.empty() &&
            (c.health.path[0] != '/' || c.health.path.find_first_of("?# ") != std::string::npos)) {
            sec->error("path", "must be \"\" or an absolute path without query, like \"/_meridian/health\"");
        }
        sec->finish();
    }

    if (auto sec = root.table("invalidation")) {
        c.invalidation_token = shared::read_token_file(*sec, "token_file");
        sec->finish();
    }

    c.response_headers_policies = parse_response_headers_policies(root);
    c.key_groups = parse_key_groups(root);
    parse_sites(root, c);
    if (c.origins.empty() && !c.sites.empty() && root.diagnostics().error_count() == errors_before) {
        root.error("origin", "at least one origin is required (every site only redirects)");
    }

    for (SiteConfig& site : c.sites) {
        for (BehaviorConfig& b : site.behaviors) {
            if (b.brotli_quality < 0) b.brotli_quality = c.cache.brotli_quality;
            if (b.gzip_level < 0) b.gzip_level = c.cache.gzip_level;
        }
    }

    root.finish();
    if (root.diagnostics().error_count() > errors_before) return std::nullopt;
    return c;
}

std::optional<EdgeConfig> load_edge_config(const std::string& path, shared::ConfigDiagnostics& diags) {
    auto file = shared::ConfigFile::load(path, diags);
    if (!file) return std::nullopt;
    return parse_edge_config(file->root());
}

} // namespace edge
