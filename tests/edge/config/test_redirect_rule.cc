#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "edge/config/edge_config.h"
#include "edge/config/redirect_rule.h"

using namespace edge;

namespace {

struct Routing {
    shared::ConfigDiagnostics diags;
    ViewerRouting r;
    explicit Routing(const std::string& text) {
        auto file = shared::ConfigFile::parse(text, "edge.toml", diags);
        REQUIRE(file);
        shared::ConfigSection root = file->root();
        r = parse_viewer_routing(root);
        root.finish();
    }
    std::string messages() const { return diags.to_string(); }
};

} // namespace

TEST_CASE("Redirects: $host, $path, $query substitution with percent-encoding", "[edge][config][redirect]") {
    std::string out;
    expand_redirect("https://example.com$path$query", "www.example.com", "/a b/ü?#%", "x=1&y=%zz&z=%2F", &out);
    CHECK(out == "https://example.com/a%20b/%C3%BC%3F%23%25?x=1&y=%25zz&z=%2F");
    expand_redirect("https://example.com$path$query", "www.example.com", "/docs/", "", &out);
    CHECK(out == "https://example.com/docs/"); // no '?' without a query
    expand_redirect("https://$host/new$path", "example.com:8080", "/x", "q", &out);
    CHECK(out == "https://example.com:8080/new/x");
    expand_redirect("/price$$$path", "h", "/x", "", &out);
    CHECK(out == "/price$/x");
    expand_redirect("https://x.test$query", "h", "/", "a=\"<b>\"", &out);
    CHECK(out == "https://x.test?a=%22%3Cb%3E%22");
}

TEST_CASE("Redirects: hosts and ports", "[edge][config][redirect]") {
    CHECK(host_is_safe("www.example.com"));
    CHECK(host_is_safe("[::1]:8080"));
    CHECK_FALSE(host_is_safe(""));
    CHECK_FALSE(host_is_safe("evil.com/x"));
    CHECK_FALSE(host_is_safe("a b"));
    CHECK(host_without_port("example.com:8080") == "example.com");
    CHECK(host_without_port("example.com") == "example.com");
    CHECK(host_without_port("[::1]:8080") == "[::1]");
    CHECK(host_without_port("[::1]") == "[::1]");
}

TEST_CASE("Rewrites: SPA routes and folder index documents", "[edge][config][rewrite]") {
    std::string out;
    RewriteRule spa{"/index.html", RewriteWhen::no_extension};
    CHECK(apply_rewrite(spa, "/app/users/42", &out));
    CHECK(out == "/index.html");
    CHECK(apply_rewrite(spa, "/app/", &out));
    CHECK(out == "/index.html");
    out = "untouched";
    CHECK_FALSE(apply_rewrite(spa, "/app/main.3f2a.js", &out));
    CHECK(out == "untouched");
    RewriteRule docs{"$path/index.html", RewriteWhen::no_extension};
    CHECK(apply_rewrite(docs, "/docs", &out));
    CHECK(out == "/docs/index.html");
    CHECK(apply_rewrite(docs, "/docs/", &out));
    CHECK(out == "/docs/index.html"); // no "//"
    CHECK_FALSE(apply_rewrite(RewriteRule{}, "/x", &out));
    RewriteRule always{"/v2$path", RewriteWhen::always};
    CHECK(apply_rewrite(always, "/a.css", &out));
    CHECK(out == "/v2/a.css");
}

TEST_CASE("Redirects and rewrites: config keys and their errors", "[edge][config][redirect]") {
    Routing ok("redirect = \"https://example.com$path$query\"\nredirect_status = 302\n"
               "viewer_protocol_policy = \"redirect-to-https\"\n");
    INFO(ok.messages());
    CHECK(ok.diags.all().empty());
    CHECK(ok.r.redirect.target == "https://example.com$path$query");
    CHECK(ok.r.redirect.status == 302);
    CHECK(ok.r.protocol == ViewerProtocolPolicy::redirect_to_https);
    Routing rw("rewrite_path = \"/index.html\"\nrewrite_when = \"no_extension\"\n");
    CHECK(rw.diags.all().empty());
    CHECK(rw.r.rewrite.when == RewriteWhen::no_extension);

    struct Case {
        const char* text;
        const char* want;
    } cases[] = {
        {"redirect = \"https://example.com$uri\"", "edge.toml:1:12: redirect: \"https://example.com$uri\": unknown "
                                                   "variable"},
        {"redirect = \"https://example.com/a b\"", "must be percent-encoded"},
        {"redirect = \"example.com$path\"", "must be an absolute URL"},
        {"redirect = \"//example.com$path\"", "scheme-relative"},
        {"redirect = \"/x\"\nredirect_status = 304", "redirect_status: must be 301, 302, 303, 307 or 308"},
        {"redirect_status = 301", "redirect_status: only used with redirect"},
        {"rewrite_path = \"index.html\"", "rewrite_path: \"index.html\" must start with '/' or $path"},
        {"rewrite_path = \"/a?b=1\"", "a path only"},
        {"rewrite_path = \"/a/../b\"", "no dot segments"},
        {"rewrite_path = \"$query\"", "must start with '/' or $path"},
        {"rewrite_path = \"$path$query\"", "unknown variable"},
        {"rewrite_when = \"no_extension\"", "rewrite_when: only used with rewrite_path"},
        {"rewrite_path = \"/i.html\"\nredirect = \"/x\"", "either redirects or rewrites"},
        {"viewer_protocol_policy = \"https\"", "viewer_protocol_policy"},
    };
    for (const Case& c : cases) {
        Routing r(std::string(c.text) + "\n");
        INFO(c.text << "\n" << r.messages());
        CHECK(r.diags.error_count() > 0);
        CHECK(r.messages().find(c.want) != std::string::npos);
    }
}

TEST_CASE("Redirects: a site that only redirects needs no origin", "[edge][config][redirect]") {
    char tmpl[] = "/tmp/meridian-redirect-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::filesystem::path dir = tmpl;
    std::filesystem::create_directories(dir / "site");
    std::string file = (dir / "edge.toml").string();
    auto load = [&](const std::string& text, shared::ConfigDiagnostics& diags) {
        std::ofstream(file) << text;
        return load_edge_config(file, diags);
    };
    const std::string www = "[[site]]\nname = \"www\"\nhosts = [\"www.example.com\"]\n[[site.behavior]]\n"
                            "path_pattern = \"*\"\nredirect = \"https://example.com$path$query\"\n";
    shared::ConfigDiagnostics ok;
    auto c = load("[[site]]\nname = \"apex\"\nhosts = [\"example.com\"]\n[[site.origin]]\nname = \"o\"\n"
                  "type = \"bucket\"\npath = \"site\"\n" +
                      www,
                  ok);
    INFO(ok.to_string());
    REQUIRE(c);
    CHECK(ok.all().empty());
    shared::ConfigDiagnostics half;
    // A behavior that does not redirect needs an origin to go to.
    CHECK_FALSE(load("[[site]]\nname = \"www\"\nhosts = [\"www.example.com\"]\n[[site.behavior]]\npath_pattern = "
                     "\"/old/*\"\nredirect = \"/new$path\"\n[[site.behavior]]\npath_pattern = \"*\"\n",
                     half));
    CHECK(half.to_string().find("at least one [[site.origin]] is required") != std::string::npos);
    shared::ConfigDiagnostics none;
    CHECK_FALSE(load(www, none)); // no origin anywhere
    CHECK(none.to_string().find("at least one origin is required") != std::string::npos);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}
