#include <catch2/catch.hpp>

#include <atomic>

#include "shared/loop/worker.h"
#include "shared/net/listen_socket.h"

namespace {
struct Listener {
    uv_tcp_t tcp{};
};
} // namespace

TEST_CASE("a worker runs posted work and stops with every handle closed", "[shared][loop]") {
    shared::Worker w(0);
    Listener l;
    std::atomic<int> posted{0};
    int listen_rc = -1;
    bool stopped_on_worker_thread = false;
    std::thread::id worker_tid;
    bool ok = w.start(
        [&](shared::Worker& self) {
            worker_tid = std::this_thread::get_id();
            auto addr = shared::parse_socket_address("127.0.0.1:0", nullptr);
            listen_rc = shared::tcp_listen_reuseport(self.loop(), &l.tcp, *addr, 16, [](uv_stream_t*, int) {});
        },
        [&](shared::Worker&) {
            stopped_on_worker_thread = std::this_thread::get_id() == worker_tid;
            uv_close(reinterpret_cast<uv_handle_t*>(&l.tcp), nullptr);
        });
    REQUIRE(ok);
    for (int i = 0; i < 100; ++i) w.post([&] { posted.fetch_add(1); });
    w.request_stop();
    w.join();
    CHECK(listen_rc == 0);
    CHECK(posted.load() == 100);
    CHECK(stopped_on_worker_thread);
    CHECK_FALSE(w.leaked_handles());
}

TEST_CASE("a worker that leaves a handle open reports it", "[shared][loop]") {
    shared::Worker w(1);
    uv_timer_t timer;
    REQUIRE(w.start([&](shared::Worker& self) { uv_timer_init(self.loop(), &timer); }, [](shared::Worker&) {}));
    w.request_stop();
    w.join();
    CHECK(w.leaked_handles());
}

TEST_CASE("two SO_REUSEPORT listeners share one port; a plain second bind is refused", "[shared][net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t a, b;
    auto any = shared::parse_socket_address("127.0.0.1:0", nullptr);
    REQUIRE(shared::tcp_listen_reuseport(&loop, &a, *any, 16, [](uv_stream_t*, int) {}) == 0);
    auto bound = shared::bound_address(reinterpret_cast<uv_handle_t*>(&a));
    CHECK(bound.port() != 0);
    CHECK(shared::tcp_listen_reuseport(&loop, &b, bound, 16, [](uv_stream_t*, int) {}) == 0);
    uv_tcp_t c;
    uv_tcp_init(&loop, &c);
    uv_tcp_bind(&c, bound.sa(), 0);
    CHECK(uv_listen(reinterpret_cast<uv_stream_t*>(&c), 16, [](uv_stream_t*, int) {}) == UV_EADDRINUSE);
    CHECK(shared::close_loop(&loop) == 0);
}

// Posting from another thread while the worker stops: every send must happen before the worker closes its wake
// handle (the ThreadSanitizer build reports a send that races the close of the loop's eventfd).
TEST_CASE("a worker stopped while another thread posts never wakes a closed loop", "[shared][loop]") {
    for (int round = 0; round < 50; ++round) {
        shared::Worker w(0);
        std::atomic<int> ran{0};
        REQUIRE(w.start([](shared::Worker&) {}, [](shared::Worker&) {}));
        std::atomic<bool> go{false};
        std::thread poster([&] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < 200; ++i) w.post([&] { ran.fetch_add(1); });
        });
        go.store(true);
        for (int i = 0; i < 20; ++i) w.post([&] { ran.fetch_add(1); });
        w.request_stop();
        poster.join();
        w.join();
        CHECK_FALSE(w.leaked_handles());
        CHECK(ran.load() <= 220);
    }
}
