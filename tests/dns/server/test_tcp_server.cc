// TcpServer's read at the accept: with TCP_DEFER_ACCEPT every connection arrives with its query, and libuv accepts
// the whole queue in one go. Only kEagerReadsPerTurn of a burst are answered inside that accept loop; the others are
// answered through the normal read path in the turns after it, none lost. Driven on a real loop over loopback, one
// turn at a time (UV_RUN_NOWAIT), so what a turn did is seen exactly.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "dns/dns_test_util.h"
#include "dns/engine/steering_hook.h"
#include "dns/server/query_service.h"
#include "dns/server/tcp_server.h"
#include "dns/wire/dns_constants.h"
#include "shared/metrics/metrics.h"
#include "shared/net/deferred_accept.h"
#include "shared/net/source_limit.h"
#include "support/accept_burst.h"
#include "support/loopback_client.h"

using namespace dns;
using namespace dns::test;

namespace {
// A TcpServer on 127.0.0.1:0 on a loop of its own, answering from `db` under `settings`. finish() closes it and
// checks that the loop then ends with nothing left open.
struct ServerOnLoop {
    shared::MetricsRegistry metrics{1};
    ServerMetricIds ids;
    QueryService svc{0, 0, &metrics, &ids};
    uv_loop_t loop;
    std::optional<TcpServer> srv;
    int port = 0;

    ServerOnLoop(const ZoneDb& db, std::shared_ptr<ServiceSettings> settings,
                 shared::SourceConnLimit* sources = nullptr) {
        svc.update(std::shared_ptr<const ZoneDb>(&db, [](const ZoneDb*) {}), std::move(settings));
        uv_loop_init(&loop);
        srv.emplace(svc, sources);
        auto addr = shared::parse_socket_address("127.0.0.1:0", nullptr);
        REQUIRE(addr);
        REQUIRE(srv->start(&loop, *addr) == 0);
        port = srv->address().port();
    }
    void finish() {
        srv->close();
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
};
} // namespace

TEST_CASE("dns tcp server: a burst of new connections is answered at the accept only up to the turn's budget",
          "[dns][server][tcp]") {
    auto settings = std::make_shared<ServiceSettings>();
    ServerOnLoop s(test_db(), settings);
    uv_loop_t& loop = s.loop;
    int port = s.port;

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
    CHECK(s.srv->connections() == burst);
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

    s.finish();
}

namespace {
// A connection to 127.0.0.1:`port` from `source` (another loopback address), or -1.
int connect_from(const char* source, int port) {
    return test_support::connect_loopback(port, source);
}

// Runs loop turns until `done` (at most about 2 s); returns it.
template <class F> bool turns_until(uv_loop_t* loop, F done) {
    for (int i = 0; i < 2000 && !done(); i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return done();
}

// What recv() without waiting says: >0 bytes, 0 closed, -1 nothing yet (EAGAIN), -2 reset.
int peek(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    if (n >= 0) return static_cast<int>(n);
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}
} // namespace

TEST_CASE("dns tcp server: a client over its per-address limit is refused before it could close another's idle "
          "connection",
          "[dns][server][tcp]") {
    auto settings = std::make_shared<ServiceSettings>();
    settings->max_tcp_connections = 2;
    settings->max_tcp_connections_per_address = 1;
    shared::SourceConnLimit sources(16);
    ServerOnLoop s(test_db(), settings, &sources);
    uv_loop_t& loop = s.loop;
    int port = s.port;
    auto q = make_query("web.example.test", rrtype::A);
    std::vector<uint8_t> framed{static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());

    // 127.0.0.2 asks and is answered: its connection is idle (reclaimable at max_tcp_connections).
    int idle = connect_from("127.0.0.2", port);
    REQUIRE(idle >= 0);
    REQUIRE(send(idle, framed.data(), framed.size(), 0) == static_cast<ssize_t>(framed.size()));
    REQUIRE(turns_until(&loop, [&] { return peek(idle) > 0; }));
    char buf[512];
    REQUIRE(recv(idle, buf, sizeof buf, 0) > 2);
    // 127.0.0.1 holds its one place with half a query (busy, not reclaimable).
    int busy = connect_from("127.0.0.1", port);
    REQUIRE(busy >= 0);
    REQUIRE(send(busy, framed.data(), 1, 0) == 1);
    REQUIRE(turns_until(&loop, [&] { return s.srv->connections() == 2; }));
    // Another from 127.0.0.1: over its address's limit, and the server is at max_tcp_connections.
    int over = connect_from("127.0.0.1", port);
    REQUIRE(over >= 0);
    REQUIRE(send(over, framed.data(), framed.size(), 0) == static_cast<ssize_t>(framed.size()));
    CHECK(turns_until(&loop, [&] { return peek(over) == 0 || peek(over) == -2; })); // closed without an answer
    CHECK(s.srv->connections() == 2);
    CHECK(peek(idle) == -1); // still open: not closed to make room for a client that was refused anyway
    sockaddr_in one{};
    one.sin_family = AF_INET;
    one.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    shared::PeerAddress p;
    REQUIRE(shared::PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&one), &p));
    CHECK(sources.count(p) == 1);

    close(over);
    close(busy);
    close(idle);
    s.finish();
    CHECK(sources.addresses() == 0);
}

namespace {
// Answers geo.example.test A with one record, and remembers the client address the engine gave it.
class RecordingSteering : public SteeringHook {
  public:
    bool answer(std::string_view name, uint16_t qtype, const ClientSubnet&, const sockaddr* client, unsigned,
                SteeredAnswer* out) const noexcept override {
        if (name != std::string_view("\3geo\7example\4test\0", 18) || qtype != rrtype::A) return false;
        seen_family = client ? client->sa_family : -1;
        if (client && client->sa_family == AF_INET)
            seen_v4 = reinterpret_cast<const sockaddr_in*>(client)->sin_addr.s_addr;
        out->records = rr_;
        out->len = sizeof rr_;
        out->rr_count = 1;
        return true;
    }
    mutable int seen_family = 0;
    mutable uint32_t seen_v4 = 0;

  private:
    uint8_t rr_[16] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7};
};
} // namespace

// The connection asks the kernel for its client's address only when something needs it; steering does (a query
// without ECS is located by its resolver's address), so a steered answer over TCP must still get it.
TEST_CASE("dns tcp server: a steered answer over TCP gets the client's address", "[dns][server][tcp]") {
    auto z = load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    z->ensure_node(std::string_view("\3geo\7example\4test\0", 18)).steer = 0;
    ZoneDb db;
    db.add(z);
    RecordingSteering hook;
    auto settings = std::make_shared<ServiceSettings>();
    settings->max_tcp_connections_per_address = 0; // nothing else asks for the address
    settings->engine.steering = &hook;
    ServerOnLoop s(db, settings);
    QueryService& svc = s.svc;
    REQUIRE(svc.tcp_answers_use_client());
    uv_loop_t& loop = s.loop;
    auto q = make_query("geo.example.test", rrtype::A);
    std::vector<uint8_t> framed{static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    int fd = connect_from("127.0.0.3", s.port);
    REQUIRE(fd >= 0);
    REQUIRE(send(fd, framed.data(), framed.size(), 0) == static_cast<ssize_t>(framed.size()));
    REQUIRE(turns_until(&loop, [&] { return peek(fd) > 0; }));
    CHECK(hook.seen_family == AF_INET);
    CHECK(hook.seen_v4 == inet_addr("127.0.0.3"));

    // Without steering (and without a query log) an answer cannot depend on the address: none is looked up.
    settings = std::make_shared<ServiceSettings>(*settings);
    settings->engine.steering = nullptr;
    svc.update(std::shared_ptr<const ZoneDb>(&db, [](const ZoneDb*) {}), settings);
    CHECK_FALSE(svc.tcp_answers_use_client());

    close(fd);
    s.finish();
}

namespace {
std::vector<uint8_t> framed_query(const char* name, uint16_t id) {
    QueryOpts o;
    o.id = id;
    auto q = make_query(name, rrtype::A, o);
    std::vector<uint8_t> framed{static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    return framed;
}

// The IDs of the first `n` framed answers on `fd`, the loop running while they come (at most about 2 s); fewer when
// the connection ends first.
std::vector<uint16_t> answer_ids(uv_loop_t* loop, int fd, size_t n) {
    std::vector<uint8_t> got;
    std::vector<uint16_t> ids;
    for (int i = 0; i < 2000 && ids.size() < n; i++) {
        uint8_t buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0) break;
        if (r > 0) got.insert(got.end(), buf, buf + r);
        while (got.size() >= 2 && got.size() >= 2 + size_t((got[0] << 8) | got[1])) {
            size_t len = size_t((got[0] << 8) | got[1]);
            if (len >= 12) ids.push_back(static_cast<uint16_t>((got[2] << 8) | got[3]));
            got.erase(got.begin(), got.begin() + 2 + static_cast<ptrdiff_t>(len));
        }
        if (r < 0) {
            uv_run(loop, UV_RUN_NOWAIT);
            usleep(200);
        }
    }
    return ids;
}
} // namespace

// A closed connection's object is kept for the next one, and its socket is closed before libuv's handle is (without
// EPOLL_CTL_DEL) when its client closed it or its timer did; the descriptor number comes back at once for the next
// connection. Nothing of a closed connection may reach the next ones: not its input (a half query), not its state,
// not a stale event of its descriptor. Under ASan a spare connection is poisoned, so a late use of one is reported.
TEST_CASE("dns tcp server: one-query connections leave nothing to the connections after them", "[dns][server][tcp]") {
    auto settings = std::make_shared<ServiceSettings>();
    settings->max_tcp_connections_per_address = 0;
    settings->tcp_idle_timeout_ms = 50; // the connections the server closes itself
    ServerOnLoop s(test_db(), settings);
    uv_loop_t& loop = s.loop;
    int port = s.port;

    // 200 connections one after another, so each reuses the one before: two the server closes at its idle timeout
    // (after about a second: an answer counts as pending until a sample saw it acknowledged), every seventh sends half
    // a query and closes (left in the input of the connection then reused), every third sends its query's first byte,
    // then the rest once the server read that byte (the rest is read by libuv, into the input after the first byte).
    int answered = 0, wrong = 0, halves = 0;
    const int n = 200;
    for (int i = 0; i < n; i++) {
        int fd = test_support::connect_loopback(port);
        REQUIRE(fd >= 0);
        auto q = framed_query("web.example.test", static_cast<uint16_t>(0x4000 + i));
        if (i % 7 == 3) {
            REQUIRE(send(fd, q.data(), 7, 0) == 7);
            halves++;
        } else {
            if (i % 3 == 0) {
                REQUIRE(send(fd, q.data(), 1, 0) == 1);
                REQUIRE(turns_until(&loop, [&] { return s.srv->connections() == 1; }));
                uv_run(&loop, UV_RUN_NOWAIT);
                REQUIRE(send(fd, q.data() + 1, q.size() - 1, 0) == static_cast<ssize_t>(q.size() - 1));
            } else {
                REQUIRE(send(fd, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size()));
            }
            auto got = answer_ids(&loop, fd, 1);
            if (got.size() == 1 && got[0] == 0x4000 + i)
                answered++;
            else
                wrong++;
            if (i % 100 == 5) CHECK(turns_until(&loop, [&] { return peek(fd) == 0; })); // closed by the server
        }
        close(fd);
        REQUIRE(turns_until(&loop, [&] { return s.srv->connections() == 0; }));
    }
    CHECK(wrong == 0);
    CHECK(answered == n - halves);

    // Then pipelined queries on one connection and one-query connections at the same time: each answer in its
    // connection's order with its own query's ID.
    int pipelined = test_support::connect_loopback(port);
    REQUIRE(pipelined >= 0);
    std::vector<uint8_t> batch;
    std::vector<uint16_t> want;
    for (uint16_t k = 0; k < 40; k++) {
        auto q = framed_query(k % 2 ? "web.example.test" : "missing.example.test", static_cast<uint16_t>(0x7000 + k));
        batch.insert(batch.end(), q.begin(), q.end());
        want.push_back(static_cast<uint16_t>(0x7000 + k));
    }
    REQUIRE(send(pipelined, batch.data(), batch.size(), 0) == static_cast<ssize_t>(batch.size()));
    std::vector<int> singles;
    for (int i = 0; i < 8; i++) {
        int fd = test_support::connect_loopback(port);
        REQUIRE(fd >= 0);
        auto q = framed_query("web.example.test", static_cast<uint16_t>(0x6000 + i));
        REQUIRE(send(fd, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size()));
        singles.push_back(fd);
    }
    CHECK(answer_ids(&loop, pipelined, want.size()) == want);
    for (int i = 0; i < 8; i++) {
        CHECK(answer_ids(&loop, singles[i], 1) == std::vector<uint16_t>{static_cast<uint16_t>(0x6000 + i)});
        close(singles[i]);
    }

    close(pipelined);
    s.finish();
}
