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

TEST_CASE("A 304's fields update the stored block in place, but not managed, encoding or Vary fields",
          "[edge][cache][headers]") {
    HeaderField h[] = {
        {"Content-Type", "text/html"},        {"Cache-Control", "max-age=1"}, {"ETag", "\"v1\""}, {"X-Version", "1"},
        {"Content-Encoding", "identity-ish"}, {"Vary", "Accept-Encoding"}};
    std::string stored = build_stored_header_block(200, "", h, std::size(h), false, nullptr);
    std::string out;
    ValidatorSpans v;

    // Only what the stored block has already, same values (and fields the edge writes itself): nothing changes.
    HeaderField same[] = {{"ETag", "\"v1\""}, {"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Connection", "close"}};
    CHECK_FALSE(merge_stored_header_block(stored, same, std::size(same), false, &out, &v));

    HeaderField upd[] = {{"cache-control", "max-age=60"}, {"X-New", "yes"}, {"X-Version", "2"},
                         {"Content-Encoding", "gzip"},    {"Vary", "*"},    {"Content-Length", "0"},
                         {"Set-Cookie", "a=b"},           {"Age", "5"}};
    REQUIRE(merge_stored_header_block(stored, upd, std::size(upd), false, &out, &v));
    CHECK(out == "HTTP/1.1 200 OK\r\n"
                 "Content-Type: text/html\r\n"
                 "cache-control: max-age=60\r\n" // replaced where it stood
                 "ETag: \"v1\"\r\n"
                 "X-Version: 2\r\n"
                 "Content-Encoding: identity-ish\r\n" // the stored body depends on it
                 "Vary: Accept-Encoding\r\n"
                 "X-New: yes\r\n"); // new names last
    CHECK(out.substr(v.etag_off, v.etag_len) == "\"v1\"");

    HeaderField cookie[] = {{"Set-Cookie", "a=b"}};
    REQUIRE(merge_stored_header_block(stored, cookie, 1, true, &out, &v)); // kept when the behavior stores cookies
    CHECK(out.find("Set-Cookie: a=b\r\n") != std::string::npos);
    CHECK_FALSE(merge_stored_header_block(stored, cookie, 1, false, &out, &v));

    // Several values of one field replace all stored ones of that name, in the 304's order.
    HeaderField two[] = {{"X-Version", "3"}, {"X-Version", "4"}};
    REQUIRE(merge_stored_header_block(stored, two, 2, false, &out, &v));
    CHECK(out.find("X-Version: 3\r\nX-Version: 4\r\nContent-Encoding") != std::string::npos);

    std::string notfound = build_stored_header_block(404, "Gone Fishing", h, 1, false, nullptr);
    HeaderField nf[] = {{"X-A", "b"}};
    REQUIRE(merge_stored_header_block(notfound, nf, 1, false, &out, &v));
    CHECK(out.rfind("HTTP/1.1 404 Gone Fishing\r\n", 0) == 0); // status line kept
}

TEST_CASE("Targeted cache controls are stored after the viewer's fields, and a hit sends none of them",
          "[edge][cache][headers]") {
    HeaderField h[] = {
        {"CDN-Cache-Control", "max-age=600"}, {"Content-Type", "text/css"},
        {"Surrogate-Control", "max-age=60"},  {"ETag", "\"e\""},
        {"Cache-Control", "max-age=5"},
    };
    ValidatorSpans v;
    std::string block = build_stored_header_block(200, "", h, std::size(h), false, &v);
    CHECK(block == "HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nETag: \"e\"\r\nCache-Control: max-age=5\r\n"
                   "CDN-Cache-Control: max-age=600\r\nSurrogate-Control: max-age=60\r\n");
    REQUIRE(v.edge_fields_off > 0);
    CHECK(block.substr(0, v.edge_fields_off) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nETag: \"e\"\r\nCache-Control: max-age=5\r\n");
    CHECK(block.substr(v.etag_off, v.etag_len) == "\"e\"");
    // A 304 that updates the targeted field keeps it in the edge's part.
    HeaderField upd[] = {{"CDN-Cache-Control", "max-age=60"}};
    std::string merged;
    ValidatorSpans mv;
    REQUIRE(merge_stored_header_block(block, upd, 1, false, &merged, &mv));
    CHECK(merged.substr(mv.edge_fields_off) == "CDN-Cache-Control: max-age=60\r\nSurrogate-Control: max-age=60\r\n");
    CHECK(merged.substr(0, mv.edge_fields_off).find("CDN-Cache-Control") == std::string::npos);
    ValidatorSpans none;
    build_stored_header_block(200, "", h + 1, 1, false, &none);
    CHECK(none.edge_fields_off == 0);
}

TEST_CASE("Fields named by a qualified no-cache / private are neither stored nor merged in by a 304",
          "[edge][cache][headers]") {
    std::vector<std::string_view> omit = {"x-foo", "Set-Cookie"};
    HeaderField h[] = {{"Cache-Control", "max-age=60, no-cache=\"x-foo\""},
                       {"X-Foo", "secret"},
                       {"X-Bar", "kept"},
                       {"set-cookie", "sid=1"}};
    std::string block = build_stored_header_block(200, "", h, 4, true, nullptr, omit);
    CHECK(block == "HTTP/1.1 200 OK\r\nCache-Control: max-age=60, no-cache=\"x-foo\"\r\nX-Bar: kept\r\n");
    // A 304 that brings them again does not put them in.
    HeaderField upd[] = {{"X-FOO", "again"}, {"X-Bar", "new"}, {"Set-Cookie", "sid=2"}};
    std::string merged;
    REQUIRE(merge_stored_header_block(block, upd, 3, true, &merged, nullptr, omit));
    CHECK(merged == "HTTP/1.1 200 OK\r\nCache-Control: max-age=60, no-cache=\"x-foo\"\r\nX-Bar: new\r\n");
}

TEST_CASE("A 304 from the cache carries the stored Cache-Control, Content-Location, ETag, Expires, Vary and "
          "Last-Modified lines, byte for byte, and nothing else",
          "[edge][cache][headers]") {
    HeaderField h[] = {
        {"Content-Type", "text/html"},
        {"cache-control", "public, max-age=60"},
        {"Content-Location", "/page.en.html"},
        {"X-Custom", "not metadata a 304 carries"},
        {"ETag", "W/\"e1\""},
        {"Cache-Control", "stale-if-error=30"}, // a second line of the same field stays a second line
        {"Expires", "Thu, 01 Dec 2044 16:00:00 GMT"},
        {"Content-Encoding", "gzip"},
        {"Vary", "Accept-Encoding"},
        {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
        {"CDN-Cache-Control", "max-age=600"},
        {"Surrogate-Key", "release-1"},
        {"Content-Language", "en"},
    };
    ValidatorSpans v;
    std::string block = build_stored_header_block(200, "", h, std::size(h), false, &v);
    std::string viewer_part = block.substr(0, v.edge_fields_off);
    std::string out = "HTTP/1.1 304 Not Modified\r\n";
    append_not_modified_fields(viewer_part, out);
    CHECK(out == "HTTP/1.1 304 Not Modified\r\n"
                 "cache-control: public, max-age=60\r\n"
                 "Content-Location: /page.en.html\r\n"
                 "ETag: W/\"e1\"\r\n"
                 "Cache-Control: stale-if-error=30\r\n"
                 "Expires: Thu, 01 Dec 2044 16:00:00 GMT\r\n"
                 "Vary: Accept-Encoding\r\n"
                 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n");

    // Nothing to carry: nothing appended; an empty value is carried as it is stored.
    std::string none;
    HeaderField plain[] = {{"Content-Type", "x"}, {"Vary", ""}};
    append_not_modified_fields(build_stored_header_block(200, "", plain, 1, false, nullptr), none);
    CHECK(none.empty());
    append_not_modified_fields(build_stored_header_block(200, "", plain, 2, false, nullptr), none);
    CHECK(none == "Vary: \r\n");
}
