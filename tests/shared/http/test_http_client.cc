#include <catch2/catch.hpp>

#include "shared/http/http_client.h"
#include "shared/http/upstream_test_support.h"

#include <optional>

using namespace upstream_test;
using shared::HttpError;

namespace {

struct ClientFixture {
    uv_loop_t loop{};
    std::optional<shared::Resolver> resolver;
    ClientFixture() {
        uv_loop_init(&loop);
        resolver.emplace(&loop);
    }
    // Runs one request to 127.0.0.1:port and returns its result (or a result with status -1 if no callback came).
    shared::HttpClientResult fetch(shared::HttpClientOptions o, uint64_t limit_ms = 5000) {
        shared::HttpClientResult out;
        out.status = -1;
        bool done = false;
        auto req = shared::HttpClientRequest::start(&loop, &*resolver, std::move(o),
                                                    [&](const shared::HttpClientResult& r) {
                                                        out = r;
                                                        done = true;
                                                    });
        run_until(&loop, [&] { return done; }, limit_ms);
        return out;
    }
    int close() {
        resolver.reset();
        return finish_loop(&loop);
    }
};

shared::HttpClientOptions opts_for(uint16_t port) {
    shared::HttpClientOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.connect_timeout_ms = 1000;
    o.first_byte_timeout_ms = 1000;
    o.idle_timeout_ms = 1000;
    return o;
}

// A server that answers every request on the connection with `response`.
ScriptServer::Script answer(std::string response) {
    return [response](int fd, int) {
        if (!read_request(fd).empty()) send_all(fd, response);
    };
}

} // namespace

TEST_CASE("http client: Content-Length response and the request as the server saw it", "[shared][http][client]") {
    std::string seen;
    std::mutex mu;
    ScriptServer srv([&](int fd, int) {
        std::string req = read_request(fd);
        {
            std::lock_guard<std::mutex> lk(mu);
            seen = req;
        }
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello");
    });
    ClientFixture f;
    auto o = opts_for(srv.port());
    o.target = "/path?q=1";
    o.headers.push_back({"X-Forwarded-For", "192.0.2.1"});
    auto r = f.fetch(o);
    CHECK(r.error == HttpError::None);
    CHECK(r.status == 200);
    CHECK(r.body == "hello");
    CHECK(*shared::find_header(r.headers, "x-test") == "yes");
    {
        std::lock_guard<std::mutex> lk(mu);
        CHECK(seen.rfind("GET /path?q=1 HTTP/1.1\r\n", 0) == 0);
        CHECK(seen.find("Host: 127.0.0.1:" + std::to_string(srv.port()) + "\r\n") != std::string::npos);
        CHECK(seen.find("X-Forwarded-For: 192.0.2.1\r\n") != std::string::npos);
    }
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: chunked and close-delimited bodies", "[shared][http][client]") {
    ScriptServer chunked([](int fd, int) {
        if (read_request(fd).empty()) return;
        // Dribble the chunks so that they arrive in several reads.
        send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        send_all(fd, "3\r\nefg\r\n0\r\n\r\n");
    });
    ScriptServer closing([](int fd, int) {
        if (read_request(fd).empty()) return;
        send_all(fd, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        send_all(fd, " of the stream");
    });
    ClientFixture f;
    auto r1 = f.fetch(opts_for(chunked.port()));
    CHECK(r1.error == HttpError::None);
    CHECK(r1.body == "abcdefg");
    auto r2 = f.fetch(opts_for(closing.port()));
    CHECK(r2.error == HttpError::None);
    CHECK(r2.body == "until the end of the stream");
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: truncated bodies are errors, not successes", "[shared][http][client]") {
    ScriptServer cl(answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part"));
    ScriptServer chunk(answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
    ScriptServer head_only(answer("HTTP/1.1 200 OK\r\nContent-Len"));
    ClientFixture f;
    CHECK(f.fetch(opts_for(cl.port())).error == HttpError::Truncated);
    CHECK(f.fetch(opts_for(chunk.port())).error == HttpError::Truncated);
    CHECK(f.fetch(opts_for(head_only.port())).error == HttpError::Truncated);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: garbage, oversized headers, 101 and silence-then-close", "[shared][http][client]") {
    ScriptServer garbage(answer("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    ScriptServer big(answer("HTTP/1.1 200 OK\r\nX-Big: " + std::string(4096, 'x') + "\r\n\r\n"));
    ScriptServer upgrade(answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"));
    ScriptServer hangup([](int fd, int) { read_request(fd); });  // closes without a byte
    ClientFixture f;
    auto r = f.fetch(opts_for(garbage.port()));
    CHECK(r.error == HttpError::BadResponse);
    CHECK_FALSE(r.detail.empty());
    auto o = opts_for(big.port());
    o.max_response_header_bytes = 1024;
    CHECK(f.fetch(o).error == HttpError::BadResponse);
    CHECK(f.fetch(opts_for(upgrade.port())).error == HttpError::BadResponse);
    CHECK(f.fetch(opts_for(hangup.port())).error == HttpError::Reset);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: connection refused", "[shared][http][client]") {
    ClientFixture f;
    auto r = f.fetch(opts_for(closed_port()));
    CHECK(r.error == HttpError::Refused);
    CHECK(shared::http_error_status(r.error) == 502);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: first-byte and idle timeouts", "[shared][http][client]") {
    ScriptServer silent([](int fd, int) {
        read_request(fd);
        wait_readable(fd, 3000);  // never answers; returns when the client gives up
    });
    ScriptServer stalls([](int fd, int) {
        if (read_request(fd).empty()) return;
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part");
        wait_readable(fd, 3000);
    });
    ClientFixture f;
    auto o = opts_for(silent.port());
    o.first_byte_timeout_ms = 200;
    auto t0 = std::chrono::steady_clock::now();
    auto r = f.fetch(o);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.error == HttpError::TimeoutFirstByte);
    CHECK(shared::http_error_status(r.error) == 504);
    CHECK(took >= std::chrono::milliseconds(190));
    CHECK(took < std::chrono::milliseconds(1500));

    auto o2 = opts_for(stalls.port());
    o2.idle_timeout_ms = 200;
    auto r2 = f.fetch(o2);
    CHECK(r2.error == HttpError::TimeoutIdle);
    CHECK(r2.status == 200);  // the head had arrived
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: connect timeout against a full accept queue", "[shared][http][client]") {
    // A listener with backlog 0 that never accepts: once its queue is full, the kernel drops further SYNs and
    // connect() hangs, which is the loopback stand-in for an unreachable origin.
    int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto a = loopback(0);
    REQUIRE(::bind(lfd, a.sa(), a.len) == 0);
    REQUIRE(::listen(lfd, 0) == 0);
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&got), &len);
    uint16_t port = ntohs(got.sin_port);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        auto peer = loopback(port);
        ::connect(fd, peer.sa(), peer.len);
        fillers.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ClientFixture f;
    auto o = opts_for(port);
    o.connect_timeout_ms = 300;
    auto r = f.fetch(o);
    CHECK(r.error == HttpError::TimeoutConnect);
    CHECK(r.elapsed_ms >= 290);
    for (int fd : fillers) ::close(fd);
    ::close(lfd);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: total timeout bounds a trickling server", "[shared][http][client]") {
    ScriptServer trickle([](int fd, int) {
        if (read_request(fd).empty()) return;
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        for (int i = 0; i < 100; ++i) {
            if (!send_all(fd, "x")) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    ClientFixture f;
    auto o = opts_for(trickle.port());
    o.total_timeout_ms = 300;
    auto r = f.fetch(o);
    CHECK(r.error == HttpError::TimeoutIdle);
    CHECK(r.elapsed_ms < 1000);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: HEAD, POST body, body cut at max_body_bytes", "[shared][http][client]") {
    std::atomic<int> post_len{-1};
    ScriptServer srv([&](int fd, int) {
        std::string req = read_request(fd);
        if (req.rfind("HEAD ", 0) == 0) {
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n");
        } else if (req.rfind("POST ", 0) == 0) {
            post_len = int(req.size() - (req.find("\r\n\r\n") + 4));
            send_all(fd, "HTTP/1.1 201 Created\r\nContent-Length: " + std::to_string(req.size()) + "\r\n\r\n" + req);
        } else {
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b'));
        }
    });
    ClientFixture f;
    auto o = opts_for(srv.port());
    o.method = "HEAD";
    auto r = f.fetch(o);
    CHECK(r.error == HttpError::None);
    CHECK(r.body.empty());

    o.method = "POST";
    o.body = std::string(3000, 'p');
    o.headers.push_back({"Content-Length", "5"});  // stale caller framing is replaced, never sent
    r = f.fetch(o);
    CHECK(r.error == HttpError::None);
    CHECK(r.status == 201);
    CHECK(post_len.load() == 3000);
    CHECK(r.body.find("Content-Length: 5\r\n") == std::string::npos);

    o = opts_for(srv.port());
    o.max_body_bytes = 100;
    r = f.fetch(o);
    CHECK(r.error == HttpError::None);
    CHECK(r.body.size() == 100);
    CHECK(r.body_cut);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: destroying the request cancels it without a callback", "[shared][http][client]") {
    ScriptServer silent([](int fd, int) {
        read_request(fd);
        wait_readable(fd, 2000);
    });
    ClientFixture f;
    int calls = 0;
    auto req = shared::HttpClientRequest::start(&f.loop, &*f.resolver, opts_for(silent.port()),
                                                [&](const shared::HttpClientResult&) { ++calls; });
    run_until(&f.loop, [&] { return silent.accepted() == 1; }, 2000);
    req.reset();
    run_for(&f.loop, 50);
    CHECK(calls == 0);

    // And the callback may destroy its own request.
    std::unique_ptr<shared::HttpClientRequest> self;
    self = shared::HttpClientRequest::start(&f.loop, &*f.resolver, opts_for(closed_port()),
                                            [&](const shared::HttpClientResult&) {
                                                ++calls;
                                                self.reset();
                                            });
    run_until(&f.loop, [&] { return calls == 1; }, 2000);
    CHECK(calls == 1);
    CHECK(self == nullptr);
    REQUIRE(f.close() == 0);
}

TEST_CASE("http client: resolve errors and never a synchronous callback", "[shared][http][client]") {
    ClientFixture f;
    bool called_inside = false, inside = true;
    auto o = opts_for(80);
    o.host = "";  // fails synchronously inside the resolver
    shared::HttpClientResult got;
    bool done = false;
    auto req = shared::HttpClientRequest::start(&f.loop, &*f.resolver, o, [&](const shared::HttpClientResult& r) {
        called_inside = inside;
        got = r;
        done = true;
    });
    inside = false;
    run_until(&f.loop, [&] { return done; }, 2000);
    CHECK(done);
    CHECK_FALSE(called_inside);
    CHECK(got.error == HttpError::ResolveError);
    req.reset();
    REQUIRE(f.close() == 0);
}

TEST_CASE("parse_http_url", "[shared][http][client]") {
    shared::HttpUrl u;
    std::string err;
    REQUIRE(shared::parse_http_url("http://example.test/health?x=1", &u, &err));
    CHECK_FALSE(u.tls);
    CHECK(u.host == "example.test");
    CHECK(u.port == 80);
    CHECK(u.target == "/health?x=1");
    REQUIRE(shared::parse_http_url("HTTPS://[::1]:8443", &u, &err));
    CHECK(u.tls);
    CHECK(u.host == "::1");
    CHECK(u.port == 8443);
    CHECK(u.target == "/");
    REQUIRE(shared::parse_http_url("http://h:81?q", &u, &err));
    CHECK(u.target == "/?q");
    CHECK_FALSE(shared::parse_http_url("ftp://x/", &u, &err));
    CHECK_FALSE(shared::parse_http_url("http://:80/", &u, &err));
    CHECK_FALSE(shared::parse_http_url("http://h:0/", &u, &err));
    CHECK_FALSE(shared::parse_http_url("http://h:99999/", &u, &err));
    CHECK_FALSE(shared::parse_http_url("http://h:/", &u, &err));
    CHECK_FALSE(shared::parse_http_url("http://u@h/", &u, &err));
    CHECK_FALSE(shared::parse_http_url("http://[::1/", &u, &err));
}
