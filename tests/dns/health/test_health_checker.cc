// The health checker on a real libuv loop against a tiny HTTP server this test runs, feeding a real Steering.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "dns/geo/geo_fixture.h"
#include "dns/health/health_checker.h"
#include "shared/loop/worker.h"

namespace {

// Answers every request with `response` and closes. Runs on its own worker thread, like a real edge would run in
// its own process (the checker's first round blocks the test's loop).
struct TinyHttp {
    uv_tcp_t server{};
    std::mutex mu;
    std::string response;
    std::atomic<int> port{0};
    std::atomic<int> requests{0};
    shared::Worker worker{99};

    void start() {
        worker.start([this](shared::Worker& w) { start(w.loop()); },
                     [this](shared::Worker&) { uv_close(reinterpret_cast<uv_handle_t*>(&server), nullptr); });
    }
    void stop() {
        worker.request_stop();
        worker.join();
    }

    void start(uv_loop_t* loop) {
        uv_tcp_init(loop, &server);
        server.data = this;
        sockaddr_in a{};
        uv_ip4_addr("127.0.0.1", 0, &a);
        uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&a), 0);
        uv_listen(reinterpret_cast<uv_stream_t*>(&server), 16, on_conn);
        sockaddr_storage ss{};
        int len = sizeof ss;
        uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&ss), &len);
        port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    void set(int status, const std::string& body) {
        std::lock_guard<std::mutex> g(mu);
        response = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\nConnection: close\r\n\r\n" + body;
    }

    struct Conn {
        uv_tcp_t tcp{};
        TinyHttp* srv = nullptr;
        std::string in;
        std::string out;
        uv_write_t w{};
        bool answered = false;
    };
    static void on_conn(uv_stream_t* s, int status) noexcept {
        if (status < 0) return;
        auto* self = static_cast<TinyHttp*>(s->data);
        auto* c = new Conn;
        c->srv = self;
        uv_tcp_init(s->loop, &c->tcp);
        c->tcp.data = c;
        if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
            close_conn(c);
            return;
        }
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp),
            [](uv_handle_t*, size_t, uv_buf_t* b) noexcept {
                static char buf[4096];
                *b = uv_buf_init(buf, sizeof buf);
            },
            [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) noexcept {
                auto* c = static_cast<Conn*>(st->data);
                if (n < 0) {
                    close_conn(c);
                    return;
                }
                c->in.append(b->base, static_cast<size_t>(n));
                if (c->answered || c->in.find("\r\n\r\n") == std::string::npos) return;
                c->answered = true;
                ++c->srv->requests;
                {
                    std::lock_guard<std::mutex> g(c->srv->mu);
                    c->out = c->srv->response;
                }
                uv_buf_t ob = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
                c->w.data = c;
                uv_write(&c->w, st, &ob, 1, [](uv_write_t* w, int) noexcept { close_conn(static_cast<Conn*>(w->data)); });
            });
    }
    static void close_conn(Conn* c) {
        if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) noexcept { delete static_cast<Conn*>(h->data); });
    }
};

void run_for(uv_loop_t* loop, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, [](uv_timer_t* t) noexcept { uv_stop(t->loop); }, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
}

// Runs the loop until pred() holds or max_ms passed (loaded CI machines slip timers; the exact bound is checked by
// the integration test it_health.py).
template <class Pred>
bool run_until(uv_loop_t* loop, Pred pred, uint64_t max_ms) {
    uint64_t start = uv_hrtime();
    while (!pred()) {
        if ((uv_hrtime() - start) / 1000000 > max_ms) return false;
        run_for(loop, 20);
    }
    return true;
}

int closed_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::set<std::string> answered(const dns::geo::Steering& s, dns::geo::Answer* out = nullptr) {
    const auto* n = s.find(geo_test::wire("www.example.test."));
    auto a = s.answer(*n, 1, geo_test::client("10.1.0.1"), 0);
    if (out) *out = a;
    auto v = geo_test::addresses(a);
    return {v.begin(), v.end()};
}

} // namespace

TEST_CASE("health checker: first round before use, thresholds, draining, fail-open", "[dns][health][loop]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    TinyHttp http;
    http.set(200, "ok");
    http.start();
    geo_test::TempDir dir;
    std::string edge_a = R"(
[[edge]]
name = "a"
ipv4 = "192.0.2.1"
health = { type = "http", address = "127.0.0.1", port = )" +
                         std::to_string(http.port.load()) + R"(, path = "/health", host = "edge-a.test", interval = "150ms", timeout = "150ms", failure_threshold = 2, success_threshold = 2, body_contains = "ok" }
)";
    std::string edge_b = R"(
[[edge]]
name = "b"
ipv4 = "192.0.2.2"
health = { type = "tcp", address = "127.0.0.1", port = )" +
                         std::to_string(closed_port()) + R"(, interval = "150ms", timeout = "100ms" }
)";
    std::string steer = R"(
[[steer]]
name = "www.example.test."
policy = "multivalue"
members = ["a", "b"]
)";
    std::string toml = edge_a + edge_b + steer;
    auto b = geo_test::build(dir, toml);
    INFO(b->diags.to_string());
    REQUIRE(b->steering);
    const auto& steering = *b->steering;
    // Before any check, every edge is assumed healthy.
    CHECK(answered(steering) == std::set<std::string>{"192.0.2.1", "192.0.2.2"});

    {
        dns::health::HealthChecker checker(&loop, nullptr, 0);
        checker.watch(steering); // blocks for the first round
        CHECK(checker.state("a") == 1);
        CHECK(checker.state("b") == 0);
        CHECK(http.requests == 1);
        CHECK(answered(steering) == std::set<std::string>{"192.0.2.1"});

        // a starts failing: out within interval × threshold (+ slack), not before threshold checks.
        http.set(500, "broken");
        run_for(&loop, 100); // at most one check ran: one failure is not enough (threshold 2)...
        CHECK(checker.state("a") == 1);
        CHECK(run_until(&loop, [&] { return checker.state("a") == 0; }, 3000)); // ...two are
        dns::geo::Answer a;
        CHECK(answered(steering, &a) == std::set<std::string>{"192.0.2.1", "192.0.2.2"}); // all down: fail open
        CHECK(a.failed_open);

        // Recovers after success_threshold good checks.
        http.set(200, "ok");
        CHECK(run_until(&loop, [&] { return checker.state("a") == 1; }, 3000));
        CHECK(answered(steering) == std::set<std::string>{"192.0.2.1"});

        // Wrong body is a failure too; then draining takes it out after a single check.
        http.set(503, "draining");
        CHECK(run_until(&loop, [&] { return checker.state("a") == 0; }, 3000));
        CHECK(checker.checks_run() >= 8);

        // A reload with the same checks keeps their state and does not block for a new first round, even when
        // the edges moved to other indexes; the new steering gets the right health.
        http.set(200, "ok");
        CHECK(run_until(&loop, [&] { return checker.state("a") == 1; }, 3000));
        int before = http.requests.load();
        auto b2 = geo_test::build(dir, edge_b + edge_a + steer);
        REQUIRE(b2->steering);
        checker.watch(*b2->steering);
        CHECK(http.requests == before);
        CHECK(checker.state("a") == 1);
        CHECK(checker.state("b") == 0);
        CHECK(answered(*b2->steering) == std::set<std::string>{"192.0.2.1"});
        http.set(500, "down");
        CHECK(run_until(&loop, [&] { return checker.state("a") == 0; }, 3000));
        CHECK(answered(*b2->steering) == std::set<std::string>{"192.0.2.1", "192.0.2.2"});
        checker.close();
    }
    http.stop();
    REQUIRE(shared::close_loop(&loop) == 0);
}

TEST_CASE("health checker: a TCP check to a listening port passes - timeouts fail", "[dns][health][loop]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    TinyHttp http;
    http.set(200, "ok");
    http.start();
    geo_test::TempDir dir;
    // 192.0.2.0/24 (TEST-NET-1) is not routed: the connect hangs until the timeout.
    std::string toml = R"(
[[edge]]
name = "up"
ipv4 = "192.0.2.1"
health = { type = "tcp", address = "127.0.0.1", port = )" +
                       std::to_string(http.port.load()) + R"(, interval = "1s", timeout = "200ms" }
[[edge]]
name = "blackhole"
ipv4 = "192.0.2.2"
health = { type = "tcp", address = "192.0.2.254", port = 80, interval = "1s", timeout = "200ms" }
[[edge]]
name = "web"
ipv4 = "192.0.2.3"
health = { type = "http", address = "127.0.0.1", port = )" +
                       std::to_string(closed_port()) + R"(, interval = "1s", timeout = "200ms" }
[[steer]]
name = "www.example.test."
policy = "failover"
members = ["blackhole", "web", "up"]
)";
    auto b = geo_test::build(dir, toml);
    INFO(b->diags.to_string());
    REQUIRE(b->steering);
    dns::health::HealthChecker checker(&loop, nullptr, 0);
    uint64_t t0 = uv_hrtime();
    checker.watch(*b->steering);
    uint64_t took_ms = (uv_hrtime() - t0) / 1000000;
    CHECK(took_ms < 1000); // bounded by the timeout, run concurrently
    CHECK(checker.state("up") == 1);
    CHECK(checker.state("blackhole") == 0);
    CHECK(checker.state("web") == 0);
    CHECK(answered(*b->steering) == std::set<std::string>{"192.0.2.1"});
    // close() (a reload that drops every steered name) then watch() again (one that brings them back).
    checker.close();
    CHECK(checker.state("up") == -1);
    checker.watch(*b->steering);
    CHECK(checker.state("up") == 1);
    CHECK(checker.state("web") == 0);
    checker.close();
    http.stop();
    REQUIRE(shared::close_loop(&loop) == 0);
}
