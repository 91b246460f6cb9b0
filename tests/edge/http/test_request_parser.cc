// RequestParser: happy paths, pipelining, limits, and every request-smuggling shape the edge must refuse.
#include <catch2/catch.hpp>

#include <string>

#include "edge/http/request_parser.h"

using edge::RequestLimits;
using edge::RequestParser;
using Status = RequestParser::Status;

namespace {

struct Outcome {
    Status status;
    int error_status;
    size_t consumed;
};

Outcome parse_all(RequestParser& p, const std::string& s) {
    auto r = p.feed(s.data(), s.size());
    return {r.status, p.error_status(), r.consumed};
}

int reject_status(const std::string& s, RequestLimits limits = {}) {
    RequestParser p(limits);
    auto o = parse_all(p, s);
    if (o.status != Status::error) return 0;
    return o.error_status;
}

} // namespace

TEST_CASE("simple GET is parsed with headers, path and query", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string req = "GET /a/b.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nX-Empty:\r\n\r\n";
    auto r = p.feed(req.data(), req.size());
    REQUIRE(r.status == Status::complete);
    REQUIRE(r.consumed == req.size());
    const auto& q = p.request();
    CHECK(q.method == HTTP_GET);
    CHECK(q.method_name == "GET");
    CHECK(q.target == "/a/b.html?x=1&y=2");
    CHECK(q.path == "/a/b.html");
    CHECK(q.query == "x=1&y=2");
    CHECK(q.host == "example.com");
    CHECK(q.header("user-agent") == "t");
    bool found = false;
    CHECK(q.header("x-empty", &found).empty());
    CHECK(found);
    q.header("absent", &found);
    CHECK_FALSE(found);
    CHECK(q.keep_alive);
    CHECK(q.version_minor == 1);
}

TEST_CASE("request split byte by byte parses the same", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string req = "GET /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
    Status last = Status::need_more;
    for (size_t i = 0; i < req.size(); ++i) {
        auto r = p.feed(req.data() + i, 1);
        REQUIRE(r.consumed == 1);
        last = r.status;
        if (i + 1 < req.size()) REQUIRE(last == Status::need_more);
    }
    REQUIRE(last == Status::complete);
    CHECK(p.request().header("accept") == "*/*");
    CHECK(p.request().path == "/x");
}

TEST_CASE("pipelined requests come out one at a time, in order", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string data = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                       "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                       "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    size_t off = 0;
    std::vector<std::string> paths;
    std::vector<std::string> bodies;
    std::vector<bool> keep;
    while (off < data.size()) {
        auto r = p.feed(data.data() + off, data.size() - off);
        REQUIRE(r.status == Status::complete);
        off += r.consumed;
        paths.emplace_back(p.request().path);
        bodies.emplace_back(p.request().body);
        keep.push_back(p.request().keep_alive);
        p.next();
    }
    REQUIRE(paths == std::vector<std::string>{"/1", "/2", "/3"});
    CHECK(bodies[1] == "hello");
    CHECK(keep == std::vector<bool>{true, true, false});
}

TEST_CASE("chunked request body is reassembled", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string req =
        "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n";
    auto r = p.feed(req.data(), req.size());
    REQUIRE(r.status == Status::complete);
    CHECK(p.request().body == "abcde");
}

TEST_CASE("HTTP/1.0 defaults to close and needs no Host", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string req = "GET / HTTP/1.0\r\n\r\n";
    REQUIRE(p.feed(req.data(), req.size()).status == Status::complete);
    CHECK_FALSE(p.request().keep_alive);
    CHECK(p.request().host.empty());
    p.next();
    std::string ka = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    // The previous request had no keep-alive, so llhttp expects the connection to close; a fresh parser is what
    // a connection would use.
    RequestParser p2(RequestLimits{});
    REQUIRE(p2.feed(ka.data(), ka.size()).status == Status::complete);
    CHECK(p2.request().keep_alive);
}

TEST_CASE("storage is reused across keep-alive requests", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string req = "GET /same HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    REQUIRE(p.feed(req.data(), req.size()).status == Status::complete);
    const void* first_headers = p.request().headers.data();
    const void* first_target = p.request().target.data();
    for (int i = 0; i < 100; ++i) {
        p.next();
        REQUIRE(p.feed(req.data(), req.size()).status == Status::complete);
    }
    CHECK(p.request().headers.data() == first_headers);
    CHECK(p.request().target.data() == first_target);
}

TEST_CASE("limits: long URI is 414, big or many headers 431, big body 413", "[edge][http]") {
    RequestLimits lim;
    lim.max_uri_bytes = 64;
    lim.max_header_bytes = 128;
    lim.max_headers = 4;
    lim.max_body_bytes = 10;
    CHECK(reject_status("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", lim) == 414);
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'v') + "\r\n\r\n", lim) == 431);
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n", lim) == 431);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", lim) == 413);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
                        lim) == 413);
    // Right at the limits is fine.
    RequestParser p(lim);
    std::string ok = "GET /" + std::string(63, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(p.feed(ok.data(), ok.size()).status == Status::complete);
}

TEST_CASE("URI limit holds when the URI arrives in pieces", "[edge][http]") {
    RequestLimits lim;
    lim.max_uri_bytes = 32;
    RequestParser p(lim);
    std::string head = "GET /";
    REQUIRE(p.feed(head.data(), head.size()).status == Status::need_more);
    Status s = Status::need_more;
    for (int i = 0; i < 10 && s == Status::need_more; ++i) {
        std::string part(8, 'x');
        s = p.feed(part.data(), part.size()).status;
    }
    CHECK(s == Status::error);
    CHECK(p.error_status() == 414);
}

TEST_CASE("request smuggling shapes are refused", "[edge][http][smuggling]") {
    SECTION("both Content-Length and Transfer-Encoding") {
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "0\r\n\r\n") == 400);
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                            "0\r\n\r\n") == 400);
    }
    SECTION("differing duplicate Content-Length") {
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd") == 400);
    }
    SECTION("identical duplicate Content-Length") {
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc") == 400);
    }
    SECTION("obs-fold") {
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n") == 400);
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n 3\r\n\r\nabc") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n") == 400);
    }
    SECTION("bare LF line endings") {
        CHECK(reject_status("GET / HTTP/1.1\nHost: h\n\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\n\n") == 400);
    }
    SECTION("empty header name separated by CR") {
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nX: \rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\n: value\r\n\r\n") == 400);
    }
    SECTION("unknown Transfer-Encoding is 501") {
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n") == 501);
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n") == 501);
    }
    SECTION("Transfer-Encoding in HTTP/1.0 is refused") {
        CHECK(reject_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
    }
    SECTION("missing, empty or duplicate Host on HTTP/1.1") {
        CHECK(reject_status("GET / HTTP/1.1\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == 400);
    }
    SECTION("garbage") {
        CHECK(reject_status("\x01\x02\x03 / HTTP/1.1\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/9.9\r\nHost: h\r\n\r\n") == 400);
        CHECK(reject_status("GET mailto:evil HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nBad Header: x\r\nHost: h\r\n\r\n") == 400);
        CHECK(reject_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == 400);
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n") == 400);
        CHECK(reject_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
    }
}

TEST_CASE("an error is sticky", "[edge][http]") {
    RequestParser p(RequestLimits{});
    std::string bad = "GET / HTTP/1.1\nHost: h\n\n";
    REQUIRE(p.feed(bad.data(), bad.size()).status == Status::error);
    std::string good = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(p.feed(good.data(), good.size()).status == Status::error);
}

TEST_CASE("headers_done and in_message track progress", "[edge][http]") {
    RequestParser p(RequestLimits{});
    CHECK_FALSE(p.in_message());
    std::string part = "GET / HTTP/1.1\r\nHo";
    p.feed(part.data(), part.size());
    CHECK(p.in_message());
    CHECK_FALSE(p.headers_done());
    std::string rest = "st: h\r\nContent-Length: 2\r\n\r\na";
    CHECK(p.feed(rest.data(), rest.size()).status == Status::need_more);
    CHECK(p.headers_done());
    CHECK(p.feed("b", 1).status == Status::complete);
    CHECK(p.request().body == "ab");
    // A complete request is no longer "in" a message: nothing of it is still to come (a connection closing after
    // its answer must not linger for it).
    CHECK_FALSE(p.in_message());
}

TEST_CASE("chunk data must be followed by CRLF (llhttp 8.1 skips any two bytes)", "[edge][http]") {
    const std::string head = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(reject_status(head + "5\r\nhelloXX0\r\n\r\n") == 400);
    CHECK(reject_status(head + "5\r\nhello\rX0\r\n\r\n") == 400);
    CHECK(reject_status(head + "5\r\nhelloX\n0\r\n\r\n") == 400);
    CHECK(reject_status(head + "5\r\nhello\n\n0\r\n\r\n") == 400);
    // The smuggled request must not be seen as a second message.
    CHECK(reject_status(head + "5\r\nhelloGET /admin HTTP/1.1\r\nHost: h\r\n\r\n0\r\n\r\n") == 400);
    CHECK(reject_status(head + "5\r\nhello\r\n0\r\n\r\n") == 0);

    SECTION("checked across reads: the CRLF, or the bad bytes, in a later read") {
        for (size_t split = head.size(); split < head.size() + 12; ++split) {
            for (const char* tail : {"5\r\nhelloXX0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"}) {
                std::string all = head + tail;
                bool bad = std::string(tail).find("XX") != std::string::npos;
                RequestParser p(RequestLimits{});
                auto r1 = p.feed(all.data(), split);
                Status last = r1.status;
                if (last == Status::need_more) last = p.feed(all.data() + split, all.size() - split).status;
                INFO("split at " << split << " bad=" << bad);
                if (bad) {
                    CHECK(last == Status::error);
                    CHECK(p.error_status() == 400);
                } else {
                    CHECK(last == Status::complete);
                    CHECK(p.request().body == "hello");
                }
            }
        }
    }
    SECTION("byte by byte") {
        std::string all = head + "3\r\nabcZ\n0\r\n\r\n";
        RequestParser p(RequestLimits{});
        Status last = Status::need_more;
        for (size_t i = 0; i < all.size() && last == Status::need_more; ++i)
            last = p.feed(&all[i], 1).status;
        CHECK(last == Status::error);
        CHECK(p.error_status() == 400);
    }
}

TEST_CASE("invalid Host values are refused with 400 (RFC 9112 §3.2, RFC 3986 host)", "[edge][http]") {
    auto with_host = [](const std::string& h) { return "GET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n"; };
    for (const char* bad :
         {"a b", "evil.example/x?", "evil.example/x", "a?b", "a#b", "h:port", "h:123456", "h:70000", "user@h", "[::1",
          "[zz::1]", "::1", "[::1]x", "[]", "h:80:80", "%zz.example", "a\\b", ":80", "[1.2.3.4]"}) {
        INFO(bad);
        CHECK(reject_status(with_host(bad)) == 400);
    }
    for (const char* good :
         {"example.com", "example.com:8080", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:443", "[2001:db8::1.2.3.4]",
          "xn--bcher-kva.example", "a_b-c.example", "h:", "%41.example", "[v1.fe]"}) {
        INFO(good);
        CHECK(reject_status(with_host(good)) == 0);
    }
    // HTTP/1.0 may omit Host, but one that is sent must be valid.
    CHECK(reject_status("GET / HTTP/1.0\r\nHost: a b\r\n\r\n") == 400);
}

TEST_CASE("absolute-form targets are accepted; their host wins over Host (RFC 9112 §3.2.2)", "[edge][http]") {
    struct Case {
        const char* target;
        const char *host, *path, *query, *origin_form;
    };
    for (const Case& c : {Case{"http://a.example/x/y?q=1", "a.example", "/x/y", "q=1", "/x/y?q=1"},
                          Case{"HTTP://a.example:8080/", "a.example:8080", "/", "", "/"},
                          Case{"https://[::1]:8443/p", "[::1]:8443", "/p", "", "/p"},
                          Case{"http://a.example", "a.example", "/", "", "/"},
                          Case{"http://a.example?k=v", "a.example", "/", "k=v", "/?k=v"}}) {
        INFO(c.target);
        RequestParser p(RequestLimits{});
        std::string req = std::string("GET ") + c.target + " HTTP/1.1\r\nHost: other.example\r\nX: y\r\n\r\n";
        auto r = p.feed(req.data(), req.size());
        REQUIRE(r.status == Status::complete);
        CHECK(p.request().host == c.host);
        CHECK(p.request().path == c.path);
        CHECK(p.request().query == c.query);
        CHECK(p.request().target == c.origin_form);
        CHECK(p.request().header("x") == "y");
        CHECK(p.request().header("host") == "other.example");
    }
    CHECK(reject_status("GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n") == 400);
    CHECK(reject_status("GET http:///x HTTP/1.1\r\nHost: a.example\r\n\r\n") == 400);
    CHECK(reject_status("GET http://a b/x HTTP/1.1\r\nHost: a.example\r\n\r\n") == 400);
    CHECK(reject_status("GET ftp://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n") == 400);
    // Still HTTP/1.1: Host is required even when the target names the host.
    CHECK(reject_status("GET http://a.example/x HTTP/1.1\r\n\r\n") == 400);
    // An HTTP/1.0 request without Host takes the target's.
    RequestParser p(RequestLimits{});
    std::string req = "GET http://a.example/z HTTP/1.0\r\n\r\n";
    REQUIRE(p.feed(req.data(), req.size()).status == Status::complete);
    CHECK(p.request().host == "a.example");
    CHECK(p.request().path == "/z");
}

TEST_CASE("an unknown but well-formed method gets 501, garbage gets 400", "[edge][http]") {
    CHECK(reject_status("FOO / HTTP/1.1\r\nHost: h\r\n\r\n") == 501);
    CHECK(reject_status("GETX / HTTP/1.1\r\nHost: h\r\n\r\n") == 501);
    CHECK(reject_status("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n") == 501);
    CHECK(reject_status("\r\nFOO / HTTP/1.1\r\nHost: h\r\n\r\n") == 501);
    CHECK(reject_status("G{T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(reject_status("/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(reject_status("\x01\x02 / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    // Pipelined after a good request: the second one's method is judged on its own.
    RequestParser p(RequestLimits{});
    std::string data = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nFOO /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    auto r = p.feed(data.data(), data.size());
    REQUIRE(r.status == Status::complete);
    p.next();
    auto r2 = p.feed(data.data() + r.consumed, data.size() - r.consumed);
    CHECK(r2.status == Status::error);
    CHECK(p.error_status() == 501);
}

TEST_CASE("an idle parser gives its storage back and takes it again for the next request", "[edge][http]") {
    RequestParser p(RequestLimits{});
    CHECK_FALSE(p.holds_storage()); // a new connection holds none
    std::string a = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-One: 1\r\n\r\nabc";
    REQUIRE(p.feed(a.data(), a.size()).status == Status::complete);
    CHECK(p.holds_storage());
    CHECK(p.request().body == "abc");
    p.next();
    p.release_storage();
    CHECK_FALSE(p.holds_storage());
    p.release_storage(); // twice: no effect
    // Another parser on this thread may take the set in between; both parse correctly.
    RequestParser other(RequestLimits{});
    std::string o = "GET /other HTTP/1.1\r\nHost: o\r\n\r\n";
    REQUIRE(other.feed(o.data(), o.size()).status == Status::complete);
    std::string b = "GET /b?q=2 HTTP/1.1\r\nHost: h2\r\nX-Two: 2\r\n\r\n";
    REQUIRE(p.feed(b.data(), b.size()).status == Status::complete);
    CHECK(p.request().path == "/b");
    CHECK(p.request().query == "q=2");
    CHECK(p.request().host == "h2");
    CHECK(p.request().header("x-two") == "2");
    CHECK(p.request().header("x-one").empty()); // nothing of the first request is left
    CHECK(p.request().body.empty());
    CHECK(other.request().path == "/other");
    CHECK(other.request().host == "o");
}
