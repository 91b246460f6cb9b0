// What the edge sends to http origins: path encoding, Host per host_header, X-Forwarded-For / Via appended,
// viewer headers only on pass-through, hop-by-hop headers never.
#include <catch2/catch.hpp>

#include <string>

#include "edge/http/request_parser.h"
#include "edge/proxy/origin_request.h"

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

TEST_CASE("shared fills send only Host, X-Forwarded-For, Via and our validators", "[edge][proxy]") {
    Parsed p("GET /x HTTP/1.1\r\nHost: www.example.com\r\nCookie: secret=1\r\nAuthorization: Basic abc\r\n"
             "X-Forwarded-For: 10.0.0.1\r\nVia: 1.1 other\r\nIf-None-Match: \"viewer\"\r\n\r\n");
    OriginConfig o;
    o.host = "origin";
    OriginHeaderOptions opt;
    opt.client_ip = "192.0.2.7";
    opt.via = "1.1 edge-a";
    opt.if_none_match = "\"stored\"";
    shared::HttpHeaders h;
    build_origin_headers(p.req(), o, opt, &h);
    CHECK(value(h, "host") == "origin");
    CHECK(value(h, "x-forwarded-for") == "10.0.0.1, 192.0.2.7");
    CHECK(value(h, "via") == "1.1 other, 1.1 edge-a");
    CHECK(value(h, "if-none-match") == "\"stored\"");
    CHECK(value(h, "cookie") == "<absent>");
    CHECK(value(h, "authorization") == "<absent>");
}

TEST_CASE("pass-through forwards end-to-end headers but never hop-by-hop ones", "[edge][proxy]") {
    Parsed p("POST /api HTTP/1.1\r\nHost: www.example.com\r\nCookie: s=1\r\nConnection: keep-alive, X-Hop\r\n"
             "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nContent-Length: 2\r\n"
             "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\r\nhi");
    OriginConfig o;
    o.host = "origin";
    o.host_header_mode = HostHeaderMode::viewer;
    OriginHeaderOptions opt;
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
    for (const auto& f : h) hosts += shared::header_name_equals(f.name, "host");
    CHECK(hosts == 1);
}
