// dns/server/notify_sender.h: NOTIFY retried until the secondary answers (RFC 1996 §3.6), given up after the last
// attempt, and replaced by a newer serial. A real libuv loop and a fake secondary on 127.0.0.1.
#include <catch2/catch.hpp>

#include <uv.h>

#include <cstring>

#include "dns/dns_test_util.h"
#include "dns/server/notify_sender.h"
#include "dns/wire/dns_constants.h"

using namespace dns;

namespace {

// A secondary that ignores the first `ignore` NOTIFYs and answers the rest (NOERROR, echoing the id).
struct FakeSecondary {
    uv_udp_t udp{};
    int ignore = 0;
    int received = 0;
    int answered = 0;
    char buf[2048];
    shared::SocketAddress addr;

    void start(uv_loop_t* loop) {
        uv_udp_init(loop, &udp);
        udp.data = this;
        sockaddr_in a{};
        uv_ip4_addr("127.0.0.1", 0, &a);
        REQUIRE(uv_udp_bind(&udp, reinterpret_cast<const sockaddr*>(&a), 0) == 0);
        sockaddr_storage ss{};
        int len = sizeof ss;
        uv_udp_getsockname(&udp, reinterpret_cast<sockaddr*>(&ss), &len);
        addr = *shared::SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
        uv_udp_recv_start(
            &udp,
            [](uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
                auto* f = static_cast<FakeSecondary*>(h->data);
                *b = uv_buf_init(f->buf, sizeof f->buf);
            },
            [](uv_udp_t* u, ssize_t n, const uv_buf_t*, const sockaddr* from, unsigned) noexcept {
                auto* f = static_cast<FakeSecondary*>(u->data);
                if (n < 12 || !from) return;
                f->received++;
                if (f->received <= f->ignore) return;
                uint8_t reply[12];
                std::memcpy(reply, f->buf, 12);
                reply[2] = static_cast<uint8_t>(reply[2] | 0x80); // QR, opcode NOTIFY kept
                reply[3] = 0;
                std::memset(reply + 4, 0, 8);
                uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(reply), sizeof reply);
                if (uv_udp_try_send(u, &b, 1, from) > 0) f->answered++;
            });
    }
};

void run_until(uv_loop_t* loop, const std::function<bool()>& done, uint64_t max_ms) {
    uint64_t start = uv_now(loop);
    while (!done() && uv_now(loop) - start < max_ms) {
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
    }
}

const Zone& example_zone() {
    auto z = test::test_db().get(std::string("\7example\4test\0", 14));
    REQUIRE(z);
    return *z;
}

} // namespace

TEST_CASE("NOTIFY is resent until the secondary answers, then given up after the last attempt",
          "[dns][server][notify]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    // A keep-alive timer so UV_RUN_ONCE never returns at once with nothing to wait for.
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(
        &tick, [](uv_timer_t*) noexcept {}, 10, 10);
    {
        FakeSecondary lossy;
        lossy.ignore = 2;
        lossy.start(&loop);
        FakeSecondary silent;
        silent.ignore = 1000;
        silent.start(&loop);
        NotifySender n(&loop, 4, 20);
        n.notify(example_zone(), {lossy.addr});
        n.notify(example_zone(), {silent.addr});
        CHECK(n.pending() == 2);
        run_until(
            &loop, [&] { return n.pending() == 0; }, 5000);
        CHECK(n.pending() == 0);
        CHECK(lossy.received == 3); // two lost, the third answered: no further sends
        CHECK(lossy.answered == 1);
        CHECK(n.acknowledged() == 1);
        CHECK(silent.received == 4); // every attempt, then given up
        CHECK(n.given_up() == 1);

        // A newer NOTIFY for the same zone and secondary replaces the pending one.
        silent.received = 0;
        n.notify(example_zone(), {silent.addr});
        n.notify(example_zone(), {silent.addr});
        CHECK(n.pending() == 1);
        n.close();
        CHECK(n.pending() == 0);
        uv_close(reinterpret_cast<uv_handle_t*>(&lossy.udp), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&silent.udp), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    REQUIRE(uv_loop_close(&loop) == 0);
}
