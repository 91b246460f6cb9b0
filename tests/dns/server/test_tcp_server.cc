// TcpServer's read at the accept: with TCP_DEFER_ACCEPT every connection arrives with its query, and libuv accepts
// the whole queue in one go. Only kEagerReadsPerTurn of a burst are answered inside that accept loop; the others are
// answered through the normal read path in the turns after it, none lost. Driven on a real loop over loopback, one
// turn at a time (UV_RUN_NOWAIT), so what a turn did is seen exactly.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <uv.h>

#include <vector>

#include "dns/dns_test_util.h"
#include "dns/server/query_service.h"
#include "dns/server/tcp_server.h"
#include "dns/wire/dns_constants.h"
#include "shared/metrics/metrics.h"
#include "shared/net/deferred_accept.h"
#include "support/accept_burst.h"

using namespace dns;
using namespace dns::test;

TEST_CASE("dns tcp server: a burst of new connections is answered at the accept only up to the turn's budget",
          "[dns][server][tcp]") {
    shared::MetricsRegistry metrics(1);
    ServerMetricIds ids;
    QueryService svc(0, 0, &metrics, &ids);
    auto settings = std::make_shared<ServiceSettings>();
    svc.update(std::shared_ptr<const ZoneDb>(&test_db(), [](const ZoneDb*) {}), settings);

    uv_loop_t loop;
    uv_loop_init(&loop);
    TcpServer srv(svc, nullptr);
    auto addr = shared::parse_socket_address("127.0.0.1:0", nullptr);
    REQUIRE(addr);
    REQUIRE(srv.start(&loop, *addr) == 0);
    int port = srv.address().port();

    const unsigned bound = shared::kEagerReadsPerTurn;
    const unsigned burst = bound + bound / 2;
    auto q = make_query("web.example.test", rrtype::A);
    std::vector<uint8_t> framed{static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    test_support::AcceptBurst b;
    REQUIRE(b.open(port, burst, framed.data(), framed.size()));

    // The turn that accepts the burst: libuv's accept loop takes every connection, and answers only the budget's.
    CHECK(b.run_turn(&loop) == bound);
    CHECK(b.queued() == 0);
    CHECK(srv.connections() == burst);
    // The rest through the normal read path (their sockets are polled from the next turn on), none lost.
    CHECK(b.run_until_answered(&loop) == burst);
    for (int fd : b.clients) {
        uint8_t buf[512];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        REQUIRE(n > 2 + 12);
        CHECK(size_t((buf[0] << 8) | buf[1]) == size_t(n - 2)); // one whole framed answer
        CHECK(buf[2] == framed[2]);                             // to this query (its id)
        CHECK(buf[3] == framed[3]);
    }

    srv.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}
