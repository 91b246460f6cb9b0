// Response rate limiting through the query path (QueryService): the budget is per client prefix *and* name, so one
// flooded name does not starve a resolver's other names (as BIND/NSD/Knot RRL), NXDOMAIN for random names shares
// the zone's budget, and a slipped answer is TC with OPT.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/dns_test_util.h"
#include "dns/server/query_service.h"
#include "dns/wire/dns_constants.h"

using namespace dns;
using namespace dns::test;

namespace {
struct Rig {
    QueryService svc{0, 0, nullptr, nullptr};
    sockaddr_in client{};
    std::vector<uint8_t> out = std::vector<uint8_t>(4096);
    explicit Rig(uint32_t rps, uint32_t slip) {
        auto s = std::make_shared<ServiceSettings>();
        s->rrl.enabled = true;
        s->rrl.responses_per_second = rps;
        s->rrl.slip = slip;
        svc.update(std::shared_ptr<const ZoneDb>(&test_db(), [](const ZoneDb*) {}), s);
        client.sin_family = AF_INET;
        inet_pton(AF_INET, "192.0.2.10", &client.sin_addr);
    }
    // The answer's length (0 = dropped) and its info.
    size_t ask(const std::vector<uint8_t>& q, AnswerInfo* info = nullptr) {
        AnswerInfo i;
        size_t n = svc.handle(q.data(), q.size(), out.data(), out.size(), false,
                              reinterpret_cast<const sockaddr*>(&client), &i);
        if (info) *info = i;
        return n;
    }
};
} // namespace

TEST_CASE("RRL keys on the name: a flooded name does not starve the client's other names", "[dns][server][rrl]") {
    Rig rig(5, 0);
    auto www = make_query("web.example.test", rrtype::A);
    int sent = 0;
    // One second's budget is 5; all within the same second unless the clock ticks over mid-loop (then at most 10).
    for (int i = 0; i < 50; i++)
        sent += rig.ask(www) ? 1 : 0;
    CHECK(sent <= 10);
    CHECK(sent >= 5);
    // Same client, other names: answered.
    CHECK(rig.ask(make_query("www.example.test", rrtype::A)) > 0);
    CHECK(rig.ask(make_query("example.test", rrtype::MX)) > 0);
    CHECK(rig.ask(make_query("web.example.test", rrtype::AAAA)) > 0);
}

TEST_CASE("RRL: NXDOMAIN for random names shares the zone's budget", "[dns][server][rrl]") {
    Rig rig(5, 0);
    int sent = 0;
    for (int i = 0; i < 50; i++)
        sent += rig.ask(make_query("random" + std::to_string(i) + ".example.test", rrtype::A)) ? 1 : 0;
    CHECK(sent <= 10);
    // A REFUSED flood of random names outside our zones is limited per client too.
    sent = 0;
    for (int i = 0; i < 50; i++)
        sent += rig.ask(make_query("r" + std::to_string(i) + ".example.org", rrtype::A)) ? 1 : 0;
    CHECK(sent <= 10);
}

TEST_CASE("RRL: the table is sized from the config, and absent while RRL is off", "[dns][server][rrl]") {
    RateLimiter rl;
    CHECK(rl.size() == 0);
    RrlConfig cfg;
    cfg.enabled = true;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    CHECK(rl.check(cfg, reinterpret_cast<const sockaddr*>(&a), 0, 1, 1) == RrlDecision::send); // no table: no limit
    rl.resize(cfg.table_size);
    CHECK(rl.size() == 65536);
    rl.resize(0);
    CHECK(rl.size() == 0);
}

TEST_CASE("RRL slip: TC set, no records, OPT kept for an EDNS query", "[dns][server][rrl]") {
    Rig rig(1, 1); // every suppressed answer slips
    QueryOpts o;
    o.edns = 1232;
    auto q = make_query("web.example.test", rrtype::A, o);
    size_t n = 0;
    AnswerInfo info;
    for (int i = 0; i < 3; i++)
        n = rig.ask(q, &info);
    REQUIRE(n > 0);
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, rig.out.data(), n) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_tc(p));
    CHECK(ldns_pkt_ancount(p) == 0);
    CHECK(ldns_pkt_edns(p));
    CHECK(ldns_pkt_edns_udp_size(p) == 1232);
    ldns_pkt_free(p);
    CHECK(info.truncated);
}
