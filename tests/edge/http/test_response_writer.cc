#include <catch2/catch.hpp>

#include <string>

#include "edge/http/response_writer.h"

using namespace edge;

TEST_CASE("X-Cache uses CloudFront's vocabulary", "[edge][http]") {
    CHECK(x_cache_value(CacheResult::hit) == "Hit from meridian");
    CHECK(x_cache_value(CacheResult::refresh_hit) == "RefreshHit from meridian");
    CHECK(x_cache_value(CacheResult::miss) == "Miss from meridian");
    CHECK(x_cache_value(CacheResult::error) == "Error from meridian");
    CHECK(result_type_name(CacheResult::refresh_hit) == "RefreshHit");
    CHECK(result_type_name(CacheResult::none) == "-");
}

TEST_CASE("HTTP dates format and parse", "[edge][http]") {
    char buf[40];
    size_t n = format_http_date(784111777, buf);
    CHECK(std::string(buf, n) == "Sun, 06 Nov 1994 08:49:37 GMT");
    time_t t = 0;
    REQUIRE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t));
    CHECK(t == 784111777);
    REQUIRE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t));
    CHECK(t == 784111777);
    REQUIRE(parse_http_date("Sun Nov  6 08:49:37 1994", &t));
    CHECK(t == 784111777);
    CHECK_FALSE(parse_http_date("yesterday", &t));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing", &t));
    CHECK_FALSE(parse_http_date(std::string(100, 'x'), &t));
}

TEST_CASE("DateCache reformats only when the second changes", "[edge][http]") {
    DateCache c;
    auto a = c.http_date(784111777);
    CHECK(a == "Sun, 06 Nov 1994 08:49:37 GMT");
    auto b = c.http_date(784111778);
    CHECK(b == "Sun, 06 Nov 1994 08:49:38 GMT");
    CHECK(a.data() == b.data());
}

TEST_CASE("simple responses carry the edge headers", "[edge][http]") {
    std::string out;
    EdgeHeaders h;
    h.date = "Sun, 06 Nov 1994 08:49:37 GMT";
    h.result = CacheResult::error;
    h.keep_alive = false;
    write_simple_response(out, 405, "method not allowed\n", h, false, "Allow: GET, HEAD\r\n");
    CHECK(out == "HTTP/1.1 405 Method Not Allowed\r\n"
                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "Server: meridian\r\n"
                 "Via: 1.1 meridian\r\n"
                 "X-Cache: Error from meridian\r\n"
                 "Connection: close\r\n"
                 "Allow: GET, HEAD\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 19\r\n"
                 "\r\n"
                 "method not allowed\n");
    out.clear();
    h.has_age = true;
    h.age = 42;
    h.result = CacheResult::hit;
    h.keep_alive = true;
    write_simple_response(out, 200, "ok", h, true);
    CHECK(out.find("Age: 42\r\n") != std::string::npos);
    CHECK(out.find("X-Cache: Hit from meridian\r\n") != std::string::npos);
    CHECK(out.find("Connection") == std::string::npos);
    const std::string tail = "Content-Length: 2\r\n\r\n";
    REQUIRE(out.size() >= tail.size());
    CHECK(out.compare(out.size() - tail.size(), tail.size(), tail) == 0); // HEAD: no body
}

TEST_CASE("reason phrases", "[edge][http]") {
    CHECK(reason_phrase(404) == "Not Found");
    CHECK(reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(reason_phrase(799) == "Unknown");
}
