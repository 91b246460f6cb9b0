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

