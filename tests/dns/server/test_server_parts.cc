// Socket-free parts of dns/server and dns/engine/zone_transfer: rate limiting and NOTIFY messages.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctime>

#include "dns/dns_test_util.h"
#include "dns/server/notify_sender.h"
#include "dns/server/rate_limiter.h"
#include "dns/wire/dns_constants.h"

using namespace dns;

namespace {
sockaddr_in v4(const char* ip) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}
} // namespace

TEST_CASE("RRL: per-prefix budget per second, slip, off by default", "[dns][server][rrl]") {
    RateLimiter rl(4096);
    RrlConfig cfg;
    auto a = v4("192.0.2.10");
    auto same24 = v4("192.0.2.99");
    auto other = v4("198.51.100.1");
    const auto* sa = reinterpret_cast<const sockaddr*>(&a);
    CHECK(rl.check(cfg, sa, 0, 0, 1) == RrlDecision::send); // disabled
    cfg.enabled = true;
    cfg.responses_per_second = 3;
    cfg.slip = 2;
    for (int i = 0; i < 3; i++) CHECK(rl.check(cfg, sa, 0, 0, 100) == RrlDecision::send);
    // The same /24 shares the budget; every 2nd suppressed answer slips.
    CHECK(rl.check(cfg, reinterpret_cast<const sockaddr*>(&same24), 0, 0, 100) == RrlDecision::drop);
    CHECK(rl.check(cfg, sa, 0, 0, 100) == RrlDecision::slip);
    CHECK(rl.check(cfg, sa, 0, 0, 100) == RrlDecision::drop);
    // Another prefix and another response kind have their own budgets; a new second starts over.
    CHECK(rl.check(cfg, reinterpret_cast<const sockaddr*>(&other), 0, 0, 100) == RrlDecision::send);
    CHECK(rl.check(cfg, sa, rcode::NXDOMAIN, 0, 100) == RrlDecision::send);
    CHECK(rl.check(cfg, sa, 0, 0, 101) == RrlDecision::send);
    cfg.slip = 0;
    for (int i = 0; i < 10; i++) rl.check(cfg, sa, 0, 0, 102);
    CHECK(rl.check(cfg, sa, 0, 0, 102) == RrlDecision::drop);
}

TEST_CASE("NOTIFY message: opcode 4, AA, SOA question and answer", "[dns][server]") {
    auto z = test::load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    auto msg = build_notify(*z, 0x4242);
    ldns_pkt* pkt = nullptr;
    REQUIRE(ldns_wire2pkt(&pkt, msg.data(), msg.size()) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_get_opcode(pkt) == LDNS_PACKET_NOTIFY);
    CHECK(ldns_pkt_aa(pkt));
    CHECK_FALSE(ldns_pkt_qr(pkt));
    CHECK(ldns_pkt_id(pkt) == 0x4242);
    REQUIRE(ldns_pkt_qdcount(pkt) == 1);
    CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)) == LDNS_RR_TYPE_SOA);
    REQUIRE(ldns_pkt_ancount(pkt) == 1);
    ldns_pkt_free(pkt);
}

TEST_CASE("NOTIFY signed with a TSIG key verifies with ldns", "[dns][server][tsig]") {
    auto z = test::load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    const char* secret = "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE=";
    std::string err;
    auto key = make_tsig_key("xfr-key.", "hmac-sha256", secret, 0, &err);
    REQUIRE(key);
    auto msg = build_notify(*z, 0x4243, &*key, static_cast<uint64_t>(time(nullptr)));
    ldns_pkt* pkt = nullptr;
    REQUIRE(ldns_wire2pkt(&pkt, msg.data(), msg.size()) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_get_opcode(pkt) == LDNS_PACKET_NOTIFY);
    REQUIRE(ldns_pkt_tsig(pkt) != nullptr);
    CHECK(ldns_pkt_tsig_verify(pkt, msg.data(), msg.size(), "xfr-key.", secret, nullptr));
    CHECK_FALSE(ldns_pkt_tsig_verify(pkt, msg.data(), msg.size(), "xfr-key.",
                                     "d3Jvbmctc2VjcmV0LWZvci10aGUtc2FtZS1rZXktbmFtZQ==", nullptr));
    ldns_pkt_free(pkt);
    // Unsigned without a key, as before.
    auto plain = build_notify(*z, 0x4244);
    CHECK(plain.size() < msg.size());
}

