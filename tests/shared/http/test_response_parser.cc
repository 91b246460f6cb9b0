#include <catch2/catch.hpp>

#include "shared/http/response_parser.h"

#include <string>
#include <vector>

namespace {

struct Collector : shared::ResponseParser::Listener {
    int heads = 0, completes = 0;
    shared::HttpResponseHead head;
    std::vector<shared::HttpResponseHead> interims;
    bool on_interim(const shared::HttpResponseHead& h) override {
        interims.push_back(h);
        return true;
    }
    std::string body;
    bool abort_on_body = false;
    bool on_head(const shared::HttpResponseHead& h) override {
        ++heads;
        head = h;
        return true;
    }
    bool on_body(std::string_view d) override {
        body.append(d);
        return !abort_on_body;
    }
    void on_complete() override { ++completes; }
};

using R = shared::ResponseParser::Result;

// Feeds all of `wire`, optionally one byte at a time, and returns the last result.
R feed_all(shared::ResponseParser& p, const std::string& wire, bool bytewise, size_t* total_consumed = nullptr) {
    R r = R::NeedMore;
    size_t off = 0;
    while (off < wire.size()) {
        size_t n = bytewise ? 1 : wire.size() - off;
        size_t used = 0;
        r = p.feed(wire.data() + off, n, &used);
        off += used;
        if (r != R::NeedMore) break;
    }
    if (total_consumed) *total_consumed = off;
    return r;
}

} // namespace

TEST_CASE("response parser: Content-Length body, whole and byte by byte", "[shared][http][parser]") {
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-b: two words\r\n\r\nhello";
    for (bool bytewise : {false, true}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        REQUIRE(feed_all(p, wire, bytewise) == R::Complete);
        CHECK(c.heads == 1);
        CHECK(c.completes == 1);
        CHECK(c.head.status == 200);
        CHECK(c.head.reason == "OK");
        REQUIRE(c.head.headers.size() == 3);
        CHECK(c.head.headers[2].name == "x-b");
        CHECK(c.head.headers[2].value == "two words");
        CHECK(*shared::find_header(c.head.headers, "content-length") == "5");
        CHECK(c.body == "hello");
        CHECK(p.keep_alive());
    }
}

TEST_CASE("response parser: chunked body with extensions and trailers", "[shared][http][parser]") {
    const std::string wire =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    for (bool bytewise : {false, true}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        REQUIRE(feed_all(p, wire, bytewise) == R::Complete);
        CHECK(c.body == "hello world");
        CHECK(p.keep_alive());
    }
}

TEST_CASE("response parser: close-delimited body ends at EOF, keep-alive off", "[shared][http][parser]") {
    shared::ResponseParser p;
    Collector c;
    p.reset(&c, false);
    REQUIRE(feed_all(p, "HTTP/1.1 200 OK\r\n\r\nsome bytes", false) == R::NeedMore);
    CHECK(c.completes == 0);
    REQUIRE(p.finish() == R::Complete);
    CHECK(c.completes == 1);
    CHECK(c.body == "some bytes");
    CHECK_FALSE(p.keep_alive());
}

TEST_CASE("response parser: EOF inside a Content-Length or chunked body is truncation", "[shared][http][parser]") {
    for (std::string wire : {std::string("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
                             std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nContent-Le")}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        REQUIRE(feed_all(p, wire, false) == R::NeedMore);
        CHECK(p.finish() == R::Error);
        CHECK(p.truncated());
        CHECK(c.completes == 0);
    }
    shared::ResponseParser p;
    Collector c;
    p.reset(&c, false);
    CHECK(p.finish() == R::Error); // nothing at all
    CHECK_FALSE(p.started());
}

TEST_CASE("response parser: HEAD response skips the announced body", "[shared][http][parser]") {
    shared::ResponseParser p;
    Collector c;
    p.reset(&c, true);
    size_t used = 0;
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    REQUIRE(feed_all(p, wire, false, &used) == R::Complete);
    CHECK(used == wire.size());
    CHECK(c.body.empty());
    CHECK(p.keep_alive());
}

TEST_CASE("response parser: 1xx interim responses are reported apart, 101 is an error", "[shared][http][parser]") {
    for (bool bytewise : {false, true}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        REQUIRE(feed_all(p,
                         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                         "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                         bytewise) == R::Complete);
        CHECK(c.heads == 1);
        CHECK(c.head.status == 201);
        REQUIRE(c.head.headers.size() == 1); // the 103's Link header is not carried over
        CHECK(c.body == "ok");
        REQUIRE(c.interims.size() == 2);
        CHECK(c.interims[0].status == 100);
        CHECK(c.interims[0].headers.empty());
        CHECK(c.interims[1].status == 103);
        CHECK(c.interims[1].reason == "Early Hints");
        REQUIRE(c.interims[1].headers.size() == 1);
        CHECK(c.interims[1].headers[0].value == "</a>");
    }
    // A 1xx never has a body (RFC 9110 §15.2): one announced by its length, or bytes after it that are no status
    // line, are a broken response, not the start of the final one.
    for (const char* wire :
         {"HTTP/1.1 150 Odd\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
          "HTTP/1.1 199 Odd\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
          "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
          "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
          "HTTP/1.1 102 Processing\r\n\r\nnot http at all\r\n\r\n"}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        CHECK(feed_all(p, wire, false) == R::Error);
        CHECK(c.heads == 0);
        CHECK(c.body.empty());
        // Announcing a body is refused before the interim response is reported.
        if (std::string_view(wire).find("\r\n\r\nnot http") == std::string_view::npos) CHECK(c.interims.empty());
    }
    {
        // Interim responses without end: refused after a bounded number, even when they carry no header bytes.
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        std::string wire;
        for (int i = 0; i < 40; ++i)
            wire += "HTTP/1.1 103 \r\n\r\n";
        CHECK(feed_all(p, wire + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false) == R::Error);
        CHECK(c.heads == 0);
        CHECK(c.interims.size() <= 32);
    }
    {
        // The header limit counts the interim heads too.
        shared::ResponseParser p(100);
        Collector c;
        p.reset(&c, false);
        std::string hint = "HTTP/1.1 103 Early Hints\r\nLink: " + std::string(40, 'l') + "\r\n\r\n";
        CHECK(feed_all(p, hint + hint + hint + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false) == R::Error);
        CHECK(c.heads == 0);
    }
    {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        CHECK(feed_all(p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", false) ==
              R::Error);
        CHECK(c.heads == 0);
    }
}

TEST_CASE("response parser: 204 and 304 have no body", "[shared][http][parser]") {
    for (int status : {204, 304}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        std::string wire = "HTTP/1.1 " + std::to_string(status) + " X\r\nETag: \"a\"\r\n\r\n";
        CHECK(feed_all(p, wire, false) == R::Complete);
        CHECK(p.keep_alive());
    }
}

TEST_CASE("response parser: a 204 or 304 ends with its head whatever its framing fields say",
          "[shared][http][parser]") {
    // RFC 9112 §6.3. What follows the head is not this response's: the caller sees it left over (and does not
    // reuse the connection) instead of a body to store and send behind a 204.
    for (int status : {204, 304}) {
        for (std::string framing : {std::string("Content-Length: 5\r\n\r\nhello"),
                                    std::string("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")}) {
            for (bool bytewise : {false, true}) {
                shared::ResponseParser p;
                Collector c;
                p.reset(&c, false);
                std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
                std::string wire = head + framing;
                INFO(wire);
                size_t used = 0;
                CHECK(feed_all(p, wire, bytewise, &used) == R::Complete);
                CHECK(used == wire.find("\r\n\r\n") + 4);
                CHECK(c.body.empty());
                CHECK(c.completes == 1);
            }
        }
    }
}

TEST_CASE("response parser: header size limit", "[shared][http][parser]") {
    shared::ResponseParser p(100);
    Collector c;
    p.reset(&c, false);
    std::string wire = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n";
    CHECK(feed_all(p, wire, false) == R::Error);
    CHECK(std::string(p.error_reason()).find("too large") != std::string::npos);
    CHECK(c.heads == 0);
}

TEST_CASE("response parser: garbage and smuggling shapes are errors", "[shared][http][parser]") {
    for (std::string wire : {std::string("garbage\r\n\r\n"), std::string("HTTP/1.1 abc OK\r\n\r\n"),
                             std::string("HTTP/1.1 2 OK\r\nContent-Length: 0\r\n\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"),
                             std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
                             std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                         "Transfer-Encoding: x\r\n\r\n")}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        INFO(wire);
        CHECK(feed_all(p, wire, false) == R::Error);
        CHECK(c.completes == 0);
    }
}

TEST_CASE("response parser: an empty header value ended by a bare CR is rejected", "[shared][http][parser]") {
    // llhttp 8.1.0 would read this as a header "ontent-Length" and a close-delimited body.
    for (bool bytewise : {false, true}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        CHECK(feed_all(p, "HTTP/1.1 200 OK\r\nX: \rContent-Length: 3\r\n\r\nabc", bytewise) == R::Error);
        CHECK(c.heads == 0);
    }
    for (std::string wire : {std::string("HTTP/1.1 200 OK\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n"),
                             std::string("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n folded\r\n\r\nabc"),
                             std::string("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc")}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        CHECK(feed_all(p, wire, false) == R::Error);
    }
}

TEST_CASE("response parser: Connection: close and HTTP/1.0 disable keep-alive", "[shared][http][parser]") {
    for (std::string wire : {std::string("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
                             std::string("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")}) {
        shared::ResponseParser p;
        Collector c;
        p.reset(&c, false);
        REQUIRE(feed_all(p, wire, false) == R::Complete);
        CHECK_FALSE(p.keep_alive());
    }
    shared::ResponseParser p;
    Collector c;
    p.reset(&c, false);
    REQUIRE(feed_all(p, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false) ==
            R::Complete);
    CHECK(p.keep_alive());
}

TEST_CASE("response parser: stops after one response and reports the bytes it used", "[shared][http][parser]") {
    shared::ResponseParser p;
    Collector c;
    p.reset(&c, false);
    const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    std::string wire = first + "HTTP/1.1 200 OK\r\n";
    size_t used = 0;
    REQUIRE(p.feed(wire.data(), wire.size(), &used) == R::Complete);
    CHECK(used == first.size());
    CHECK(c.completes == 1);
    // Reusable for the next response after reset().
    Collector c2;
    p.reset(&c2, false);
    REQUIRE(feed_all(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx", false) == R::Complete);
    CHECK(c2.head.status == 404);
}

TEST_CASE("response parser: a listener can abort from on_body", "[shared][http][parser]") {
    shared::ResponseParser p;
    Collector c;
    c.abort_on_body = true;
    p.reset(&c, false);
    CHECK(feed_all(p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false) == R::Aborted);
    CHECK(c.completes == 0);
}
