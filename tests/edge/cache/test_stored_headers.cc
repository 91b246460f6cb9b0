#include <catch2/catch.hpp>

#include "edge/cache/stored_headers.h"

using namespace edge;

TEST_CASE("Stored header block drops hop-by-hop and per-response fields", "[edge][cache][headers]") {
    HeaderField h[] = {
        {"Content-Type", "text/html"},
        {"Connection", "keep-alive, X-Hop"},
        {"X-Hop", "secret"},
        {"Date", "Sun, 06 Nov 1994 08:49:37 GMT"},
        {"Age", "10"},
        {"Content-Length", "5"},
        {"Transfer-Encoding", "chunked"},
        {"Keep-Alive", "timeout=5"},
        {"ETag", "\"abc\""},
        {"Set-Cookie", "a=b"},
        {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
        {"X-Cache", "Hit from elsewhere"},
        {"Cache-Control", "max-age=60"},
    };
    ValidatorSpans v;
    std::string block = build_stored_header_block(200, "", h, std::size(h), false, &v);
    CHECK(block == "HTTP/1.1 200 OK\r\n"
                   "Content-Type: text/html\r\n"
                   "ETag: \"abc\"\r\n"
                   "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                   "Cache-Control: max-age=60\r\n");
    CHECK(block.substr(v.etag_off, v.etag_len) == "\"abc\"");
    CHECK(block.substr(v.last_modified_off, v.last_modified_len) == "Sun, 06 Nov 1994 08:49:37 GMT");

    std::string with_cookie = build_stored_header_block(404, "Nope", h, std::size(h), true, nullptr);
    CHECK(with_cookie.rfind("HTTP/1.1 404 Nope\r\n", 0) == 0);
    CHECK(with_cookie.find("Set-Cookie: a=b\r\n") != std::string::npos);

    ValidatorSpans none;
    HeaderField plain[] = {{"content-type", "x"}};
    build_stored_header_block(200, "", plain, 1, false, &none);
    CHECK(none.etag_len == 0);
    CHECK(none.last_modified_len == 0);
    CHECK(reason_phrase(404) == "Not Found");
    CHECK(reason_phrase(599) == "Unknown");
}
