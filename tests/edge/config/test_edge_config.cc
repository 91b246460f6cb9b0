#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "edge/config/edge_config.h"
#include "edge/upstream/sigv4_signer.h"
#include "tests/edge/config/config_dir.h"

using namespace edge;
namespace fs = std::filesystem;

namespace {

// The fixture, with a plain file "not-a-dir" beside "site" for the path checks.
struct ConfigDir : testing::ConfigDir {
    ConfigDir() { write("not-a-dir", "x"); }
};

constexpr const char* kBucketOrigin = R"(
[[origin]]
name = "site"
type = "bucket"
path = "site"
)";

} // namespace

TEST_CASE("Edge config: minimal bucket config gets CloudFront defaults", "[edge][config]") {
    ConfigDir d;
    auto c = d.load(kBucketOrigin);
    INFO(d.messages());
    REQUIRE(c);
    CHECK(d.diags.all().empty());
    REQUIRE(c->origins.size() == 1);
    const OriginConfig& o = c->origins[0];
    CHECK(o.type == OriginType::bucket);
    CHECK(o.path == fs::canonical(d.dir / "site").string());
    CHECK(o.index_document == "index.html");
    CHECK(o.error_document.empty());
    REQUIRE(c->sites[0].behaviors.size() == 1);
    const BehaviorConfig& b = c->sites[0].behaviors[0];
    CHECK(b.implicit);
    CHECK(b.path_pattern == "*");
    CHECK(b.origin_name == "site");
    CHECK(b.cache);
    CHECK(b.allowed_methods == AllowedMethods::get_head);
    CHECK(b.min_ttl_ms == 0);
    CHECK(b.default_ttl_ms == 86'400'000);
    CHECK(b.max_ttl_ms == 31'536'000'000);
    CHECK(b.query_string == QueryStringPolicy::none);
    CHECK(c->cache.max_bytes == 256ull << 20);
    CHECK(c->cache.shards == 16);
    CHECK(c->limits.max_uri_bytes == 8192);
    CHECK(c->limits.max_header_bytes == 32768);
    CHECK(c->limits.header_timeout_ms == 10'000);
    CHECK(c->limits.keepalive_timeout_ms == 60'000);
    CHECK(c->limits.max_connections_per_address == 1024);
    CHECK(c->limits.body_timeout_ms == 60'000);
    CHECK(c->limits.send_timeout_ms == 60'000);
    CHECK(c->limits.lingering_time_ms == 30'000);
    CHECK(c->limits.lingering_timeout_ms == 5'000);
    CHECK(c->health.path == "/_meridian/health");
    CHECK(c->health.drain_delay_ms == 0);
    CHECK(c->access_log.file.empty());
    CHECK(c->server_name == "meridian");
    CHECK(c->common.listen.size() == 1);
    CHECK(c->common.listen[0].to_string() == "127.0.0.1:8080");
}

TEST_CASE("Edge config: full config with http origin, behaviors and every section", "[edge][config]") {
    ConfigDir d;
    setenv("MERIDIAN_TEST_ORIGIN", "127.0.0.1:8081", 1);
    auto c = d.load(R"(
workers = 2
listen = ["127.0.0.1:0"]
server_name = "edge-ams1"
[admin]
listen = "127.0.0.1:0"
[cache]
max_bytes = "64MiB"
max_object_bytes = "1MiB"
shards = 8
collapse_timeout = "3s"
hit_for_miss_ttl = "30s"
[limits]
max_uri_bytes = "4KiB"
max_header_bytes = "16KiB"
header_timeout = "5s"
keepalive_timeout = "30s"
body_timeout = "20s"
send_timeout = "15s"
lingering_time = "10s"
lingering_timeout = "2s"
max_connections = 500
max_connections_per_address = 0
client_buffer_bytes = "128KiB"
[access_log]
file = "access.log"
[health]
path = "/healthz"
drain_delay = "2s"
[[origin]]
name = "api"
type = "http"
address = "${MERIDIAN_TEST_ORIGIN}"
host_header = "viewer"
connect_timeout = "2s"
first_byte_timeout = "5s"
idle_timeout = "7s"
max_idle_connections = 8
[[origin]]
name = "static"
type = "bucket"
path = "site"
error_document = "404.html"
[[behavior]]
path_pattern = "/api/*"
origin = "api"
cache = false
allowed_methods = "ALL"
[[behavior]]
path_pattern = "*.html"
origin = "static"
min_ttl = 60
default_ttl = "5m"
max_ttl = "1h"
query_string = "allowlist"
query_string_allowlist = ["v", "lang", "v"]
cache_set_cookie = true
serve_stale_on_error = false
[[behavior]]
path_pattern = "*"
origin = "static"
query_string = "all"
)");
    INFO(d.messages());
    REQUIRE(c);
    CHECK(c->common.workers == 2);
    CHECK(c->server_name == "edge-ams1");
    CHECK(c->cache.max_bytes == 64ull << 20);
    CHECK(c->cache.max_object_bytes == 1ull << 20);
    CHECK(c->cache.shards == 8);
    CHECK(c->cache.collapse_timeout_ms == 3000);
    CHECK(c->cache.hit_for_miss_ttl_ms == 30'000);
    CHECK(c->limits.max_uri_bytes == 4096);
    CHECK(c->limits.max_header_bytes == 16384);
    CHECK(c->limits.header_timeout_ms == 5000);
    CHECK(c->limits.keepalive_timeout_ms == 30'000);
    CHECK(c->limits.body_timeout_ms == 20'000);
    CHECK(c->limits.send_timeout_ms == 15'000);
    CHECK(c->limits.lingering_time_ms == 10'000);
    CHECK(c->limits.lingering_timeout_ms == 2'000);
    CHECK(c->limits.max_connections == 500);
    CHECK(c->limits.max_connections_per_address == 0);
    CHECK(c->limits.client_buffer_bytes == 128 << 10);
    CHECK(c->access_log.file == (d.dir / "access.log").string());
    CHECK(c->health.path == "/healthz");
    CHECK(c->health.drain_delay_ms == 2000);
    REQUIRE(c->origins.size() == 2);
    const OriginConfig& api = c->origins[0];
    CHECK(api.type == OriginType::http);
    CHECK(api.host == "127.0.0.1");
    CHECK(api.port == 8081);
    CHECK(api.host_header_mode == HostHeaderMode::viewer);
    CHECK(api.connect_timeout_ms == 2000);
    CHECK(api.first_byte_timeout_ms == 5000);
    CHECK(api.idle_timeout_ms == 7000);
    CHECK(api.max_idle_connections == 8);
    CHECK(c->origins[1].error_document == "404.html");
    REQUIRE(c->sites[0].behaviors.size() == 3);
    CHECK(c->sites[0].behaviors[0].origin_index == 0);
    CHECK_FALSE(c->sites[0].behaviors[0].cache);
    CHECK(c->sites[0].behaviors[0].allowed_methods == AllowedMethods::all);
    const BehaviorConfig& html = c->sites[0].behaviors[1];
    CHECK(html.origin_index == 1);
    CHECK(html.min_ttl_ms == 60'000);
    CHECK(html.default_ttl_ms == 300'000);
    CHECK(html.max_ttl_ms == 3'600'000);
    CHECK(html.query_string == QueryStringPolicy::allowlist);
    CHECK(html.query_string_allowlist == std::vector<std::string>{"lang", "v"});
    CHECK(html.cache_set_cookie);
    CHECK_FALSE(html.serve_stale_on_error);
    CHECK(c->sites[0].behaviors[2].serve_stale_on_error); // the default, as CloudFront
    CHECK_FALSE(c->sites[0].behaviors[2].serve_stale_when_disconnected);
    CHECK(c->sites[0].behaviors[2].query_string == QueryStringPolicy::all);

    CHECK(&match_behavior(c->sites[0], "/api/users") == &c->sites[0].behaviors[0]);
    CHECK(&match_behavior(c->sites[0], "/docs/index.html") == &c->sites[0].behaviors[1]);
    CHECK(&match_behavior(c->sites[0], "/api/page.html") == &c->sites[0].behaviors[0]); // first match wins
    CHECK(&match_behavior(c->sites[0], "/app.js") == &c->sites[0].behaviors[2]);
    CHECK(&match_behavior(c->sites[0], "/") == &c->sites[0].behaviors[2]);
}

TEST_CASE("Edge config: each error names file:line:column and the key", "[edge][config][errors]") {
    ConfigDir d;
    struct Case {
        const char* text;
        const char* expected;
    };
    const Case cases[] = {
        {"[[origin]]\nname = \"a\"\ntype = \"bucket\"\npath = \"missing\"\n",
         "edge.toml:4:8: origin[0].path: \"missing\": No such file or directory"},
        {"[[origin]]\nname = \"a\"\ntype = \"bucket\"\npath = \"not-a-dir\"\n",
         "edge.toml:4:8: origin[0].path: \"not-a-dir\": not a directory"},
        {"[[origin]]\nname = \"a\"\ntype = \"ftp\"\npath = \"site\"\n",
         "edge.toml:3:8: origin[0].type: expected one of \"bucket\", \"http\", got \"ftp\""},
        {"[[origin]]\nname = \"a\"\ntype = \"http\"\naddress = \"nohost\"\n",
         "edge.toml:4:11: origin[0].address: \"nohost\": "},
        {"[[origin]]\nname = \"a\"\ntype = \"http\"\naddress = \"h:1\"\nhost_header = \"a b\"\n",
         "edge.toml:5:15: origin[0].host_header: expected \"origin\", \"viewer\" or a host name, got \"a b\""},
        {"[[origin]]\nname = \"a\"\ntype = \"bucket\"\npath = \"site\"\naddress = \"h:1\"\n",
         "edge.toml:5:11: origin[0].address: only valid for type = \"http\" origins"},
        {"[[origin]]\nname = \"a\"\ntype = \"bucket\"\npath = \"site\"\ncolour = 1\n",
         "edge.toml:5:1: origin[0].colour: unknown key"},
        {"[[origin]]\nname = \"a\"\ntype = \"bucket\"\npath = \"site\"\n[[origin]]\nname = \"a\"\ntype = \"bucket\"\n"
         "path = \"site\"\n",
         "edge.toml:6:8: origin[1].name: duplicate origin name \"a\""},
        {"[cache]\nmax_bytes = \"lots\"\n",
         "edge.toml:2:13: cache.max_bytes: expected a size like \"512MiB\", got \"lots\""},
        {"[cache]\nmax_bytes = \"1MiB\"\nmax_object_bytes = \"2MiB\"\n",
         "edge.toml:3:20: cache.max_object_bytes: must not exceed max_bytes (1048576)"},
        {"[cache]\nmax_bytes = \"1MiB\"\nmax_object_bytes = \"1MiB\"\nshards = 16\n",
         "edge.toml:4:10: cache.shards: max_bytes / shards (65536 bytes) must be at least max_object_bytes: an "
         "object is stored in one shard (use fewer shards, or 0 = automatic)"},
        {"[cache]\nshards = 3\n", "edge.toml:2:10: cache.shards: must be a power of two (or 0 = automatic)"},
        {"[limits]\nsend_timeout = \"0s\"\n", "edge.toml:2:16: limits.send_timeout: must be greater than 0"},
        {"[limits]\nheader_timeout = \"soon\"\n",
         "edge.toml:2:18: limits.header_timeout: expected a duration like \"30s\", got \"soon\""},
        {"[[behavior]]\npath_pattern = \"*\"\norigin = \"nope\"\n",
         "edge.toml:3:10: behavior[0].origin: no [[origin]] named \"nope\""},
        {"[[behavior]]\npath_pattern = \"/a/*\"\norigin = \"site\"\n",
         "edge.toml:2:16: behavior[0].path_pattern: no default behavior: the last [[behavior]] must have "
         "path_pattern = \"*\" (got \"/a/*\")"},
        {"[[behavior]]\norigin = \"site\"\nmin_ttl = \"2d\"\n",
         "edge.toml:3:11: behavior[0].min_ttl: min_ttl must not exceed default_ttl"},
        {"[[behavior]]\norigin = \"site\"\nmax_ttl = \"1h\"\n",
         "edge.toml:3:11: behavior[0].max_ttl: default_ttl must not exceed max_ttl"},
        {"[[behavior]]\norigin = \"site\"\nallowed_methods = \"GET\"\n",
         "edge.toml:3:19: behavior[0].allowed_methods: expected one of \"GET_HEAD\", \"GET_HEAD_OPTIONS\", \"ALL\", "
         "got \"GET\""},
        {"[[behavior]]\norigin = \"site\"\nquery_string = \"allowlist\"\n",
         "edge.toml:1:1: behavior[0].query_string_allowlist: query_string = \"allowlist\" needs at least one "
         "parameter name"},
        {"[[behavior]]\norigin = \"site\"\nforward_headers = \"some\"\n",
         "edge.toml:3:19: behavior[0].forward_headers: expected one of \"none\", \"all\", \"allowlist\", got \"some\""},
        {"[[behavior]]\norigin = \"site\"\nforward_headers = \"allowlist\"\n",
         "behavior[0].forward_headers_allowlist: forward_headers = \"allowlist\" needs at least one name"},
        {"[[behavior]]\norigin = \"site\"\nforward_cookies_allowlist = [\"a\"]\n",
         "edge.toml:3:29: behavior[0].forward_cookies_allowlist: only used with forward_cookies = \"allowlist\""},
        {"[[behavior]]\norigin = \"site\"\nforward_headers = \"allowlist\"\nforward_headers_allowlist = "
         "[\"Connection\"]\n",
         "edge.toml:4:29: behavior[0].forward_headers_allowlist: \"connection\" is hop-by-hop or set by the edge "
         "itself"},
        {"[[behavior]]\norigin = \"site\"\ncache_key_headers = [\"x device\"]\n",
         "edge.toml:3:21: behavior[0].cache_key_headers: \"x device\" is not a header name"},
        {"[[behavior]]\norigin = \"site\"\ncache_key_headers = [\"Cookie\"]\n",
         "edge.toml:3:21: behavior[0].cache_key_headers: name cookies in the *_cookies keys instead of the Cookie "
         "header"},
        {"[[behavior]]\norigin = \"site\"\ncache_key_cookies = [\"a\", \"a\"]\n",
         "edge.toml:3:21: behavior[0].cache_key_cookies: names a field twice"},
        {"[[error_response]]\npage = \"/404.html\"\n",
         "error_response[0].status: required: the status (400-599) this response replaces"},
        {"[[error_response]]\nstatus = 302\npage = \"/404.html\"\n", "edge.toml:2:10: error_response[0].status: "},
        {"[[error_response]]\nstatus = 404\npage = \"404.html\"\n",
         "edge.toml:3:8: error_response[0].page: \"404.html\" is not an absolute path without query, like "
         "\"/404.html\""},
        {"[[error_response]]\nstatus = 404\nresponse_status = 200\n",
         "edge.toml:3:19: error_response[0].response_status: needs a page to answer with"},
        {"[[error_response]]\nstatus = 404\npage = \"/a\"\n[[error_response]]\nstatus = 404\npage = \"/b\"\n",
         "edge.toml:5:10: error_response[1].status: a second [[error_response]] for 404"},
        {"[[origin]]\nname = \"a\"\ntype = \"http\"\naddress = \"h:1\"\nindex_document = \"a/b.html\"\n",
         "edge.toml:5:18: origin[0].index_document: must be a file name like \"index.html\""},
        {"[[behavior]]\norigin = \"site\"\ncache = \"yes\"\n",
         "edge.toml:3:9: behavior[0].cache: expected true or false, got \"yes\""},
        {"[health]\npath = \"health\"\n",
         "edge.toml:2:8: health.path: must be \"\" or an absolute path without query, like \"/_meridian/health\""},
        {"server_name = \"my edge\"\n",
         "edge.toml:1:15: server_name: must be a non-empty token (no spaces, commas, quotes or parentheses)"},
        {"[acess_log]\nfile = \"x\"\n", "edge.toml:1:2: acess_log: unknown key"},
        {"[[origin]]\nname = \"a\"\ntype = \"http\"\naddress = \"h:1\"\ntls_verify = false\n",
         "edge.toml:5:14: origin[0].tls_verify: only valid with tls = true"},
        {"[[origin]]\nname = \"a\"\ntype = \"http\"\naddress = \"h:1\"\ntls = true\ntls_ca_file = \"nope.pem\"\n",
         "edge.toml:6:15: origin[0].tls_ca_file: "},
        {"[[origin]]\nname = \"a\"\ntype = \"http\"\naddress = \"h:1\"\ntls = true\ntls_server_name = \"a/b\"\n",
         "edge.toml:6:19: origin[0].tls_server_name: expected a host name, got \"a/b\""},
        {"[[origin]]\nname = \"a\"\ntype = \"bucket\"\npath = \"site\"\ntls_server_name = \"x\"\n",
         "edge.toml:5:19: origin[0].tls_server_name: only valid for type = \"http\" origins"},
    };
    for (const Case& c : cases) {
        // Every case but the origin ones gets a valid origin appended (after, so the line numbers hold).
        std::string text = c.text;
        if (text.find("[[origin]]") == std::string::npos) text += kBucketOrigin;
        auto cfg = d.load(text);
        std::string expected = c.expected; // paths in it are relative: messages() cuts the temp folder off
        INFO("config:\n" << text << "\ndiagnostics:\n" << d.messages());
        CHECK_FALSE(cfg.has_value());
        CHECK(d.messages().find(expected) != std::string::npos);
    }
}

TEST_CASE("Edge config: automatic shard count keeps a shard at least max_object_bytes", "[edge][config]") {
    ConfigDir d;
    auto c = d.load(std::string("[cache]\nmax_bytes = \"64MiB\"\nmax_object_bytes = \"8MiB\"\n") + kBucketOrigin);
    INFO(d.messages());
    REQUIRE(c);
    CHECK(c->cache.shards == 8);
    c = d.load(std::string("[cache]\nmax_bytes = \"1MiB\"\nmax_object_bytes = \"1MiB\"\n") + kBucketOrigin);
    REQUIRE(c);
    CHECK(c->cache.shards == 1);
    c = d.load(kBucketOrigin);
    REQUIRE(c);
    CHECK(c->cache.shards == 16); // 256MiB / 16 = 16MiB >= 8MiB
}

TEST_CASE("Edge config: missing origins and required keys", "[edge][config][errors]") {
    ConfigDir d;
    CHECK_FALSE(d.load("workers = 1\n"));
    CHECK(d.messages().find("origin: at least one [[origin]] is required") != std::string::npos);
    CHECK_FALSE(d.load("[[origin]]\ntype = \"bucket\"\npath = \"site\"\n"));
    CHECK(d.messages().find("origin[0].name: required key is missing") != std::string::npos);
    CHECK_FALSE(d.load("[[origin]]\nname = \"x\"\npath = \"site\"\n"));
    CHECK(d.messages().find("origin[0].type: missing required key") != std::string::npos);
    CHECK_FALSE(d.load("[[origin]]\nname = \"x\"\ntype = \"bucket\"\n"));
    CHECK(d.messages().find("origin[0].path: missing required key") != std::string::npos);
    CHECK_FALSE(d.load("[[origin]]\nname = \"x\"\ntype = \"http\"\n"));
    CHECK(d.messages().find("origin[0].address: required key is missing") != std::string::npos);
}

TEST_CASE("Edge config: shadowed behaviors are warnings, not errors", "[edge][config][warnings]") {
    ConfigDir d;
    auto c = d.load(std::string(kBucketOrigin) + R"(
[[behavior]]
path_pattern = "/assets/*"
origin = "site"
[[behavior]]
path_pattern = "/assets/*.js"
origin = "site"
[[behavior]]
path_pattern = "*"
origin = "site"
[[behavior]]
path_pattern = "/late/*"
origin = "site"
)");
    INFO(d.messages());
    REQUIRE(c); // warnings only
    std::string m = d.messages();
    CHECK(m.find("warning: edge.toml:11:16: behavior[1].path_pattern: \"/assets/*.js\" can never match: behavior[0] "
                 "(\"/assets/*\") comes first and matches every such path") != std::string::npos);
    CHECK(m.find("behavior[3].path_pattern: \"/late/*\" can never match: behavior[2] (\"*\")") != std::string::npos);
    CHECK(d.diags.error_count() == 0);
}

TEST_CASE("Edge config: several origins without behaviors use the first, with a warning", "[edge][config]") {
    ConfigDir d;
    auto c = d.load(std::string(kBucketOrigin) + "[[origin]]\nname = \"b\"\ntype = \"bucket\"\npath = \"site\"\n");
    REQUIRE(c);
    CHECK(c->sites[0].behaviors.size() == 1);
    CHECK(c->sites[0].behaviors[0].origin_name == "site");
    CHECK(d.messages().find("no [[behavior]]: every request goes to the first origin \"site\"") != std::string::npos);
}

TEST_CASE("Path patterns: CloudFront wildcard semantics", "[edge][config][pattern]") {
    CHECK(path_pattern_matches("*", "/"));
    CHECK(path_pattern_matches("*", "/a/b/c.js"));
    CHECK(path_pattern_matches("/assets/*", "/assets/app.js"));
    CHECK(path_pattern_matches("/assets/*", "/assets/"));
    CHECK(path_pattern_matches("/assets/*", "/assets/deep/x.png"));
    CHECK_FALSE(path_pattern_matches("/assets/*", "/assets"));
    CHECK_FALSE(path_pattern_matches("/assets/*", "/other/assets/x"));
    CHECK(path_pattern_matches("*.html", "/index.html"));
    CHECK(path_pattern_matches("*.html", "/a/b.html"));
    CHECK_FALSE(path_pattern_matches("*.html", "/a/b.html.bak"));
    CHECK_FALSE(path_pattern_matches("*.html", "/a/b.HTML")); // case-sensitive
    CHECK(path_pattern_matches("/img/?.png", "/img/a.png"));
    CHECK_FALSE(path_pattern_matches("/img/?.png", "/img/ab.png"));
    CHECK_FALSE(path_pattern_matches("/img/?.png", "/img/.png"));
    CHECK(path_pattern_matches("/a*b*c", "/aXXbYYc"));
    CHECK(path_pattern_matches("/a*b*c", "/abc"));
    CHECK_FALSE(path_pattern_matches("/a*b*c", "/acb"));
    CHECK(path_pattern_matches("/exact", "/exact"));
    CHECK_FALSE(path_pattern_matches("/exact", "/exact/"));
    // Pathological backtracking stays bounded (no recursion blow-up).
    std::string long_path = "/" + std::string(5000, 'a');
    CHECK_FALSE(path_pattern_matches("/*a*a*a*a*a*b", long_path));

    CHECK(path_pattern_covers("*", "/anything/*"));
    CHECK(path_pattern_covers("/assets/*", "/assets/*.js"));
    CHECK(path_pattern_covers("*.js", "/assets/*.js"));
    CHECK(path_pattern_covers("/a/?", "/a/b"));
    CHECK_FALSE(path_pattern_covers("/assets/*.js", "/assets/*"));
    CHECK_FALSE(path_pattern_covers("/a/?", "/a/*"));
    CHECK_FALSE(path_pattern_covers("/assets/*", "*"));
}

TEST_CASE("Allowed methods sets", "[edge][config]") {
    CHECK(method_allowed(AllowedMethods::get_head, "GET"));
    CHECK(method_allowed(AllowedMethods::get_head, "HEAD"));
    CHECK_FALSE(method_allowed(AllowedMethods::get_head, "OPTIONS"));
    CHECK_FALSE(method_allowed(AllowedMethods::get_head, "POST"));
    CHECK(method_allowed(AllowedMethods::get_head_options, "OPTIONS"));
    CHECK_FALSE(method_allowed(AllowedMethods::get_head_options, "DELETE"));
    for (const char* m :
         {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE", "M-SEARCH", "PROPFIND", "PURGE"}) {
        CHECK(method_allowed(AllowedMethods::all, m));
    }
    CHECK_FALSE(method_allowed(AllowedMethods::all, "TRACE"));
    CHECK_FALSE(method_allowed(AllowedMethods::all, "CONNECT"));
    CHECK(allow_header(AllowedMethods::get_head) == "GET, HEAD");
    CHECK(allow_header(AllowedMethods::all) == "GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE");
    CHECK(to_string(AllowedMethods::get_head_options) == "GET_HEAD_OPTIONS");
}

TEST_CASE("Edge config: the shipped example and demo configs are valid", "[edge][config][examples]") {
    for (const char* rel : {"conf/examples/edge-bucket.toml", "conf/examples/edge-http.toml",
                            "conf/examples/edge-rfc9111.toml", "conf/examples/edge-sites.toml",
                            "conf/examples/edge-tls.toml", "conf/examples/edge-tiers.toml", "conf/demo/edge.toml"}) {
        std::string path = std::string(MERIDIAN_SRC) + "/" + rel;
        if (!fs::exists(path)) continue; // the demo config belongs to another part and may not exist yet
        shared::ConfigDiagnostics diags;
        auto c = load_edge_config(path, diags);
        INFO(rel << ":\n" << diags.to_string());
        CHECK(c.has_value());
        CHECK(diags.all().empty()); // not even warnings
        if (c) {
            CHECK(c->common.listen.at(0).to_string() == "127.0.0.1:8080");
            CHECK(c->sites[0].behaviors.back().path_pattern == "*");
        }
    }
}

TEST_CASE("Edge config: https origins get one TLS context per load, verifying by default", "[edge][config][tls]") {
    ConfigDir d;
    auto c = d.load(R"(
[[origin]]
name = "s3"
type = "http"
address = "bucket.example:443"
tls = true
[[origin]]
name = "lab"
type = "http"
address = "10.0.0.1:8443"
tls = true
tls_verify = false
tls_server_name = "lab.example"
[[origin]]
name = "plain"
type = "http"
address = "h:80"
)");
    INFO(d.messages());
    REQUIRE(c);
    const OriginConfig& s3 = c->origins[0];
    CHECK(s3.tls);
    CHECK(s3.tls_verify);
    CHECK(s3.tls_ca_file.empty());
    CHECK(s3.tls_server_name.empty());
    REQUIRE(s3.tls_context);
    const OriginConfig& lab = c->origins[1];
    CHECK_FALSE(lab.tls_verify);
    CHECK(lab.tls_server_name == "lab.example");
    REQUIRE(lab.tls_context);
    CHECK(lab.tls_context != s3.tls_context);
    CHECK_FALSE(c->origins[2].tls);
    CHECK_FALSE(c->origins[2].tls_context);

    // A reload is a new load: new contexts (so a replaced CA file is read again).
    auto again = d.load(R"(
[[origin]]
name = "s3"
type = "http"
address = "bucket.example:443"
tls = true
)");
    REQUIRE(again);
    REQUIRE(again->origins[0].tls_context);
    CHECK(again->origins[0].tls_context != s3.tls_context);
}

TEST_CASE("Edge config: compression keys, defaults and inheritance from [cache]", "[edge][config][compress]") {
    ConfigDir d;
    auto c = d.load(kBucketOrigin);
    REQUIRE(c);
    CHECK(c->sites[0].behaviors[0].compress); // CloudFront console default
    CHECK(c->sites[0].behaviors[0].brotli_quality == 5);
    CHECK(c->sites[0].behaviors[0].gzip_level == 6);
    CHECK(c->cache.compress_timeout_ms == 2'000);

    c = d.load(std::string(kBucketOrigin) + R"(
[cache]
brotli_quality = 4
gzip_level = 5
compress_timeout = "500ms"
[[behavior]]
path_pattern = "/raw/*"
origin = "site"
compress = false
[[behavior]]
path_pattern = "/max/*"
origin = "site"
brotli_quality = 11
gzip_level = 9
[[behavior]]
origin = "site"
)");
    INFO(d.messages());
    REQUIRE(c);
    REQUIRE(c->sites[0].behaviors.size() == 3);
    CHECK_FALSE(c->sites[0].behaviors[0].compress);
    CHECK(c->sites[0].behaviors[0].brotli_quality == 4);
    CHECK(c->sites[0].behaviors[1].compress);
    CHECK(c->sites[0].behaviors[1].brotli_quality == 11);
    CHECK(c->sites[0].behaviors[1].gzip_level == 9);
    CHECK(c->sites[0].behaviors[2].brotli_quality == 4);
    CHECK(c->sites[0].behaviors[2].gzip_level == 5);
    CHECK(c->cache.compress_timeout_ms == 500);

    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[cache]\nbrotli_quality = 12\n"));
    CHECK(d.messages().find("cache.brotli_quality") != std::string::npos);
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[cache]\ngzip_level = 0\n"));
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[cache]\ncompress_timeout = \"0s\"\n"));
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[[behavior]]\norigin = \"site\"\ngzip_level = 10\n"));
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[[behavior]]\norigin = \"site\"\ncompress = \"yes\"\n"));
}

TEST_CASE("Edge config: per-key table budgets and the shutdown timeout", "[edge][config]") {
    ConfigDir d;
    auto c = d.load(kBucketOrigin);
    REQUIRE(c);
    CHECK(c->cache.hit_for_miss_max_bytes == 16ull << 20);
    CHECK(c->cache.collapse_max_bytes == 16ull << 20);
    CHECK(c->health.shutdown_timeout_ms == 30'000);
    c = d.load(std::string(kBucketOrigin) + R"(
[cache]
hit_for_miss_max_bytes = "2MiB"
collapse_max_bytes = "512KiB"
[health]
shutdown_timeout = "5s"
)");
    INFO(d.messages());
    REQUIRE(c);
    CHECK(c->cache.hit_for_miss_max_bytes == 2ull << 20);
    CHECK(c->cache.collapse_max_bytes == 512ull << 10);
    CHECK(c->health.shutdown_timeout_ms == 5000);
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[cache]\nhit_for_miss_max_bytes = \"lots\"\n"));
    CHECK(d.messages().find("cache.hit_for_miss_max_bytes") != std::string::npos);
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[health]\nshutdown_timeout = -1\n"));
    CHECK(d.messages().find("health.shutdown_timeout") != std::string::npos);
}

TEST_CASE("Edge config: origin request and cache key policies", "[edge][config]") {
    ConfigDir d;
    auto c = d.load(kBucketOrigin);
    REQUIRE(c);
    const BehaviorConfig& def = c->sites[0].behaviors.back();
    CHECK(def.forward_headers == ForwardPolicy::all); // as nginx and Varnish
    CHECK(def.forward_cookies == ForwardPolicy::all);
    CHECK(def.cache_key_headers.empty());
    c = d.load(std::string(kBucketOrigin) + R"(
[[behavior]]
origin = "site"
forward_headers = "allowlist"
forward_headers_allowlist = ["X-Req-Num", "accept-language", "x-req-num"]
forward_cookies = "none"
cache_key_headers = ["X-Device", "Accept-Language"]
cache_key_cookies = ["theme"]
)");
    INFO(d.messages());
    REQUIRE(c);
    const BehaviorConfig& b = c->sites[0].behaviors.back();
    CHECK(b.forward_headers == ForwardPolicy::allowlist);
    CHECK(b.forward_headers_allowlist == std::vector<std::string>{"accept-language", "x-req-num"});
    CHECK(b.forward_cookies == ForwardPolicy::none);
    CHECK(b.cache_key_headers == std::vector<std::string>{"x-device", "accept-language"}); // config order
    CHECK(b.cache_key_cookies == std::vector<std::string>{"theme"});
}

TEST_CASE("Edge config: custom error responses", "[edge][config]") {
    ConfigDir d;
    auto c = d.load(std::string(kBucketOrigin) + R"(
[[error_response]]
status = 404
page = "/app/../index.html"
response_status = 200
[[error_response]]
status = 503
caching_min_ttl = "0s"
)");
    INFO(d.messages());
    REQUIRE(c);
    REQUIRE(c->sites[0].error_responses.size() == 2);
    const ErrorResponseConfig* e = find_error_response(c->sites[0], 404);
    REQUIRE(e);
    CHECK(e->page == "/index.html"); // normalized like a request path
    CHECK(e->response_status == 200);
    CHECK(e->caching_min_ttl_ms == -1);
    CHECK(find_error_response(c->sites[0], 503)->caching_min_ttl_ms == 0);
    CHECK(find_error_response(c->sites[0], 500) == nullptr);
}

TEST_CASE("Edge config: the invalidation token file", "[edge][config]") {
    ConfigDir d;
    std::ofstream(d.dir / "token") << "0123456789abcdef-token\n";
    std::ofstream(d.dir / "short") << "abc\n";
    auto c = d.load(std::string(kBucketOrigin) + "[invalidation]\ntoken_file = \"token\"\n");
    INFO(d.messages());
    REQUIRE(c);
    CHECK(c->invalidation_token == "0123456789abcdef-token");
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[invalidation]\ntoken_file = \"short\"\n"));
    CHECK(d.messages().find("invalidation.token_file") != std::string::npos);
    CHECK(d.messages().find("at least 16 characters") != std::string::npos);
    CHECK_FALSE(d.load(std::string(kBucketOrigin) + "[invalidation]\ntoken_file = \"missing\"\n"));
    CHECK(d.messages().find("cannot be read") != std::string::npos);
    CHECK(d.load(kBucketOrigin)->invalidation_token.empty());
}

TEST_CASE("Edge config: SigV4 origin signing", "[edge][config][sigv4]") {
    ConfigDir d;
    ::setenv("MERIDIAN_TEST_SECRET", "s3cr3t/+", 1);
    auto c = d.load(R"(
[[origin]]
name = "s3"
type = "http"
address = "my-bucket.s3.eu-west-3.amazonaws.com:443"
tls = true
[origin.sigv4]
access_key_id = "AKIAIOSFODNN7EXAMPLE"
secret_access_key = "${MERIDIAN_TEST_SECRET}"
region = "eu-west-3"
)");
    INFO(d.messages());
    REQUIRE(c);
    REQUIRE(c->origins[0].sigv4);
    CHECK(c->origins[0].sigv4->secret_access_key == "s3cr3t/+");
    CHECK(c->origins[0].sigv4->region == "eu-west-3");
    CHECK(c->origins[0].sigv4->service == "s3");
    CHECK(c->origins[0].sigv4->session_token.empty());

    struct Bad {
        const char* body;
        const char* words;
    } bad[] = {
        {"type = \"http\"\naddress = \"h:80\"\n[origin.sigv4]\naccess_key_id = \"A\"\nregion = \"us-east-1\"\n",
         "sigv4.secret_access_key: required key is missing"},
        {"type = \"http\"\naddress = \"h:80\"\n[origin.sigv4]\naccess_key_id = \"A\"\nsecret_access_key = \"x\"\n"
         "region = \"US East\"\n",
         "sigv4.region: expected a region"},
        {"type = \"http\"\naddress = \"h:80\"\n[origin.sigv4]\naccess_key_id = \"A\"\nsecret_access_key = \"x\"\n"
         "region = \"us-east-1\"\nsecret = \"y\"\n",
         "sigv4.secret: unknown key"},
        {"type = \"bucket\"\npath = \"site\"\n[origin.sigv4]\naccess_key_id = \"A\"\nsecret_access_key = \"x\"\n"
         "region = \"us-east-1\"\n",
         "sigv4: only valid for type = \"http\""},
    };
    for (const auto& b : bad) {
        auto x = d.load(std::string("[[origin]]\nname = \"o\"\n") + b.body);
        INFO(b.body << "\n" << d.messages());
        CHECK_FALSE(x);
        CHECK(d.messages().find(b.words) != std::string::npos);
    }
}

TEST_CASE("Edge config: [[site]] tables with their own origins, behaviors and error responses",
          "[edge][config][sites]") {
    ConfigDir d;
    fs::create_directories(d.dir / "blog");
    auto c = d.load(R"(
[[site]]
name = "www"
hosts = ["Example.com", "www.example.com."]
default = true
[[site.origin]]
name = "bucket"
type = "bucket"
path = "site"
[[site.error_response]]
status = 404
page = "/404.html"

[[site]]
name = "blog"
hosts = ["*.blog.example.com", "[::1]"]
[[site.origin]]
name = "bucket"
type = "bucket"
path = "blog"
[[site.behavior]]
path_pattern = "/assets/*"
origin = "bucket"
default_ttl = "1h"
[[site.behavior]]
path_pattern = "*"
origin = "bucket"
)");
    INFO(d.messages());
    REQUIRE(c);
    REQUIRE(c->sites.size() == 2);
    const SiteConfig& www = c->sites[0];
    const SiteConfig& blog = c->sites[1];
    CHECK(www.name == "www");
    CHECK(www.hosts == std::vector<std::string>{"example.com", "www.example.com"});
    CHECK(www.is_default);
    CHECK(www.key_prefix == "www ");
    REQUIRE(www.behaviors.size() == 1);
    CHECK(www.behaviors[0].implicit);
    CHECK(find_error_response(www, 404) != nullptr);
    CHECK(find_error_response(blog, 404) == nullptr);
    CHECK(blog.hosts == std::vector<std::string>{"*.blog.example.com", "[::1]"});
    CHECK_FALSE(blog.is_default);
    REQUIRE(blog.behaviors.size() == 2);
    CHECK(blog.behaviors[0].default_ttl_ms == 3'600'000);
    // Origins are numbered over all sites; each behavior points at its own site's origin of that name.
    REQUIRE(c->origins.size() == 2);
    CHECK(c->origins[www.behaviors[0].origin_index].path == fs::canonical(d.dir / "site").string());
    CHECK(c->origins[blog.behaviors[0].origin_index].path == fs::canonical(d.dir / "blog").string());
    CHECK(blog.behaviors[1].site_index == 1);
    CHECK(c->origins[1].site_name == "blog");

    CHECK(match_site(*c, "EXAMPLE.com:8080") == &www);
    CHECK(match_site(*c, "a.blog.example.com") == &blog);
    CHECK(match_site(*c, "[::1]:8080") == &blog);
    CHECK(match_site(*c, "unknown.example.org") == &www);  // the default site
    CHECK(match_site(*c, "a.b.blog.example.com") == &www); // one label only, so the default
}

TEST_CASE("Edge config: the top-level tables form the default site beside [[site]]s", "[edge][config][sites]") {
    ConfigDir d;
    auto c = d.load(std::string(kBucketOrigin) + R"(
[[site]]
name = "blog"
hosts = ["blog.example.com"]
[[site.origin]]
name = "site"
type = "bucket"
path = "site"
)");
    INFO(d.messages());
    REQUIRE(c);
    REQUIRE(c->sites.size() == 2);
    CHECK(c->sites[0].name.empty());
    CHECK(c->sites[0].key_prefix.empty()); // a single-site config keeps its cache keys
    CHECK(match_site(*c, "anything") == &c->sites[0]);
    CHECK(match_site(*c, "") == &c->sites[0]);
    CHECK(match_site(*c, "blog.example.com") == &c->sites[1]);
}

TEST_CASE("Edge config: without a default site unknown hosts match nothing", "[edge][config][sites]") {
    ConfigDir d;
    auto c = d.load(R"(
[[site]]
name = "blog"
hosts = ["blog.example.com"]
[[site.origin]]
name = "site"
type = "bucket"
path = "site"
)");
    INFO(d.messages());
    REQUIRE(c);
    REQUIRE(c->sites.size() == 1);
    CHECK(match_site(*c, "blog.example.com") == &c->sites[0]);
    CHECK(match_site(*c, "other.example.com") == nullptr); // answered 421
}

TEST_CASE("Edge config: site errors name file:line and the key of both claims", "[edge][config][sites][errors]") {
    ConfigDir d;
    const std::string site_a = "[[site]]\nname = \"a\"\nhosts = [\"a.example.com\", \"shared.example.com\"]\n"
                               "[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\npath = \"site\"\n";
    struct Case {
        std::string text;
        std::string expected;
    };
    const Case cases[] = {
        {site_a + "[[site]]\nname = \"b\"\nhosts = [\"SHARED.example.com.\"]\n[[site.origin]]\nname = \"o\"\n"
                  "type = \"bucket\"\npath = \"site\"\n",
         "edge.toml:10:9: site[1].hosts: \"SHARED.example.com.\" is already claimed by site \"a\" at edge.toml:3:9 "
         "(site[0].hosts)"},
        {site_a + "[[site]]\nname = \"a\"\nhosts = [\"b.example.com\"]\n[[site.origin]]\nname = \"o\"\n"
                  "type = \"bucket\"\npath = \"site\"\n",
         "edge.toml:9:8: site[1].name: site name \"a\" is already used at edge.toml:2:8 (site[0].name)"},
        {"[[site]]\nname = \"a\"\nhosts = [\"a..example.com\"]\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\n"
         "path = \"site\"\n",
         "edge.toml:3:9: site[0].hosts: \"a..example.com\" is not a host name"},
        {"[[site]]\nname = \"a\"\nhosts = [\"a.example.com:80\"]\n[[site.origin]]\nname = \"o\"\n"
         "type = \"bucket\"\npath = \"site\"\n",
         "edge.toml:3:9: site[0].hosts: \"a.example.com:80\": no port"},
        {"[[site]]\nname = \"a\"\ndefault = true\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\npath = \"site\"\n"
         "[[site]]\nname = \"b\"\ndefault = true\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\npath = \"site\"\n",
         "edge.toml:10:11: site[1].default: a second default site: edge.toml:3:11 (site[0].default) already answers "
         "every host no site claims"},
        {std::string(kBucketOrigin) + "[[site]]\nname = \"b\"\ndefault = true\n[[site.origin]]\nname = \"o\"\n"
                                      "type = \"bucket\"\npath = \"site\"\n",
         "edge.toml:8:11: site[0].default: a second default site: edge.toml:2:1 (origin), the top-level site"},
        {"[[site]]\nname = \"a\"\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\npath = \"site\"\n",
         "site[0].hosts: required: the host names this site answers (or default = true)"},
        {"[[site]]\nname = \"a\"\nhosts = []\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\npath = \"site\"\n",
         "edge.toml:3:9: site[0].hosts: an empty list: this site would answer no request"},
        {"[[site]]\nname = \"a b\"\nhosts = [\"a.example.com\"]\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\n"
         "path = \"site\"\n",
         "edge.toml:2:8: site[0].name: \"a b\": 1 to 64 letters"},
        {"[[site]]\nhosts = [\"a.example.com\"]\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\npath = \"site\"\n",
         "site[0].name: "},
        {"[[site]]\nname = \"a\"\nhosts = [\"a.example.com\"]\n",
         "site[0].origin: at least one [[site.origin]] is required"},
        {"[[site]]\nname = \"a\"\nhosts = [\"a.example.com\"]\n[[site.origin]]\nname = \"o\"\ntype = \"bucket\"\n"
         "path = \"site\"\n[[site.behavior]]\npath_pattern = \"*\"\norigin = \"top\"\n",
         "edge.toml:10:10: site[0].behavior[0].origin: no [[site.origin]] named \"top\""},
        {"[[site]]\nname = \"a\"\nhosts = [\"a.example.com\"]\ncolour = 1\n[[site.origin]]\nname = \"o\"\n"
         "type = \"bucket\"\npath = \"site\"\n",
         "edge.toml:4:1: site[0].colour: unknown key"},
    };
    for (const Case& k : cases) {
        auto c = d.load(k.text);
        INFO(k.text);
        INFO(d.messages());
        CHECK_FALSE(c);
        CHECK(d.messages().find(k.expected) != std::string::npos);
    }
}

TEST_CASE("Edge config: origin groups, tiers and CDN-Loop", "[edge][config][failover][tier]") {
    ConfigDir d;
    auto c = d.load(R"(
server_name = "edge-1"
[[origin]]
name = "a"
type = "http"
address = "127.0.0.1:8081"
cooldown = "3s"
[[origin]]
name = "b"
type = "http"
address = "127.0.0.1:8082"
[[origin]]
name = "tier"
type = "http"
parents = ["127.0.0.1:9001", "127.0.0.1:9002"]
[[behavior]]
path_pattern = "/api/*"
origin = "a"
failover_origin = "b"
failover_status = [404, 503]
[[behavior]]
origin = "tier"
failover_origin = "a"
)");
    INFO(d.messages());
    REQUIRE(c);
    CHECK(c->cdn_id == "edge-1"); // the server_name by default
    CHECK(c->cdn_loop_max == 4);
    const SiteConfig& s = c->sites[0];
    CHECK(c->origins[s.behaviors[0].failover_origin_index].name == "b");
    CHECK(s.behaviors[0].failover_status == std::vector<int>{404, 503});
    CHECK(s.behaviors[1].failover_status == std::vector<int>{500, 502, 503, 504});
    CHECK(c->origins[s.behaviors[1].failover_origin_index].name == "a");
    CHECK(c->origins[0].cooldown_ms == 3000);
    CHECK(c->origins[0].health);
    const OriginConfig& t = c->origins[2];
    REQUIRE(t.parents.size() == 2);
    CHECK(t.host_header_mode == HostHeaderMode::viewer);
    CHECK(t.parents[1].address == "127.0.0.1:9002");
    CHECK(t.parents[1].port == 9002);
    CHECK(t.parents[1].name == "tier/127.0.0.1:9002");
    CHECK(t.parents[0].health != t.parents[1].health);
    CHECK(t.parents[0].parent_hash != t.parents[1].parent_hash);
    CHECK(t.parents[0].parents.empty());

    auto bad = d.load(R"(
cdn_id = "two words"
[[origin]]
name = "a"
type = "http"
address = "127.0.0.1:1"
parents = ["127.0.0.1:2", "127.0.0.1:2"]
[[origin]]
name = "site"
type = "bucket"
path = "site"
[[behavior]]
path_pattern = "/x/*"
origin = "a"
failover_origin = "nope"
failover_status = [501]
[[behavior]]
path_pattern = "/y/*"
origin = "a"
failover_origin = "site"
[[behavior]]
origin = "site"
failover_status = [500]
)");
    CHECK_FALSE(bad);
    std::string m = d.messages();
    CHECK(m.find("cdn_id: must be a non-empty token") != std::string::npos);
    CHECK(m.find("origin[0].address: not with parents") != std::string::npos);
    CHECK(m.find("\"127.0.0.1:2\" is listed twice") != std::string::npos);
    CHECK(m.find("no [[origin]] named \"nope\"") != std::string::npos);
    CHECK(m.find("501 is not one of 400, 403, 404, 416, 500, 502, 503, 504") != std::string::npos);
    CHECK(m.find("both origins of a failover pair must be type = \"http\"") != std::string::npos);
    CHECK(m.find("behavior[2].failover_status: only used with failover_origin") != std::string::npos);
}
