// What the edge sends to http origins: path encoding, Host per host_header, X-Forwarded-For / Via appended, the
// viewer's headers and cookies per the behavior's origin request policy, hop-by-hop headers never.
#include <catch2/catch.hpp>

#include <string>

#include "edge/http/request_parser.h"
#include "edge/proxy/origin_request.h"
#include "shared/http/http_tokens.h"

using namespace edge;

namespace {

struct Parsed {
    RequestParser parser{RequestLimits{}};
    explicit Parsed(const std::string& raw) {
        auto r = parser.feed(raw.data(), raw.size());
        REQUIRE(r.status == RequestParser::Status::complete);
    }
    const HttpRequest& req() const { return parser.request(); }
};

std::string value(const shared::HttpHeaders& h, const std::string& name) {
    const std::string* v = shared::find_header(h, name);
    return v ? *v : "<absent>";
}

} // namespace

TEST_CASE("paths are re-encoded for the origin request line", "[edge][proxy]") {
    std::string out;
    encode_path("/a b/ü/%/x?y#z", &out);
    CHECK(out == "/a%20b/%C3%BC/%25/x%3Fy%23z");
    encode_path("/assets/app.3f2a.js", &out);
    CHECK(out == "/assets/app.3f2a.js");
    encode_path(std::string("/nul\0x", 6), &out);
    CHECK(out == "/nul%00x");
}

TEST_CASE("Host follows the origin's host_header mode", "[edge][proxy]") {
    OriginConfig o;
    o.host = "origin.internal";
    o.port = 80;
    CHECK(origin_host_header(o, "www.example.com") == "origin.internal");
    o.port = 8081;
    CHECK(origin_host_header(o, "www.example.com") == "origin.internal:8081");
    o.host = "::1";
    CHECK(origin_host_header(o, "v") == "[::1]:8081");
    o.host_header_mode = HostHeaderMode::viewer;
    CHECK(origin_host_header(o, "www.example.com") == "www.example.com");
    o.host_header_mode = HostHeaderMode::literal;
    o.host_header_value = "bucket.s3.example";
    CHECK(origin_host_header(o, "www.example.com") == "bucket.s3.example");
}

TEST_CASE("shared fills forward the viewer's end-to-end headers but not its conditionals, Range or codings",
          "[edge][proxy]") {
    Parsed p("GET /x HTTP/1.1\r\nHost: www.example.com\r\nCookie: a=1; b=2\r\nX-Req-Num: 2\r\n"
             "Accept-Language: fr\r\nX-Forwarded-For: 10.0.0.1\r\nVia: 1.1 other\r\nIf-None-Match: \"viewer\"\r\n"
             "If-Modified-Since: Sat, 05 Dec 2026 10:00:00 GMT\r\nRange: bytes=0-1\r\nIf-Range: \"v\"\r\n"
             "Accept-Encoding: gzip\r\nIf-Match: *\r\nIf-Unmodified-Since: x\r\n\r\n");
    OriginConfig o;
    o.host = "origin";
    BehaviorConfig b;
    OriginHeaderOptions opt;
    opt.behavior = &b;
    opt.client_ip = "192.0.2.7";
    opt.via = "1.1 edge-a";
    opt.if_none_match = "\"stored\"";
    shared::HttpHeaders h;
    CHECK_FALSE(build_origin_headers(p.req(), o, opt, &h));
    CHECK(value(h, "host") == "origin");
    CHECK(value(h, "x-forwarded-for") == "10.0.0.1, 192.0.2.7");
    CHECK(value(h, "via") == "1.1 other, 1.1 edge-a");
    CHECK(value(h, "if-none-match") == "\"stored\"");
    CHECK(value(h, "x-req-num") == "2");
    CHECK(value(h, "accept-language") == "fr");
    CHECK(value(h, "cookie") == "a=1; b=2");
    for (const char* own :
         {"if-modified-since", "range", "if-range", "accept-encoding", "if-match", "if-unmodified-since"}) {
        INFO(own);
        CHECK(value(h, own) == "<absent>");
    }
}

TEST_CASE("the origin request policy: none, allowlists, cache key fields, Authorization reported", "[edge][proxy]") {
    Parsed p("GET /x HTTP/1.1\r\nHost: www.example.com\r\nCookie: session=s; theme=dark\r\nCookie: lang=fr\r\n"
             "X-Req-Num: 2\r\nX-Device: mobile\r\nAuthorization: Bearer t\r\nAccept-Language: fr\r\n\r\n");
    OriginConfig o;
    o.host = "origin";
    BehaviorConfig b;
    OriginHeaderOptions opt;
    opt.behavior = &b;
    shared::HttpHeaders h;

    SECTION("none: only Host, X-Forwarded-For and Via") {
        b.forward_headers = ForwardPolicy::none;
        b.forward_cookies = ForwardPolicy::none;
        CHECK_FALSE(build_origin_headers(p.req(), o, opt, &h));
        CHECK(h.size() == 2); // Host, Via (no client address given)
    }
    SECTION("allowlists, case-insensitive header names, case-sensitive cookie names") {
        b.forward_headers = ForwardPolicy::allowlist;
        b.forward_headers_allowlist = {"x-req-num"};
        b.forward_cookies = ForwardPolicy::allowlist;
        b.forward_cookies_allowlist = {"lang", "Theme"};
        CHECK_FALSE(build_origin_headers(p.req(), o, opt, &h));
        CHECK(value(h, "x-req-num") == "2");
        CHECK(value(h, "x-device") == "<absent>");
        CHECK(value(h, "authorization") == "<absent>");
        CHECK(value(h, "cookie") == "lang=fr");
    }
    SECTION("cache key fields are forwarded whatever the policy") {
        b.forward_headers = ForwardPolicy::none;
        b.forward_cookies = ForwardPolicy::none;
        b.cache_key_headers = {"x-device"};
        b.cache_key_cookies = {"theme"};
        build_origin_headers(p.req(), o, opt, &h);
        CHECK(value(h, "x-device") == "mobile");
        CHECK(value(h, "cookie") == "theme=dark");
    }
    SECTION("several Cookie lines become one") {
        CHECK(build_origin_headers(p.req(), o, opt, &h)); // Authorization went to the origin
        CHECK(value(h, "cookie") == "session=s; theme=dark; lang=fr");
        CHECK(value(h, "authorization") == "Bearer t");
    }
}

TEST_CASE("pass-through forwards end-to-end headers but never hop-by-hop ones", "[edge][proxy]") {
    Parsed p("POST /api HTTP/1.1\r\nHost: www.example.com\r\nCookie: s=1\r\nConnection: keep-alive, X-Hop\r\n"
             "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nContent-Length: 2\r\n"
             "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\r\nhi");
    OriginConfig o;
    o.host = "origin";
    o.host_header_mode = HostHeaderMode::viewer;
    BehaviorConfig b;
    OriginHeaderOptions opt;
    opt.behavior = &b;
    opt.client_ip = "192.0.2.7";
    opt.shared_fill = false;
    shared::HttpHeaders h;
    build_origin_headers(p.req(), o, opt, &h);
    CHECK(value(h, "host") == "www.example.com");
    CHECK(value(h, "cookie") == "s=1");
    CHECK(value(h, "x-forwarded-for") == "10.0.0.1, 10.0.0.2, 192.0.2.7");
    for (const char* hop : {"connection", "x-hop", "keep-alive", "te", "upgrade", "content-length"}) {
        INFO(hop);
        CHECK(value(h, hop) == "<absent>");
    }
    size_t hosts = 0;
    for (const auto& f : h)
        hosts += shared::header_name_equals(f.name, "host");
    CHECK(hosts == 1);
}

TEST_CASE("CDN-Loop: the viewer's entries (every line, even with forward_headers = none) then our cdn_id",
          "[edge][proxy][tier]") {
    Parsed p("GET /x HTTP/1.1\r\nHost: www.example.com\r\nCDN-Loop: other\r\nCDN-Loop: meridian; v=1\r\n\r\n");
    OriginConfig o;
    o.host = "parent";
    BehaviorConfig b;
    b.forward_headers = ForwardPolicy::none;
    OriginHeaderOptions opt;
    opt.behavior = &b;
    opt.cdn_id = "meridian";
    shared::HttpHeaders h;
    build_origin_headers(p.req(), o, opt, &h);
    CHECK(value(h, "cdn-loop") == "other, meridian; v=1, meridian");
    int lines = 0;
    for (const auto& f : h)
        lines += shared::ascii_iequals(f.name, "cdn-loop") ? 1 : 0;
    CHECK(lines == 1);

    Parsed q("GET /x HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
    build_origin_headers(q.req(), o, opt, &h);
    CHECK(value(h, "cdn-loop") == "meridian");
}
