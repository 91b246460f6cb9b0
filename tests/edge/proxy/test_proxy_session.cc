// The proxy session without sockets: a fake viewer, a fake origin and a hand-driven loop (proxy_fakes.h) take a
// request through every phase, with the viewer leaving and the origin failing at each of them. What must hold
// every time: nothing is written to a viewer after it is gone, a body that was cut is never ended as complete
// (no end_response, no last chunk), a failed fill is never stored, and every session ends (its SessionIo closed,
// its hold on the viewer released).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <list>
#include <memory>
#include <string>

#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"
#include "edge/config/edge_config.h"
#include "edge/http/request_parser.h"
#include "edge/proxy/edge_metrics.h"
#include "edge/proxy/edge_runtime.h"
#include "edge/proxy/proxy_handler.h"
#include "shared/http/http_headers.h"
#include "tests/edge/proxy/proxy_fakes.h"
#include "tests/support/temp_dir.h"

using namespace edge;
using shared::HttpError;
using test_support::FakeFetch;
using test_support::FakeProxyIo;
using test_support::FakeViewer;

namespace {

// One worker's proxy over the fakes: an http origin "o" (cached, except /pass/*) and a bucket origin "b" under
// /b/* (pass-through, so its reads go through thread-pool jobs) and /bc/* (cached).
struct Proxy {
    test_support::TempDir dir{"meridian-proxy"};
    std::shared_ptr<const EdgeRuntime> rt;
    std::unique_ptr<ObjectCache> cache;
    std::unique_ptr<MissCoalescer> coalescer;
    AccessLogFile access_log;
    EdgeMetrics metrics;
    std::atomic<bool> draining{false};
    FakeProxyIo io;
    std::unique_ptr<ProxyHandler> handler;

    // `extra`: more config (tables that go last, like [[error_response]]).
    explicit Proxy(const std::string& extra = "") {
        dir.write("site/b/big.bin", std::string(600 << 10, 'b'));
        dir.write("site/bc/page.html", "<p>page</p>");
        std::string conf = dir.write("edge.toml", std::string(R"(workers = 1
listen = ["127.0.0.1:0"]
server_name = "unit"
[cache]
max_bytes = "4MiB"
max_object_bytes = "64KiB"
collapse_timeout = "200ms"
[[origin]]
name = "o"
type = "http"
address = "127.0.0.1:9"
[[origin]]
name = "b"
type = "bucket"
path = "site"
[[behavior]]
path_pattern = "/pass/*"
origin = "o"
allowed_methods = "ALL"
cache = false
[[behavior]]
path_pattern = "/keyed/*"
origin = "o"
compress = false
cache_key_headers = ["X-Device"]
[[behavior]]
path_pattern = "/strict/*"
origin = "o"
compress = false
serve_stale_on_error = false
[[behavior]]
path_pattern = "/b/*"
origin = "b"
cache = false
[[behavior]]
path_pattern = "/bc/*"
origin = "b"
compress = false
[[behavior]]
path_pattern = "*"
origin = "o"
compress = false
allowed_methods = "ALL"
)") + extra);
        shared::ConfigDiagnostics diags;
        auto cfg = load_edge_config(conf, diags);
        INFO(diags.to_string());
        REQUIRE(cfg);
        REQUIRE(diags.ok());
        std::string err;
        rt = EdgeRuntime::build(std::move(*cfg), &err);
        INFO(err);
        REQUIRE(rt);
        const auto& c = rt->config.cache;
        cache = std::make_unique<ObjectCache>(c.max_bytes, c.shards);
        coalescer = std::make_unique<MissCoalescer>(cache.get(), c.shards, c.max_object_bytes, c.hit_for_miss_ttl_ms);
        EdgeServices s;
        s.cache = cache.get();
        s.coalescer = coalescer.get();
        s.access_log = &access_log;
        s.metrics = &metrics;
        s.draining = &draining;
        handler = std::make_unique<ProxyHandler>(io, 0, s, rt);
    }
    ~Proxy() {
        io.run();
        handler.reset();
    }
};

// A viewer's request, parsed as the connection would; the parser keeps the request's bytes alive.
struct Request {
    RequestParser parser{RequestLimits{}};
    explicit Request(const std::string& head) {
        auto r = parser.feed(head.data(), head.size());
        REQUIRE(r.status == RequestParser::Status::complete);
    }
    const HttpRequest& get() const { return parser.request(); }
};

std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: example.test\r\n" + extra + "\r\n";
}

// Every session ended: its SessionIo closed, the viewer released, nothing written after the viewer left.
void require_all_ended(Proxy& p, const FakeViewer& v) {
    p.io.run();
    CHECK(p.handler->live_sessions() == 0);
    CHECK(p.io.open_ios() == 0);
    CHECK(v.holds == 0);
    CHECK(v.writes_after_gone == 0);
}

bool cached(Proxy& p, const std::string& path) {
    FakeViewer v;
    Request r(get(path));
    size_t fetches = p.io.origin.fetches.size();
    p.handler->handle(v, r.get());
    bool hit = v.ended && p.io.origin.fetches.size() == fetches && v.out.find("X-Cache: Hit") != std::string::npos;
    p.io.run();
    // A miss leaves a fetch behind: fail it so the proxy is quiet again.
    if (p.io.origin.fetches.size() != fetches) p.io.origin.last().error(HttpError::Reset);
    p.io.run();
    return hit;
}

const std::string kBody = "0123456789abcdef";

// A cacheable origin head announcing `length` body bytes.
shared::HttpHeaders cacheable(size_t length) {
    return {{"Content-Length", std::to_string(length)}, {"Cache-Control", "max-age=60"}};
}

// The origin answers kBody whole, cacheable.
void answer_whole(FakeFetch& f) {
    f.head(200, cacheable(kBody.size()));
    f.body(kBody);
    f.complete();
}

} // namespace

TEST_CASE("proxy session: a miss is fetched, streamed byte-exact, ended once and stored", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/a.js"));
    p.handler->handle(v, r.get());
    REQUIRE(p.io.origin.fetches.size() == 1);
    FakeFetch& f = p.io.origin.last();
    CHECK(f.req.method == "GET");
    CHECK(f.req.target == "/a.js");
    CHECK(v.out.empty()); // nothing before the origin answers
    CHECK(v.holds == 1);

    f.head(200, cacheable(kBody.size()));
    p.io.run();
    CHECK(v.status_line() == "HTTP/1.1 200 OK");
    CHECK(!v.ended); // the head, but not the body yet
    f.body(kBody.substr(0, 5));
    p.io.run();
    f.body(kBody.substr(5));
    f.complete();
    p.io.run();
    CHECK(v.ended);
    CHECK(v.ended_keep_alive);
    CHECK(v.body() == kBody);
    CHECK(v.out.find("X-Cache: Miss") != std::string::npos);
    require_all_ended(p, v);
    CHECK(cached(p, "/a.js"));
}

TEST_CASE("proxy session: body bytes already here when the head goes out leave in the same write", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/small.css"));
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();
    f.head(200, cacheable(kBody.size())); // one origin read holds the head and the whole body
    f.body(kBody);
    f.complete();
    p.io.run();
    CHECK(v.ended);
    CHECK(v.body() == kBody);
    CHECK(v.writes == 1); // a writev with the head and the body, not one for each
    require_all_ended(p, v);
}

TEST_CASE("proxy session: the viewer leaves at every phase of a cached miss", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/a.js"));
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();

    SECTION("before the origin answers: the fill goes on for later viewers") {
        v.leave();
        CHECK(!f.cancelled); // the lead still fills the cache
        answer_whole(f);
        require_all_ended(p, v);
        CHECK(v.out.empty());
        CHECK(cached(p, "/a.js"));
    }
    SECTION("inside the head's write") {
        v.leave_after_bytes = 10;
        f.head(200, cacheable(kBody.size()));
        p.io.run();
        CHECK(v.is_gone);
        CHECK(v.out.empty());
        f.body(kBody);
        f.complete();
        require_all_ended(p, v);
        CHECK(!v.ended);
        CHECK(cached(p, "/a.js"));
    }
    SECTION("between body pieces") {
        f.head(200, cacheable(kBody.size()));
        f.body(kBody.substr(0, 4));
        p.io.run();
        size_t before = v.out.size();
        v.leave();
        f.body(kBody.substr(4));
        f.complete();
        require_all_ended(p, v);
        CHECK(v.out.size() == before);
        CHECK(!v.ended);
        CHECK(cached(p, "/a.js"));
    }
    SECTION("inside a body write") {
        f.head(200, cacheable(kBody.size()));
        p.io.run();
        v.leave_after_bytes = v.out.size() + 3;
        f.body(kBody);
        f.complete();
        require_all_ended(p, v);
        CHECK(!v.ended);
        CHECK(cached(p, "/a.js"));
    }
    SECTION("while the viewer is congested") {
        f.head(200, cacheable(kBody.size()));
        p.io.run();
        v.congested_flag = true;
        f.body(kBody);
        f.complete();
        p.io.run();
        CHECK(!v.ended);
        CHECK(v.body().empty()); // waits for on_writable()
        v.leave();
        require_all_ended(p, v);
        CHECK(cached(p, "/a.js"));
    }
}

TEST_CASE("proxy session: a congested viewer is resumed by on_writable and gets every byte", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/a.js"));
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();
    f.head(200, cacheable(kBody.size()));
    p.io.run();
    v.congested_flag = true;
    f.body(kBody);
    f.complete();
    p.io.run();
    CHECK(!v.ended);
    v.drain();
    p.io.run();
    CHECK(v.ended);
    CHECK(v.body() == kBody);
    require_all_ended(p, v);
}

TEST_CASE("proxy session: the origin fails at every phase", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/a.js"));
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();

    SECTION("before its head: 502, or 504 for a timeout, and nothing stored") {
        HttpError e = GENERATE(HttpError::Refused, HttpError::Reset, HttpError::BadResponse, HttpError::TimeoutConnect,
                               HttpError::TimeoutFirstByte);
        f.error(e);
        p.io.run();
        CHECK(v.status_line() ==
              (shared::http_error_is_timeout(e) ? "HTTP/1.1 504 Gateway Timeout" : "HTTP/1.1 502 Bad Gateway"));
        CHECK(v.out.find("X-Cache: Error") != std::string::npos);
        CHECK(v.ended);
        require_all_ended(p, v);
        CHECK(!cached(p, "/a.js"));
    }
    SECTION("mid-body with a Content-Length: the viewer is cut, never ended") {
        f.head(200, cacheable(100));
        f.body(kBody);
        p.io.run();
        CHECK(v.body() == kBody);
        f.error(HttpError::Truncated);
        p.io.run();
        CHECK(v.aborted);
        CHECK(!v.ended);
        require_all_ended(p, v);
        CHECK(!cached(p, "/a.js"));
    }
    SECTION("mid-body without a length: no last chunk, the viewer is cut") {
        f.head(200, {{"Cache-Control", "max-age=60"}});
        f.body(kBody);
        p.io.run();
        // A waiter-free lead streams a length-less body chunked as it arrives.
        CHECK(v.out.find("Transfer-Encoding: chunked") != std::string::npos);
        f.error(HttpError::TimeoutIdle);
        p.io.run();
        CHECK(v.aborted);
        CHECK(!v.ended);
        CHECK(v.body().find("0\r\n\r\n") == std::string::npos);
        require_all_ended(p, v);
        CHECK(!cached(p, "/a.js"));
    }
}

TEST_CASE("proxy session: collapsed viewers all get the leader's answer, whatever the failure", "[proxy]") {
    Proxy p;
    FakeViewer lead, join;
    Request r1(get("/c.css")), r2(get("/c.css"));
    p.handler->handle(lead, r1.get());
    p.handler->handle(join, r2.get());
    REQUIRE(p.io.origin.fetches.size() == 1); // one origin fetch for both

    SECTION("the origin times out: both 504") {
        p.io.origin.last().error(HttpError::TimeoutFirstByte);
        p.io.run();
        CHECK(lead.status_line() == "HTTP/1.1 504 Gateway Timeout");
        CHECK(join.status_line() == "HTTP/1.1 504 Gateway Timeout");
    }
    SECTION("the origin answers: both byte-exact") {
        answer_whole(p.io.origin.last());
        p.io.run();
        CHECK(lead.body() == kBody);
        CHECK(join.body() == kBody);
        CHECK(lead.ended);
        CHECK(join.ended);
    }
    SECTION("the leader's viewer leaves: the waiter still gets the whole body") {
        lead.leave();
        answer_whole(p.io.origin.last());
        p.io.run();
        CHECK(join.body() == kBody);
        CHECK(join.ended);
        CHECK(lead.out.empty());
    }
    SECTION("the waiter leaves: the leader is not disturbed") {
        join.leave();
        answer_whole(p.io.origin.last());
        p.io.run();
        CHECK(lead.body() == kBody);
        CHECK(lead.ended);
    }
    SECTION("the leader's origin is slow: the waiter fetches for itself at collapse_timeout") {
        p.io.fire_timers();
        REQUIRE(p.io.origin.fetches.size() == 2);
        FakeFetch& own = *p.io.origin.fetches[1];
        own.head(200, {{"Content-Length", std::to_string(kBody.size())}});
        own.body(kBody);
        own.complete();
        p.io.run();
        CHECK(join.body() == kBody);
        CHECK(join.ended);
        p.io.origin.fetches[0]->error(HttpError::TimeoutFirstByte);
        p.io.run();
        CHECK(lead.status_line() == "HTTP/1.1 504 Gateway Timeout");
    }
    require_all_ended(p, lead);
    require_all_ended(p, join);
}

TEST_CASE("proxy session: pass-through at every phase", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/pass/x"));
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();

    SECTION("a length-less body streams chunked, byte-exact, with the last chunk") {
        f.head(200, {});
        f.body("abc");
        f.body("defg");
        f.complete();
        p.io.run();
        CHECK(v.ended);
        CHECK(v.body() == "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    }
    SECTION("a congested viewer pauses the origin; on_writable resumes it") {
        f.head(200, {});
        v.congested_flag = true;
        CHECK_FALSE(f.body("abc")); // pause
        CHECK(f.resumes == 0);
        v.drain();
        CHECK(f.resumes == 1);
        f.body("d");
        f.complete();
        p.io.run();
        CHECK(v.body() == "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n");
    }
    SECTION("the viewer leaves before the head: the fetch is cancelled") {
        v.leave();
        CHECK(f.cancelled);
    }
    SECTION("the viewer leaves mid-body: the fetch is cancelled, no more writes") {
        f.head(200, {});
        f.body("abc");
        v.leave();
        CHECK(f.cancelled);
        f.body("more"); // a fetch that raced the cancel: the fake refuses, as the pool does
    }
    SECTION("the origin fails mid-body: cut, no last chunk") {
        f.head(200, {});
        f.body("abc");
        f.error(HttpError::Reset);
        p.io.run();
        CHECK(v.aborted);
        CHECK(!v.ended);
        CHECK(v.body().find("0\r\n\r\n") == std::string::npos);
    }
    SECTION("the origin fails before its head: 502") {
        f.error(HttpError::Reset);
        p.io.run();
        CHECK(v.status_line() == "HTTP/1.1 502 Bad Gateway");
        CHECK(v.ended);
    }
    require_all_ended(p, v);
}

TEST_CASE("proxy session: a bucket read in flight outlives a viewer that left", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/b/big.bin"));
    p.handler->handle(v, r.get());
    REQUIRE(p.io.pending_jobs() == 1); // the lookup (open, fstat) is on the thread pool, not on the loop
    CHECK(v.status_line().empty());
    p.io.run_one_job();
    REQUIRE(p.io.pending_jobs() == 1); // and so is the first read
    CHECK(v.status_line() == "HTTP/1.1 200 OK");

    SECTION("the whole file, read piece by piece") {
        p.io.run();
        CHECK(v.ended);
        CHECK(v.body() == std::string(600 << 10, 'b'));
    }
    SECTION("the viewer leaves while a read is in flight") {
        v.leave();
        CHECK(p.handler->live_sessions() == 1); // the job still holds the session
        p.io.run();
        CHECK(!v.ended);
    }
    require_all_ended(p, v);
}

TEST_CASE("proxy session: a bucket lookup in flight outlives a viewer that left", "[proxy]") {
    Proxy p;
    FakeViewer v;
    SECTION("a pass-through: nothing is written to the gone viewer") {
        Request r(get("/b/big.bin"));
        p.handler->handle(v, r.get());
        REQUIRE(p.io.pending_jobs() == 1); // get() on the thread pool
        v.leave();
        CHECK(p.handler->live_sessions() == 1); // the job still holds the session
        p.io.run();
        CHECK(v.out.empty());
        require_all_ended(p, v);
    }
    SECTION("the leader of a fill: the fill goes on for the cache") {
        Request r(get("/bc/page.html"));
        p.handler->handle(v, r.get());
        REQUIRE(p.io.pending_jobs() == 1);
        v.leave();
        p.io.run();
        CHECK(v.out.empty());
        require_all_ended(p, v);
        CHECK(cached(p, "/bc/page.html"));
    }
    SECTION("the worker stops meanwhile") {
        Request r(get("/bc/page.html"));
        p.handler->handle(v, r.get());
        REQUIRE(p.io.pending_jobs() == 1);
        p.handler->abort_sessions();
        CHECK(v.aborted);
        p.io.run();
        require_all_ended(p, v);
    }
}

TEST_CASE("proxy session: a bucket file is served and cached through the thread-pool lookup", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/bc/page.html"));
    p.handler->handle(v, r.get());
    CHECK(v.out.empty()); // nothing before the lookup ran
    p.io.run();
    CHECK(v.status_line() == "HTTP/1.1 200 OK");
    CHECK(v.body() == "<p>page</p>");
    require_all_ended(p, v);
    CHECK(cached(p, "/bc/page.html"));
}

TEST_CASE("proxy session: worker stop cuts every session and cancels its fetch", "[proxy]") {
    Proxy p;
    FakeViewer a, b;
    Request ra(get("/a.js")), rb(get("/pass/b"));
    p.handler->handle(a, ra.get());
    p.handler->handle(b, rb.get());
    FakeFetch& fa = *p.io.origin.fetches[0];
    FakeFetch& fb = *p.io.origin.fetches[1];
    fa.head(200, cacheable(100));
    fa.body(kBody);
    fb.head(200, {});
    p.io.run();
    p.handler->abort_sessions();
    CHECK(fa.cancelled);
    CHECK(fb.cancelled);
    CHECK(a.aborted);
    CHECK(b.aborted);
    require_all_ended(p, a);
    require_all_ended(p, b);
    CHECK(!cached(p, "/a.js")); // the fill failed: a partial body is never stored
}

TEST_CASE("proxy session: an answer to a request with Authorization is stored only when it allows it (RFC 9111 §3.5)",
          "[proxy]") {
    Proxy p;
    auto [cache_control, stored] = GENERATE(table<std::string, bool>({{"max-age=60", false},
                                                                      {"max-age=60, public", true},
                                                                      {"s-maxage=60", true},
                                                                      {"max-age=60, must-revalidate", true}}));
    FakeViewer v;
    Request r(get("/private.json", "Authorization: Bearer secret\r\n"));
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();
    CHECK(shared::find_header(f.req.headers, "authorization"));
    f.head(200, {{"Content-Length", std::to_string(kBody.size())}, {"Cache-Control", cache_control}});
    f.body(kBody);
    f.complete();
    p.io.run();
    CHECK(v.body() == kBody);
    INFO(cache_control);
    CHECK(cached(p, "/private.json") == stored);
}

TEST_CASE("proxy session: cache key headers split the cache, other headers do not", "[proxy]") {
    Proxy p;
    // "/keyed/*" keys on X-Device (the behavior in Proxy's config).
    auto fetch = [&](const std::string& path, const std::string& extra) {
        FakeViewer v;
        Request r(get(path, extra));
        size_t before = p.io.origin.fetches.size();
        p.handler->handle(v, r.get());
        if (p.io.origin.fetches.size() != before) answer_whole(p.io.origin.last());
        p.io.run();
        CHECK(v.body() == kBody);
        return p.io.origin.fetches.size() - before;
    };
    CHECK(fetch("/keyed/a", "X-Device: mobile\r\n") == 1);
    CHECK(fetch("/keyed/a", "X-Device: mobile\r\nUser-Agent: other\r\n") == 0);
    CHECK(fetch("/keyed/a", "X-Device: desktop\r\n") == 1);
    CHECK(fetch("/keyed/a", "") == 1);
    CHECK(fetch("/keyed/a", "X-Device: desktop\r\n") == 0);
    CHECK(p.io.origin.last().req.method == "GET");
}

TEST_CASE("proxy session: a non-error answer to an unsafe request invalidates the target, Location and "
          "Content-Location on the same host (RFC 9111 §4.4)",
          "[proxy]") {
    Proxy p;
    for (const char* path : {"/t.js", "/loc.js", "/cloc.js", "/other.js"}) {
        FakeViewer v;
        Request r(get(path));
        p.handler->handle(v, r.get());
        answer_whole(p.io.origin.last());
        p.io.run();
        REQUIRE(cached(p, path));
    }
    auto [method, status, invalidates] = GENERATE(table<std::string, int, bool>({{"POST", 201, true},
                                                                                 {"PUT", 204, true},
                                                                                 {"DELETE", 200, true},
                                                                                 {"PATCH", 303, true},
                                                                                 {"POST", 500, false},
                                                                                 {"POST", 404, false},
                                                                                 {"OPTIONS", 200, false}}));
    INFO(method << " answered " << status);
    FakeViewer v;
    Request r(method + " /t.js HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\nhi");
    p.handler->handle(v, r.get());
    FakeFetch& f = p.io.origin.last();
    CHECK(f.req.method == method);
    f.head(status, {{"Content-Length", "0"},
                    {"Location", "/loc.js"},
                    {"Content-Location", "HTTP://Example.TEST/cloc.js?x=1#frag"}});
    f.complete();
    p.io.run();
    CHECK(v.ended);
    CHECK(cached(p, "/t.js") == !invalidates);
    CHECK(cached(p, "/loc.js") == !invalidates);
    CHECK(cached(p, "/cloc.js") == !invalidates);
    CHECK(cached(p, "/other.js"));
}

TEST_CASE("proxy session: a Location on another host invalidates nothing there", "[proxy]") {
    Proxy p;
    FakeViewer v0;
    Request r0(get("/far.js"));
    p.handler->handle(v0, r0.get());
    answer_whole(p.io.origin.last());
    p.io.run();
    FakeViewer v;
    Request r("POST /t.js HTTP/1.1\r\nHost: elsewhere.test\r\nContent-Length: 0\r\n\r\n");
    p.handler->handle(v, r.get());
    p.io.origin.last().head(201, {{"Content-Length", "0"}, {"Location", "http://example.test/far.js"}});
    p.io.origin.last().complete();
    p.io.run();
    CHECK(cached(p, "/far.js"));
}

namespace {

// The origin answers `body` with `cache_control` and an Age that makes it stale on arrival (no sleeping in tests).
void answer_stale(FakeFetch& f, const std::string& body, const std::string& cache_control, bool etag = false) {
    shared::HttpHeaders h = {
        {"Content-Length", std::to_string(body.size())}, {"Cache-Control", cache_control}, {"Age", "100"}};
    if (etag) h.push_back({"ETag", "\"v1\""});
    f.head(200, h);
    f.body(body);
    f.complete();
}

} // namespace

TEST_CASE("proxy session: stale-while-revalidate answers at once and refreshes once in the background (RFC 5861)",
          "[proxy]") {
    Proxy p;
    {
        FakeViewer v;
        Request r(get("/swr.js"));
        p.handler->handle(v, r.get());
        answer_stale(p.io.origin.last(), "old", "max-age=60, stale-while-revalidate=300");
        p.io.run();
        REQUIRE(v.body() == "old");
    }
    REQUIRE(p.io.origin.fetches.size() == 1);
    // Two viewers while stale: both answered from the stale object at once; one background fetch.
    FakeViewer a, b;
    Request ra(get("/swr.js")), rb(get("/swr.js"));
    p.handler->handle(a, ra.get());
    p.handler->handle(b, rb.get());
    CHECK(a.ended);
    CHECK(b.ended);
    CHECK(a.body() == "old");
    CHECK(b.body() == "old");
    CHECK(a.out.find("X-Cache: Hit") != std::string::npos);
    REQUIRE(p.io.origin.fetches.size() == 2);
    FakeFetch& refresh = p.io.origin.last();
    CHECK(refresh.req.method == "GET");
    CHECK(p.handler->live_sessions() == 1); // the refresh, with nobody waiting on it
    answer_whole(refresh);
    p.io.run();
    CHECK(p.handler->live_sessions() == 0);
    FakeViewer c;
    Request rc(get("/swr.js"));
    p.handler->handle(c, rc.get());
    CHECK(c.body() == kBody); // the refreshed object
    CHECK(p.io.origin.fetches.size() == 2);
    require_all_ended(p, a);
}

TEST_CASE("proxy session: a failed background refresh keeps the stale object serving", "[proxy]") {
    Proxy p;
    FakeViewer v;
    Request r(get("/swr2.js"));
    p.handler->handle(v, r.get());
    answer_stale(p.io.origin.last(), "old", "max-age=60, stale-while-revalidate=300", true);
    p.io.run();
    FakeViewer a;
    Request ra(get("/swr2.js"));
    p.handler->handle(a, ra.get());
    CHECK(a.body() == "old");
    FakeFetch& refresh = p.io.origin.last();
    CHECK(shared::find_header(refresh.req.headers, "if-none-match")); // revalidates with the stored ETag
    refresh.error(HttpError::Refused);
    p.io.run();
    FakeViewer b;
    Request rb(get("/swr2.js"));
    p.handler->handle(b, rb.get());
    CHECK(b.body() == "old");
    CHECK(b.ended);
    p.io.origin.last().error(HttpError::Refused); // that request started another refresh
    require_all_ended(p, b);
}

TEST_CASE("proxy session: stale-if-error serves the stale object within its window, even where the behavior does "
          "not (RFC 5861 §4)",
          "[proxy]") {
    Proxy p;
    // "/strict/*" has serve_stale_on_error = false.
    auto fill = [&](const std::string& path, const std::string& cc) {
        FakeViewer v;
        Request r(get(path));
        p.handler->handle(v, r.get());
        answer_stale(p.io.origin.last(), "old", cc, true);
        p.io.run();
    };
    auto after_error = [&](const std::string& path, HttpError e) {
        FakeViewer v;
        Request r(get(path));
        p.handler->handle(v, r.get());
        p.io.origin.last().error(e);
        p.io.run();
        std::string s = v.status_line() + " " + v.body();
        return s;
    };
    fill("/strict/sie", "max-age=60, stale-if-error=300");
    CHECK(after_error("/strict/sie", HttpError::Reset) == "HTTP/1.1 200 OK old");
    fill("/strict/past", "max-age=60, stale-if-error=10"); // 100 s old: outside its 10 s window
    CHECK(after_error("/strict/past", HttpError::Reset) == "HTTP/1.1 502 Bad Gateway origin failed\n");
    fill("/strict/none", "max-age=60");
    CHECK(after_error("/strict/none", HttpError::Refused) == "HTTP/1.1 502 Bad Gateway origin failed\n");
    fill("/strict/mr", "max-age=60, stale-if-error=300, must-revalidate");
    CHECK(after_error("/strict/mr", HttpError::Reset) == "HTTP/1.1 502 Bad Gateway origin failed\n");
    // A 5xx answer is an error too.
    fill("/strict/5xx", "max-age=60, stale-if-error=300");
    FakeViewer v;
    Request r(get("/strict/5xx"));
    p.handler->handle(v, r.get());
    p.io.origin.last().head(503, {{"Content-Length", "0"}});
    p.io.run();
    CHECK(v.body() == "old");
}

TEST_CASE("proxy session: custom error responses answer with their page, through the cache", "[proxy]") {
    Proxy p(R"(
[[error_response]]
status = 404
page = "/index.html"
response_status = 200
[[error_response]]
status = 504
page = "/oops.html"
[[error_response]]
status = 410
caching_min_ttl = "0s"
)");
    std::list<Request> requests; // a request stays valid while its answer is in progress, as on a connection
    auto request = [&](const std::string& head, FakeViewer& v) {
        requests.emplace_back(head);
        p.handler->handle(v, requests.back().get());
        p.io.run();
    };
    const std::string index = "<html>app</html>";
    auto answer_index = [&](FakeFetch& f) {
        CHECK(f.req.target == "/index.html");
        f.head(200, {{"Content-Length", std::to_string(index.size())}, {"Cache-Control", "max-age=60"}});
        f.body(index);
        f.complete();
        p.io.run();
    };

    SECTION("a single-page app: 404 becomes /index.html with 200, then both come from the cache") {
        FakeViewer v;
        request(get("/app/route"), v);
        p.io.origin.last().head(404, {{"Content-Length", "9"}});
        p.io.origin.last().body("not found");
        p.io.origin.last().complete();
        p.io.run();
        REQUIRE(p.io.origin.fetches.size() == 2);
        answer_index(p.io.origin.last());
        CHECK(v.status_line() == "HTTP/1.1 200 OK");
        CHECK(v.body() == index);
        CHECK(v.ended);
        FakeViewer again;
        request(get("/app/route"), again);
        CHECK(again.status_line() == "HTTP/1.1 200 OK");
        CHECK(again.body() == index);
        CHECK(p.io.origin.fetches.size() == 2); // the stored 404 and the stored page
        FakeViewer head;
        request("HEAD /app/other HTTP/1.1\r\nHost: example.test\r\n\r\n", head);
        p.io.origin.last().head(404, {{"Content-Length", "0"}});
        p.io.origin.last().complete();
        p.io.run();
        CHECK(head.status_line() == "HTTP/1.1 200 OK");
        CHECK(head.body().empty());
        require_all_ended(p, head);
    }
    SECTION("a page that is an error itself keeps its own status") {
        FakeViewer v;
        request(get("/app/x"), v);
        p.io.origin.last().head(404, {{"Content-Length", "0"}});
        p.io.origin.last().complete();
        p.io.run();
        FakeFetch& page = p.io.origin.last();
        CHECK(page.req.target == "/index.html");
        page.head(404, {{"Content-Length", "4"}});
        page.body("gone");
        page.complete();
        p.io.run();
        CHECK(v.status_line() == "HTTP/1.1 404 Not Found");
        CHECK(v.body() == "gone");
        CHECK(p.io.origin.fetches.size() == 2); // no third fetch: the page gets no error page of its own
        require_all_ended(p, v);
    }
    SECTION("a pass-through 404 too") {
        FakeViewer v;
        request(get("/pass/x"), v);
        p.io.origin.last().head(404, {});
        p.io.run();
        answer_index(p.io.origin.last());
        CHECK(v.status_line() == "HTTP/1.1 200 OK");
        CHECK(v.body() == index);
        CHECK(p.io.origin.fetches[0]->cancelled); // the origin's own error body is not read
        require_all_ended(p, v);
    }
    SECTION("an origin failure: the page with the original status; a failing page falls back to the plain error") {
        FakeViewer v;
        request(get("/a.js"), v);
        p.io.origin.last().error(HttpError::TimeoutFirstByte);
        p.io.run();
        FakeFetch& page = p.io.origin.last();
        CHECK(page.req.target == "/oops.html");
        page.head(200, {{"Content-Length", "5"}, {"Cache-Control", "max-age=60"}});
        page.body("oops!");
        page.complete();
        p.io.run();
        CHECK(v.status_line() == "HTTP/1.1 504 Gateway Timeout");
        CHECK(v.body() == "oops!");
        FakeViewer w;
        request(get("/b.js"), w);
        p.io.origin.last().error(HttpError::TimeoutIdle); // /b.js fails; the page is cached now
        p.io.run();
        CHECK(w.status_line() == "HTTP/1.1 504 Gateway Timeout");
        CHECK(w.body() == "oops!");
        FakeViewer x;
        request(get("/oops-fails.js"), x);
        p.io.origin.last().error(HttpError::TimeoutFirstByte);
        p.io.run();
        CHECK(x.status_line() == "HTTP/1.1 504 Gateway Timeout"); // the cached page
        require_all_ended(p, w);
    }
    SECTION("caching_min_ttl replaces error_ttl for its status") {
        auto fetches_for = [&](int status) {
            size_t before = p.io.origin.fetches.size();
            for (int i = 0; i < 2; ++i) {
                FakeViewer v;
                request(get("/gone/" + std::to_string(status)), v);
                if (p.io.origin.fetches.size() > before + static_cast<size_t>(i) && p.io.origin.last().live()) {
                    p.io.origin.last().head(status, {{"Content-Length", "0"}});
                    p.io.origin.last().complete();
                    p.io.run();
                }
                CHECK(v.status_line().find(std::to_string(status)) != std::string::npos);
            }
            return p.io.origin.fetches.size() - before;
        };
        CHECK(fetches_for(410) == 2); // caching_min_ttl = 0s: never kept
        CHECK(fetches_for(405) == 1); // error_ttl (10 s) applies
    }
}

TEST_CASE("proxy session: Cache-Status (RFC 9211) says how each answer was obtained", "[proxy]") {
    Proxy p;
    auto cache_status = [](const FakeViewer& v) {
        size_t at = v.out.find("Cache-Status: ");
        return at == std::string::npos ? std::string() : v.out.substr(at + 14, v.out.find("\r\n", at) - at - 14);
    };
    FakeViewer lead, join;
    Request r1(get("/cs.js")), r2(get("/cs.js"));
    p.handler->handle(lead, r1.get());
    p.handler->handle(join, r2.get());
    answer_whole(p.io.origin.last());
    p.io.run();
    // The session reads the wall clock: a millisecond between storing and answering leaves 59.999 s, ttl=59, and a
    // loaded machine under ASan has taken over a second (ttl=58). Any ttl within 3 s below `full` reads as `full`.
    auto ttl_as = [](std::string v, int full) {
        size_t at = v.rfind("; ttl=");
        if (at == std::string::npos) return v;
        int got = std::atoi(v.c_str() + at + 6);
        if (got <= full && got >= full - 3) v.replace(at + 6, std::string::npos, std::to_string(full));
        return v;
    };
    CHECK(ttl_as(cache_status(lead), 60) == "unit; fwd=uri-miss; fwd-status=200; stored; ttl=60");
    CHECK(ttl_as(cache_status(join), 60) == "unit; fwd=uri-miss; fwd-status=200; stored; collapsed; ttl=60");
    FakeViewer hit;
    Request r3(get("/cs.js"));
    p.handler->handle(hit, r3.get());
    CHECK(cache_status(hit).rfind("unit; hit; ttl=", 0) == 0);
    FakeViewer pass;
    Request r4(get("/pass/cs"));
    p.handler->handle(pass, r4.get());
    p.io.origin.last().head(200, {{"Content-Length", "0"}});
    p.io.origin.last().complete();
    p.io.run();
    CHECK(cache_status(pass) == "unit; fwd=bypass; fwd-status=200");
    FakeViewer post;
    Request r5("POST /cs.js HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n");
    p.handler->handle(post, r5.get());
    p.io.origin.last().head(201, {{"Content-Length", "0"}});
    p.io.origin.last().complete();
    p.io.run();
    CHECK(cache_status(post) == "unit; fwd=method; fwd-status=201");
    // Stale and revalidated with a 304.
    FakeViewer a;
    Request r6(get("/cs2.js"));
    p.handler->handle(a, r6.get());
    answer_stale(p.io.origin.last(), "old", "max-age=60", true);
    p.io.run();
    FakeViewer b;
    Request r7(get("/cs2.js"));
    p.handler->handle(b, r7.get());
    p.io.origin.last().head(304, {{"Cache-Control", "max-age=30"}});
    p.io.origin.last().complete();
    p.io.run();
    CHECK(ttl_as(cache_status(b), 30) == "unit; fwd=stale; fwd-status=304; stored; ttl=30");
    require_all_ended(p, b);
}

TEST_CASE("proxy session: interim responses reach the viewer the fetch answers, never collapsed ones or the cache "
          "(RFC 9110 §15.2)",
          "[proxy]") {
    Proxy p;
    const std::string hint = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n";
    FakeViewer lead, join;
    Request r1(get("/hinted.js")), r2(get("/hinted.js"));
    p.handler->handle(lead, r1.get());
    p.handler->handle(join, r2.get());
    REQUIRE(p.io.origin.fetches.size() == 1);
    FakeFetch& f = p.io.origin.last();
    f.interim(100, "Continue", {});
    f.interim(103, "Early Hints", {{"Link", "</s.css>; rel=preload"}, {"Connection", "close"}});
    p.io.run();
    CHECK(lead.out == hint); // 100 dropped, hop-by-hop fields dropped
    CHECK(join.out.empty());
    answer_whole(f);
    p.io.run();
    CHECK(lead.out.rfind(hint + "HTTP/1.1 200 OK\r\n", 0) == 0);
    auto final_body = [](const FakeViewer& v) { return v.out.substr(v.out.rfind("\r\n\r\n") + 4); };
    CHECK(final_body(lead) == kBody);
    CHECK(join.status_line() == "HTTP/1.1 200 OK");
    CHECK(join.body() == kBody);
    require_all_ended(p, lead);
    require_all_ended(p, join);
    // Not stored with the object.
    FakeViewer hit;
    Request r3(get("/hinted.js"));
    p.handler->handle(hit, r3.get());
    CHECK(hit.status_line() == "HTTP/1.1 200 OK");
    CHECK(hit.out.find("103") == std::string::npos);

    // Pass-through gets them too; an HTTP/1.0 viewer never.
    for (bool http10 : {false, true}) {
        FakeViewer v;
        Request r(http10 ? "GET /pass/x HTTP/1.0\r\nHost: example.test\r\n\r\n" : get("/pass/x"));
        p.handler->handle(v, r.get());
        FakeFetch& pf = p.io.origin.last();
        pf.interim(102, "", {});
        p.io.run();
        CHECK(v.out == (http10 ? "" : "HTTP/1.1 102 Processing\r\n\r\n"));
        pf.head(200, {{"Content-Length", "2"}});
        pf.body("ok");
        pf.complete();
        p.io.run();
        CHECK(final_body(v) == "ok");
        require_all_ended(p, v);
    }
}

TEST_CASE("proxy session: fields named by a qualified no-cache / private reach the filling viewer only "
          "(RFC 9111 §5.2.2.4, §5.2.2.7)",
          "[proxy]") {
    Proxy p;
    FakeViewer lead, join;
    Request r1(get("/named.js")), r2(get("/named.js"));
    p.handler->handle(lead, r1.get());
    p.handler->handle(join, r2.get());
    FakeFetch& f = p.io.origin.last();
    f.head(200, {{"Content-Length", std::to_string(kBody.size())},
                 {"Cache-Control", "max-age=60, private=\"Set-Cookie\", no-cache=\"X-Foo\""},
                 {"Set-Cookie", "sid=1"},
                 {"X-Foo", "secret"},
                 {"X-Bar", "kept"}});
    f.body(kBody);
    f.complete();
    p.io.run();
    CHECK(lead.body() == kBody);
    CHECK(lead.out.find("Set-Cookie: sid=1\r\n") != std::string::npos);
    CHECK(lead.out.find("X-Foo: secret\r\n") != std::string::npos);
    CHECK(join.body() == kBody);
    CHECK(join.out.find("Set-Cookie:") == std::string::npos);
    CHECK(join.out.find("X-Foo:") == std::string::npos);
    CHECK(join.out.find("X-Bar: kept\r\n") != std::string::npos);
    require_all_ended(p, lead);
    require_all_ended(p, join);
    FakeViewer hit;
    Request r3(get("/named.js"));
    p.handler->handle(hit, r3.get());
    CHECK(hit.out.find("X-Cache: Hit") != std::string::npos);
    CHECK(hit.out.find("Set-Cookie:") == std::string::npos);
    CHECK(hit.out.find("X-Foo:") == std::string::npos);
    CHECK(p.io.origin.fetches.size() == 1);
}
