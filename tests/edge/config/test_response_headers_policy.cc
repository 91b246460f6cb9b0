#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "edge/config/edge_config.h"
#include "edge/config/response_headers_policy.h"
#include "tests/edge/config/config_dir.h"

using namespace edge;
namespace fs = std::filesystem;

namespace {

// Parses `text` as one file and returns its [[response_headers_policy]] tables.
struct Policies {
    shared::ConfigDiagnostics diags;
    std::optional<shared::ConfigFile> file;
    std::vector<std::shared_ptr<const ResponseHeadersPolicy>> list;
    explicit Policies(const std::string& text) {
        file = shared::ConfigFile::parse(text, "edge.toml", diags);
        REQUIRE(file);
        shared::ConfigSection root = file->root();
        list = parse_response_headers_policies(root);
    }
    std::string messages() const { return diags.to_string(); }
    const ResponseHeadersPolicy& only() {
        INFO(messages());
        REQUIRE(list.size() == 1);
        return *list[0];
    }
};

// The fixture; load() puts a bucket origin "site" before the text.
struct ConfigDir : testing::ConfigDir {
    std::optional<EdgeConfig> load(const std::string& text) {
        return testing::ConfigDir::load("[[origin]]\nname = \"site\"\ntype = \"bucket\"\npath = \"site\"\n" + text);
    }
};

} // namespace

TEST_CASE("Response headers policy: browser Cache-Control, security headers and custom headers render at load",
          "[edge][config][headers]") {
    Policies p(R"(
[[response_headers_policy]]
name = "assets"
cache_control = "public, max-age=31536000, immutable"
hsts_max_age = "730d"
hsts_include_subdomains = true
hsts_preload = true
content_type_options = true
frame_options = "SAMEORIGIN"
referrer_policy = "strict-origin-when-cross-origin"
content_security_policy = "default-src 'self'"
headers = [{ name = "X-Robots-Tag", value = "noindex" }, { name = "X-Team", value = "web", override = false }]
remove_headers = ["Server", "X-Powered-By", "x-amz-*"]
)");
    const ResponseHeadersPolicy& r = p.only();
    INFO(p.messages());
    CHECK(p.diags.all().empty());
    REQUIRE(r.headers.size() == 8);
    CHECK(r.headers[0].line == "Cache-Control: public, max-age=31536000, immutable\r\n");
    CHECK(r.headers[1].line == "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n");
    CHECK(r.headers[2].line == "X-Content-Type-Options: nosniff\r\n");
    CHECK(r.headers[3].line == "X-Frame-Options: SAMEORIGIN\r\n");
    CHECK(r.headers[4].line == "Referrer-Policy: strict-origin-when-cross-origin\r\n");
    CHECK(r.headers[5].line == "Content-Security-Policy: default-src 'self'\r\n");
    CHECK(r.headers[6].line == "X-Robots-Tag: noindex\r\n");
    CHECK(r.headers[7].override == false);
    CHECK(r.remove_server);
    CHECK_FALSE(r.remove_via);
    // drops(): removed names (prefixes too), the override headers' names; never the add-if-absent ones.
    CHECK(r.drops("server"));
    CHECK(r.drops("X-POWERED-BY"));
    CHECK(r.drops("x-amz-request-id"));
    CHECK(r.drops("cache-control"));
    CHECK_FALSE(r.drops("x-team"));
    CHECK_FALSE(r.drops("content-type"));
    CHECK_FALSE(r.drops("x-am"));
    CHECK_FALSE(r.cors.enabled);
}

TEST_CASE("Response headers policy: bad values are errors naming file:line and key", "[edge][config][headers]") {
    struct Case {
        const char* body;
        const char* want;
    } cases[] = {
        {"cache_control = \"a\\r\\nSet-Cookie: x\"", "edge.toml:4:17: response_headers_policy[0].cache_control:"},
        {"frame_options = \"ALLOW\"", "response_headers_policy[0].frame_options"},
        {"referrer_policy = \"sometimes\"", "response_headers_policy[0].referrer_policy"},
        {"remove_headers = [\"Content-Length\"]", "response_headers_policy[0].remove_headers: \"Content-Length\" "
                                                  "would remove"},
        {"remove_headers = [\"bad name\"]", "is not a header name"},
        {"headers = [{ name = \"Date\", value = \"x\" }]", "Date is managed by the edge"},
        {"headers = [{ name = \"Vary\", value = \"Cookie\" }]", "Vary is managed by the edge"},
        {"remove_headers = [\"vary\"]", "would remove a field the edge must send"},
        {"remove_headers = [\"content-*\"]", "would remove a field the edge must send"},
        {"headers = [{ name = \"X-A\", value = \"\" }]", "value: must be non-empty"},
        {"headers = [{ name = \"Access-Control-Allow-Origin\", value = \"*\" }]", "CORS fields are set with"},
        {"cache_control = \"no-cache\"\nheaders = [{ name = \"cache-control\", value = \"x\" }]", "sets cache-control "
                                                                                                  "twice"},
        {"cache_control = \"no-cache\"\nremove_headers = [\"Cache-Control\"]", "is also set by this policy"},
        {"cors_allow_origins = [\"*\"]\ncors_allow_credentials = true", "cannot be used with cors_allow_credentials"},
        {"cors_allow_origins = [\"app.example.com\"]", "is not an origin like"},
        {"cors_allow_origins = [\"https://a.*.example.com\"]", "is not an origin like"},
        {"cors_allow_origins = [\"https://x.com\"]\ncors_allow_methods = [\"FETCH\"]", "\"FETCH\" is not one of"},
        {"cors_max_age = \"10m\"", "cors_max_age: only used with cors_allow_origins"},
        {"hsts_preload = true", "hsts_preload: only used with hsts_max_age"},
        {"colour = \"red\"", "unknown key"},
    };
    for (const Case& c : cases) {
        Policies p(std::string("\n[[response_headers_policy]]\nname = \"p\"\n") + c.body + "\n");
        INFO(c.body << "\n" << p.messages());
        CHECK(p.list.empty());
        CHECK(p.messages().find(c.want) != std::string::npos);
    }
    Policies dup("[[response_headers_policy]]\nname = \"p\"\n[[response_headers_policy]]\nname = \"p\"\n");
    CHECK(dup.list.size() == 1);
    CHECK(dup.messages().find("duplicate response headers policy name \"p\"") != std::string::npos);
}

TEST_CASE("Response headers policy: CORS origin matching", "[edge][config][headers][cors]") {
    Policies p(R"(
[[response_headers_policy]]
name = "cors"
cors_allow_origins = ["https://App.Example.com", "https://*.example.org", "http://localhost:3000", "null"]
)");
    const CorsPolicy& c = p.only().cors;
    REQUIRE(c.enabled);
    CHECK_FALSE(c.any_origin);
    CHECK(cors_origin_allowed(c, "https://app.example.com"));
    CHECK(cors_origin_allowed(c, "HTTPS://APP.EXAMPLE.COM"));
    CHECK_FALSE(cors_origin_allowed(c, "http://app.example.com"));       // another scheme
    CHECK_FALSE(cors_origin_allowed(c, "https://app.example.com:8443")); // another port
    CHECK_FALSE(cors_origin_allowed(c, "https://app.example.com.evil.net"));
    CHECK(cors_origin_allowed(c, "https://a.example.org"));
    CHECK(cors_origin_allowed(c, "https://a.b.example.org"));
    CHECK_FALSE(cors_origin_allowed(c, "https://example.org")); // the wildcard wants a subdomain
    CHECK_FALSE(cors_origin_allowed(c, "https://evil.com/.example.org"));
    CHECK_FALSE(cors_origin_allowed(c, "https://evilexample.org"));
    CHECK(cors_origin_allowed(c, "http://localhost:3000"));
    CHECK_FALSE(cors_origin_allowed(c, "http://localhost:3001"));
    CHECK(cors_origin_allowed(c, "null"));
    CHECK_FALSE(cors_origin_allowed(c, ""));

    Policies any("[[response_headers_policy]]\nname = \"any\"\ncors_allow_origins = \"*\"\n");
    CHECK(cors_origin_allowed(any.only().cors, "https://whatever.test"));
}

TEST_CASE("Response headers policy: preflight decisions", "[edge][config][headers][cors]") {
    Policies p(R"(
[[response_headers_policy]]
name = "cors"
cors_allow_origins = ["https://app.example.com"]
cors_allow_methods = ["GET", "PUT"]
cors_allow_headers = ["X-Token", "Content-Type"]
cors_max_age = "1h"
cors_allow_credentials = true
[[response_headers_policy]]
name = "pass"
cors_allow_origins = "*"
cors_origin_override = false
)");
    INFO(p.messages());
    REQUIRE(p.list.size() == 2);
    const ResponseHeadersPolicy& r = *p.list[0];
    const std::string_view o = "https://app.example.com";
    CHECK(preflight_answer(&r, true, o, true, "PUT", false) == PreflightAnswer::allowed);
    CHECK(preflight_answer(&r, true, o, true, "PUT", true) == PreflightAnswer::allowed); // answered at the edge
    CHECK(preflight_answer(&r, true, o, true, "DELETE", false) == PreflightAnswer::refused);
    CHECK(preflight_answer(&r, true, o, true, "put", false) == PreflightAnswer::refused); // methods are case-sensitive
    CHECK(preflight_answer(&r, true, "https://evil.com", true, "GET", false) == PreflightAnswer::refused);
    CHECK(preflight_answer(&r, true, o, false, "", false) == PreflightAnswer::not_preflight); // plain OPTIONS
    CHECK(preflight_answer(&r, true, "", true, "GET", false) == PreflightAnswer::not_preflight);
    CHECK(preflight_answer(&r, false, o, true, "GET", false) == PreflightAnswer::not_preflight);
    CHECK(preflight_answer(nullptr, true, o, true, "GET", false) == PreflightAnswer::not_preflight);
    CHECK(r.preflight_lines == "Access-Control-Allow-Methods: GET, PUT\r\nAccess-Control-Allow-Credentials: true\r\n"
                               "Access-Control-Max-Age: 3600\r\n");
    CHECK(r.cors.allow_headers == "X-Token, Content-Type");
    CHECK(r.drops("Access-Control-Allow-Origin")); // origin_override (the default): the policy's CORS fields win
    const ResponseHeadersPolicy& pass = *p.list[1];
    CHECK(preflight_answer(&pass, true, o, true, "GET", true) == PreflightAnswer::to_origin);
    CHECK(preflight_answer(&pass, true, o, true, "GET", false) == PreflightAnswer::allowed);
    CHECK_FALSE(pass.drops("Access-Control-Allow-Origin"));
}

TEST_CASE("Response headers policy: behaviors reference policies by name", "[edge][config][headers]") {
    ConfigDir d;
    auto c = d.load(R"(
[[response_headers_policy]]
name = "assets"
cache_control = "public, max-age=31536000, immutable"
[[behavior]]
path_pattern = "/assets/*"
origin = "site"
response_headers_policy = "assets"
[[behavior]]
path_pattern = "*"
origin = "site"
)");
    INFO(d.diags.to_string());
    REQUIRE(c);
    REQUIRE(c->sites[0].behaviors[0].response_headers_policy);
    CHECK(c->sites[0].behaviors[0].response_headers_policy->name == "assets");
    CHECK_FALSE(c->sites[0].behaviors[1].response_headers_policy);

    auto bad = d.load("[[behavior]]\npath_pattern = \"*\"\norigin = \"site\"\nresponse_headers_policy = \"nope\"\n");
    CHECK_FALSE(bad);
    CHECK(d.diags.to_string().find("edge.toml:8:") != std::string::npos);
    CHECK(d.diags.to_string().find("behavior[0].response_headers_policy: no [[response_headers_policy]] named "
                                   "\"nope\"") != std::string::npos);
}

TEST_CASE("Response headers policy: the SPA example config is valid", "[edge][config][headers][examples]") {
    std::string path = std::string(MERIDIAN_SRC) + "/conf/examples/edge-spa.toml";
    shared::ConfigDiagnostics diags;
    auto c = load_edge_config(path, diags);
    INFO(diags.to_string());
    REQUIRE(c);
    CHECK(diags.all().empty()); // not even warnings
    CHECK(c->response_headers_policies.size() == 2);
    size_t with_policy = 0, redirects = 0, rewrites = 0;
    for (const BehaviorConfig& b : c->sites[0].behaviors) {
        with_policy += b.response_headers_policy != nullptr;
        redirects += !b.routing.redirect.target.empty();
        rewrites += !b.routing.rewrite.target.empty();
    }
    CHECK(with_policy == 3);
    CHECK(redirects == 1);
    CHECK(rewrites == 1);
}
