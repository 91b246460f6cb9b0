#include <catch2/catch.hpp>

#include "shared/http/http_connection.h"
#include "shared/http/upstream_test_support.h"

#include <algorithm>
#include <chrono>
#include <thread>

using namespace upstream_test;

TEST_CASE("http connection: a large body already waiting is read over several loop turns, not in one",
          "[shared][http][connection]") {
    // The server writes the whole response at once and the client reads it only after it is all in the socket
    // buffers: libuv alone would read it all (up to 2 MiB) in one loop turn, and nothing else on the loop (the
    // viewer's write of the first bytes) would run until the last byte was read.
    constexpr size_t kBody = 1 << 20;
    ScriptServer srv([](int fd, int) {
        if (read_request(fd).empty()) return;
        int buf = 4 << 20;
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        send_all(fd,
                 "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n" + std::string(kBody, 'x'));
        wait_readable(fd, 5000);
    });
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct H : shared::HttpResponseHandler {
        size_t got = 0, this_turn = 0, most_in_a_turn = 0;
        bool done = false, failed = false;
        void on_response_head(const shared::HttpResponseHead&) override {}
        bool on_response_body(std::string_view d) override {
            got += d.size();
            this_turn += d.size();
            most_in_a_turn = std::max(most_in_a_turn, this_turn);
            return true;
        }
        void on_response_complete() override { done = true; }
        void on_response_error(shared::HttpError) override { failed = done = true; }
    } h;
    uv_check_t turn;
    uv_check_init(&loop, &turn);
    turn.data = &h;
    uv_check_start(&turn, [](uv_check_t* c) { static_cast<H*>(c->data)->this_turn = 0; });
    shared::HttpConnectionOptions co;
    auto* conn = shared::HttpConnection::create(&loop, srv.address(), co);
    conn->pause(); // read nothing until the whole response waits in the socket
    shared::HttpHeaders headers{{"Host", "big.test"}};
    shared::HttpRequest req;
    req.headers = &headers;
    conn->send(req, &h);
    run_for(&loop, 300);
    conn->resume();
    run_until(
        &loop, [&] { return h.done; }, 5000);
    CHECK_FALSE(h.failed);
    CHECK(h.got == kBody);
    CHECK(h.most_in_a_turn <= 128 * 1024);
    conn->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&turn), nullptr);
    REQUIRE(finish_loop(&loop) == 0);
}
