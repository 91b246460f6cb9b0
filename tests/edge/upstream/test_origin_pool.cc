#include <catch2/catch.hpp>

#include <csignal>

#include "edge/upstream/origin_pool.h"
#include "shared/http/upstream_test_support.h"
#include "shared/net/fake_dns.h"
#include "shared/tls/tls_test_server.h"

#include <optional>

using namespace upstream_test;
using edge::OriginError;

namespace {

struct Outcome {
    int status = 0;
    std::string body;
    bool complete = false;
    OriginError error = OriginError::None;
    bool errored = false;
    int callbacks_after_end = 0;
    bool ended() const { return complete || errored; }
};

edge::OriginCallbacks record(Outcome& o) {
    edge::OriginCallbacks cb;
    cb.on_response_headers = [&o](const shared::HttpResponseHead& h) { o.status = h.status; };
    cb.on_body = [&o](std::string_view d) {
        if (o.ended()) ++o.callbacks_after_end;
        o.body.append(d);
        return true;
    };
    cb.on_complete = [&o] {
        if (o.ended()) ++o.callbacks_after_end;
        o.complete = true;
    };
    cb.on_error = [&o](OriginError e) {
        if (o.ended()) ++o.callbacks_after_end;
        o.error = e;
        o.errored = true;
    };
    return cb;
}

edge::OriginRequest get(std::string target = "/") {
    edge::OriginRequest r;
    r.target = std::move(target);
    return r;
}

struct PoolFixture {
    uv_loop_t loop{};
    std::optional<shared::Resolver> resolver;
    std::optional<edge::OriginPool> pool;
    explicit PoolFixture(uint16_t port, uint32_t first_byte_ms = 2000) {
        uv_loop_init(&loop);
        resolver.emplace(&loop);
        edge::OriginSettings s;
        s.host = "127.0.0.1";
        s.port = port;
        s.connect_timeout_ms = 1000;
        s.first_byte_timeout_ms = first_byte_ms;
        s.idle_timeout_ms = 1000;
        pool.emplace(&loop, &*resolver, s);
    }
    Outcome fetch(edge::OriginRequest req) {
        Outcome o;
        auto f = pool->fetch(std::move(req), record(o));
        run_until(&loop, [&] { return o.ended(); }, 5000);
        return o;
    }
    int close() {
        pool.reset();
        resolver.reset();
        return finish_loop(&loop);
    }
};

// Keep-alive server: answers each request on a connection with a numbered body "c<conn>r<req>".
ScriptServer::Script keepalive_server(int max_requests_per_conn = 100) {
    return [max_requests_per_conn](int fd, int conn) {
        for (int i = 0; i < max_requests_per_conn; ++i) {
            if (read_request(fd).empty()) return;
            std::string body = "c" + std::to_string(conn) + "r" + std::to_string(i);
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        }
    };
}

} // namespace

TEST_CASE("origin pool: keep-alive connections are reused", "[edge][upstream]") {
    ScriptServer srv(keepalive_server());
    PoolFixture f(srv.port());
    std::vector<uint64_t> ttfb;
    f.pool->set_first_byte_hook([&](uint64_t ms) { ttfb.push_back(ms); });
    for (int i = 0; i < 3; ++i) {
        auto o = f.fetch(get());
        CHECK(o.complete);
        CHECK(o.body == "c0r" + std::to_string(i));
    }
    CHECK(srv.accepted() == 1);
    CHECK(f.pool->stats().connections_opened == 1);
    CHECK(f.pool->stats().connections_reused == 2);
    CHECK(f.pool->idle_connections() == 1);
    CHECK(ttfb.size() == 3);
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: Connection: close and close-delimited responses are not pooled", "[edge][upstream]") {
    ScriptServer srv([](int fd, int conn) {
        if (read_request(fd).empty()) return;
        if (conn == 0) send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na");
        else send_all(fd, "HTTP/1.1 200 OK\r\n\r\nb");  // ends with the connection
    });
    PoolFixture f(srv.port());
    CHECK(f.fetch(get()).body == "a");
    CHECK(f.pool->idle_connections() == 0);
    CHECK(f.fetch(get()).body == "b");
    CHECK(f.pool->idle_connections() == 0);
    CHECK(srv.accepted() == 2);
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: an idle connection the origin closes is dropped from the pool", "[edge][upstream]") {
    ScriptServer srv(keepalive_server(1));  // answers once, then closes
    PoolFixture f(srv.port());
    CHECK(f.fetch(get()).complete);
    run_until(&f.loop, [&] { return f.pool->idle_connections() == 0; }, 2000);
    CHECK(f.pool->idle_connections() == 0);
    auto o = f.fetch(get());
    CHECK(o.complete);
    CHECK(f.pool->stats().retries == 0);
    CHECK(f.pool->stats().connections_opened == 2);
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: one retry when a reused connection dies before the response", "[edge][upstream]") {
    // The first connection answers once, then takes the second request and closes without a byte: the race
    // of an origin closing a keep-alive connection just as it is reused.
    ScriptServer srv([](int fd, int conn) {
        if (conn == 0) {
            if (read_request(fd).empty()) return;
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
            read_request(fd);
            return;
        }
        keepalive_server()(fd, conn);
    });
    PoolFixture f(srv.port());
    CHECK(f.fetch(get()).body == "first");
    Outcome o;
    std::unique_ptr<edge::OriginFetch> fetch = f.pool->fetch(get(), record(o));
    run_until(&f.loop, [&] { return o.ended(); }, 5000);
    CHECK(o.complete);
    CHECK(o.body == "c1r0");
    CHECK(fetch->retried());
    CHECK(f.pool->stats().retries == 1);
    fetch.reset();

    // A POST that was fully sent is not retried (the origin may have acted on it).
    ScriptServer post_srv([](int fd, int conn) {
        if (read_request(fd).empty()) return;
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        if (conn == 0) read_request(fd);
    });
    PoolFixture g(post_srv.port());
    CHECK(g.fetch(get()).complete);
    auto req = get();
    req.method = "POST";
    req.body = "payload";
    auto p = g.fetch(req);
    CHECK(p.errored);
    CHECK(p.error == OriginError::Reset);
    CHECK(g.pool->stats().retries == 0);
    CHECK(post_srv.accepted() == 1);
    REQUIRE(g.close() == 0);
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: errors map to 502/504 and are never followed by other callbacks", "[edge][upstream]") {
    SECTION("refused") {
        PoolFixture f(closed_port());
        auto o = f.fetch(get());
        CHECK(o.error == OriginError::Refused);
        CHECK(shared::http_error_status(o.error) == 502);
        CHECK(o.callbacks_after_end == 0);
        CHECK(f.pool->stats().errors == 1);
        REQUIRE(f.close() == 0);
    }
    SECTION("first-byte timeout") {
        ScriptServer silent([](int fd, int) {
            read_request(fd);
            wait_readable(fd, 2000);
        });
        PoolFixture f(silent.port(), 200);
        auto o = f.fetch(get());
        CHECK(o.error == OriginError::TimeoutFirstByte);
        CHECK(shared::http_error_status(o.error) == 504);
        REQUIRE(f.close() == 0);
    }
    SECTION("truncated after headers") {
        ScriptServer cut([](int fd, int) {
            if (!read_request(fd).empty()) send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort");
        });
        PoolFixture f(cut.port());
        auto o = f.fetch(get());
        CHECK(o.status == 200);
        CHECK(o.errored);
        CHECK(o.error == OriginError::Truncated);
        CHECK_FALSE(o.complete);
        REQUIRE(f.close() == 0);
    }
    SECTION("resolve error arrives from the loop, not from inside fetch()") {
        PoolFixture f(80);
        edge::OriginSettings s;
        s.host = "";
        std::optional<edge::OriginPool> bad;
        bad.emplace(&f.loop, &*f.resolver, s);
        Outcome o;
        auto fetch = bad->fetch(get(), record(o));
        CHECK_FALSE(o.ended());
        run_until(&f.loop, [&] { return o.ended(); }, 2000);
        CHECK(o.error == OriginError::ResolveError);
        fetch.reset();
        bad.reset();
        REQUIRE(f.close() == 0);
    }
}

TEST_CASE("origin pool: pause stops reading, resume finishes the body", "[edge][upstream]") {
    // More than loopback can hold in flight (net.ipv4.tcp_rmem's max is 32 MiB on Debian 12 + tcp_wmem's 4 MiB), so
    // the server is still blocked on a full socket while we pause, whatever the kernel's buffer autotuning does.
    const size_t total = 64 * 1024 * 1024;
    std::atomic<size_t> sent{0};
    ScriptServer srv([&](int fd, int) {
        if (read_request(fd).empty()) return;
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
        std::string chunk(64 * 1024, 'd');
        for (size_t done = 0; done < total; done += chunk.size()) {
            if (!send_all(fd, chunk)) return;
            sent = done + chunk.size();
        }
    });
    PoolFixture f(srv.port());
    Outcome o;
    size_t received = 0;
    bool paused = false;
    auto cb = record(o);
    edge::OriginFetch* handle = nullptr;
    cb.on_body = [&](std::string_view d) {
        received += d.size();
        if (!paused && received >= 100 * 1024) {
            paused = true;
            return false;  // backpressure
        }
        return true;
    };
    auto fetch = f.pool->fetch(get(), cb);
    handle = fetch.get();
    run_until(&f.loop, [&] { return paused; }, 3000);
    REQUIRE(paused);
    size_t at_pause = received;
    run_for(&f.loop, 300);
    // At most the rest of one read buffer arrives after pausing, and the server is stuck on a full socket.
    CHECK(received - at_pause <= 64 * 1024);
    CHECK(sent.load() < total);
    CHECK_FALSE(o.ended());
    handle->resume();
    run_until(&f.loop, [&] { return o.ended(); }, 5000);
    CHECK(o.complete);
    CHECK(received == total);
    fetch.reset();
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: cancel and destroying the fetch inside a callback", "[edge][upstream]") {
    ScriptServer srv([](int fd, int) {
        if (read_request(fd).empty()) return;
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + std::string(200000, 'x'));
    });
    PoolFixture f(srv.port());
    Outcome o;
    std::unique_ptr<edge::OriginFetch> fetch;
    int bodies = 0;
    auto cb = record(o);
    cb.on_body = [&](std::string_view) {
        ++bodies;
        fetch.reset();  // the viewer went away
        return true;
    };
    fetch = f.pool->fetch(get(), cb);
    run_until(&f.loop, [&] { return fetch == nullptr; }, 3000);
    run_for(&f.loop, 100);
    CHECK(bodies == 1);
    CHECK_FALSE(o.ended());
    CHECK(f.pool->idle_connections() == 0);  // a half-read connection is never pooled

    Outcome o2;
    auto f2 = f.pool->fetch(get(), record(o2));
    f2->cancel();
    run_for(&f.loop, 200);
    CHECK_FALSE(o2.ended());
    CHECK(o2.status == 0);
    f2.reset();
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: Host default, HEAD and request body pass-through", "[edge][upstream]") {
    std::mutex mu;
    std::vector<std::string> seen;
    ScriptServer srv([&](int fd, int) {
        for (;;) {
            std::string req = read_request(fd);
            if (req.empty()) return;
            {
                std::lock_guard<std::mutex> lk(mu);
                seen.push_back(req);
            }
            std::string body = req.rfind("HEAD", 0) == 0 ? "" : "abc";
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + body);
        }
    });
    PoolFixture f(srv.port());
    auto head = get("/h");
    head.method = "HEAD";
    auto o = f.fetch(head);
    CHECK(o.complete);
    CHECK(o.body.empty());
    auto put = get("/p?x=1");
    put.method = "PUT";
    put.body = "data!";
    put.headers.push_back({"Host", "viewer.example"});
    o = f.fetch(put);
    CHECK(o.complete);
    CHECK(o.body == "abc");
    CHECK(srv.accepted() == 1);  // the HEAD response left the connection reusable
    std::lock_guard<std::mutex> lk(mu);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].find("Host: 127.0.0.1:" + std::to_string(srv.port()) + "\r\n") != std::string::npos);
    CHECK(seen[1].rfind("PUT /p?x=1 HTTP/1.1\r\n", 0) == 0);
    CHECK(seen[1].find("Host: viewer.example\r\n") != std::string::npos);
    CHECK(seen[1].find("Host: 127.0.0.1") == std::string::npos);
    CHECK(seen[1].find("Content-Length: 5\r\n\r\ndata!") != std::string::npos);
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: HTTPS origin with verification and keep-alive reuse", "[edge][upstream][tls]") {
    // The daemons ignore SIGPIPE process-wide (shared/process/signals.cc); so must this process, or a side writing
    // to a peer that just refused the handshake dies of it (seen as a flaky "SIGPIPE" failure under load).
    std::signal(SIGPIPE, SIG_IGN);
    REQUIRE(tls_test::test_cert().ok);
    tls_test::Seen seen;
    tls_test::TlsServer srv("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure", &seen, /*keep_alive=*/true);
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        shared::Resolver resolver(&loop);
        shared::TlsClientOptions to;
        to.ca_file = tls_test::test_cert().cert;
        std::string err;
        edge::OriginSettings s;
        s.host = "localhost";
        s.port = srv.port();
        s.tls = true;
        s.tls_context = shared::TlsClientContext::create(to, &err);
        REQUIRE(s.tls_context);
        edge::OriginPool pool(&loop, &resolver, s);
        for (int i = 0; i < 3; ++i) {
            Outcome o;
            auto f = pool.fetch(get(), record(o));
            run_until(&loop, [&] { return o.ended(); }, 5000);
            CHECK(o.complete);
            CHECK(o.body == "secure");
        }
        CHECK(pool.stats().connections_opened == 1);
        CHECK(pool.stats().connections_reused == 2);
        {
            std::lock_guard<std::mutex> lk(seen.mu);
            CHECK(seen.requests == 3);
            CHECK(seen.sni == "localhost");
            CHECK(seen.request.find("Host: localhost:" + std::to_string(srv.port()) + "\r\n") != std::string::npos);
        }

        // Without the CA the same origin is a TLS error (502), and nothing is pooled.
        edge::OriginSettings bad = s;
        to.ca_file.clear();
        bad.tls_context = shared::TlsClientContext::create(to, &err);
        REQUIRE(bad.tls_context);
        edge::OriginPool bad_pool(&loop, &resolver, bad);
        Outcome o;
        auto f = bad_pool.fetch(get(), record(o));
        run_until(&loop, [&] { return o.ended(); }, 5000);
        CHECK(o.error == OriginError::TlsError);
        CHECK(bad_pool.idle_connections() == 0);
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("origin pool: max_idle_connections and keepalive_timeout bound the pool", "[edge][upstream]") {
    ScriptServer srv([](int fd, int conn) {
        for (int i = 0; i < 100; ++i) {
            if (read_request(fd).empty()) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(30));  // keep the three fetches overlapping
            std::string body = "c" + std::to_string(conn);
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        }
    });
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        shared::Resolver resolver(&loop);
        edge::OriginSettings s;
        s.host = "127.0.0.1";
        s.port = srv.port();
        s.max_idle_connections = 2;
        s.keepalive_timeout_ms = 300;
        edge::OriginPool pool(&loop, &resolver, s);
        Outcome o[3];
        std::unique_ptr<edge::OriginFetch> f[3];
        for (int i = 0; i < 3; ++i) f[i] = pool.fetch(get(), record(o[i]));
        run_until(&loop, [&] { return o[0].ended() && o[1].ended() && o[2].ended(); }, 5000);
        for (auto& x : o) CHECK(x.complete);
        CHECK(pool.stats().connections_opened == 3);
        CHECK(pool.idle_connections() == 2);
        run_until(&loop, [&] { return pool.idle_connections() == 0; }, 2000);
        CHECK(pool.idle_connections() == 0);  // keepalive_timeout closed them
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("origin pool: a refused address moves on to the name's next address", "[edge][upstream]") {
    ScriptServer srv(keepalive_server());  // listens on 127.0.0.1 only; 127.0.0.3 refuses
    FakeDns dns(60);
    dns.add_a("dual.test", {"127.0.0.3", "127.0.0.1"});
    dns.add_a("dead.test", {"127.0.0.3", "127.0.0.4"});
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        shared::ResolverOptions ro;
        ro.servers = dns.servers();
        shared::Resolver resolver(&loop, ro);
        edge::OriginSettings s;
        s.host = "dual.test";
        s.port = srv.port();
        s.max_idle_connections = 0;  // every fetch opens a fresh connection
        edge::OriginPool pool(&loop, &resolver, s);
        for (int i = 0; i < 3; ++i) {
            auto req = get();
            req.method = "POST";  // not idempotent: moving on is still safe, nothing was sent
            Outcome o;
            auto f = pool.fetch(std::move(req), record(o));
            run_until(&loop, [&] { return o.ended(); }, 5000);
            CHECK(o.complete);
            CHECK_FALSE(f->retried());
        }
        // The refusing address is tried once, then the working one is preferred.
        CHECK(pool.stats().connections_opened == 4);

        s.host = "dead.test";
        edge::OriginPool dead(&loop, &resolver, s);
        Outcome o;
        auto f = dead.fetch(get(), record(o));
        run_until(&loop, [&] { return o.ended(); }, 5000);
        CHECK(o.error == OriginError::Refused);
        CHECK(dead.stats().connections_opened == 2);
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("origin pool: destroying the pool first cancels its running fetches", "[edge][upstream]") {
    ScriptServer silent([](int fd, int) {
        read_request(fd);
        wait_readable(fd, 2000);
    });
    PoolFixture f(silent.port());
    Outcome o1, o2;
    auto a = f.pool->fetch(get(), record(o1));
    auto b = f.pool->fetch(get(), record(o2));
    run_until(&f.loop, [&] { return silent.accepted() == 2; }, 2000);
    f.pool.reset();
    run_for(&f.loop, 100);
    CHECK_FALSE(o1.ended());
    CHECK_FALSE(o2.ended());
    a->pause();  // inert, not a crash
    a.reset();
    b.reset();
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: the fetch may be destroyed from on_complete and on_error", "[edge][upstream]") {
    ScriptServer srv(keepalive_server());
    PoolFixture f(srv.port());
    std::unique_ptr<edge::OriginFetch> fetch;
    bool completed = false;
    edge::OriginCallbacks cb;
    cb.on_complete = [&] {
        fetch.reset();
        completed = true;
    };
    fetch = f.pool->fetch(get(), cb);
    run_until(&f.loop, [&] { return completed; }, 3000);
    CHECK(completed);
    CHECK(fetch == nullptr);
    CHECK(f.pool->idle_connections() == 1);  // the connection went back to the pool before the callback

    PoolFixture g(closed_port());
    bool failed = false;
    edge::OriginCallbacks ecb;
    ecb.on_error = [&](OriginError) {
        fetch.reset();
        failed = true;
    };
    fetch = g.pool->fetch(get(), ecb);
    run_until(&g.loop, [&] { return failed; }, 3000);
    CHECK(failed);
    CHECK(fetch == nullptr);
    REQUIRE(g.close() == 0);
    REQUIRE(f.close() == 0);
}

TEST_CASE("origin pool: new HTTPS connections resume the origin's TLS session", "[edge][upstream][tls]") {
    REQUIRE(tls_test::test_cert().ok);
    tls_test::Seen seen;
    tls_test::TlsServer srv("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &seen);
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        shared::Resolver resolver(&loop);
        shared::TlsClientOptions to;
        to.ca_file = tls_test::test_cert().cert;
        std::string err;
        edge::OriginSettings s;
        s.host = "localhost";
        s.port = srv.port();
        s.tls = true;
        s.tls_context = shared::TlsClientContext::create(to, &err);
        s.max_idle_connections = 0;  // a fresh connection (and handshake) per fetch
        REQUIRE(s.tls_context);
        edge::OriginPool pool(&loop, &resolver, s);
        for (int i = 0; i < 3; ++i) {
            Outcome o;
            auto f = pool.fetch(get(), record(o));
            run_until(&loop, [&] { return o.ended(); }, 5000);
            CHECK(o.complete);
        }
        CHECK(pool.stats().connections_opened == 3);
        CHECK(s.tls_context->cached_sessions() == 1);
        std::lock_guard<std::mutex> lk(seen.mu);
        CHECK(seen.resumed == 2);
    }
    REQUIRE(finish_loop(&loop) == 0);
}
