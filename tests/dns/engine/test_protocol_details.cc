// Issue 12 item 5, the engine's part: CD cleared in authoritative answers (RFC 4035 §3.1.6), OPT in FORMERR and
// NOTIMP answers to EDNS queries and in rate limiting's TC answers (RFC 6891 §6.1.1), and the names rate limiting
// keys on (the zone for NXDOMAIN, the delegation for referrals).
#include <catch2/catch.hpp>

#include "dns/dns_test_util.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"

using namespace dns;
using namespace dns::test;

namespace {
QueryOpts edns(int size = 1232, bool do_bit = false) {
    QueryOpts o;
    o.edns = size;
    o.do_bit = do_bit;
    return o;
}
uint16_t flags_of(const Response& r) {
    return static_cast<uint16_t>((r.wire[2] << 8) | r.wire[3]);
}
} // namespace

TEST_CASE("CD is cleared in authoritative answers, AXFR headers included", "[dns][engine][protocol]") {
    QueryOpts o = edns();
    o.flags = flag::RD | flag::CD;
    for (auto* name : {"web.example.test", "nope.example.test", "sub.example.test", "example.org"}) {
        INFO(name);
        auto r = ask(test_db(), make_query(name, rrtype::A, o));
        REQUIRE(r.wire.size() >= 12);
        CHECK((flags_of(r) & flag::CD) == 0);
        CHECK((flags_of(r) & flag::RD) != 0); // RD is still echoed
    }
    auto q = make_query("example.test", rrtype::AXFR, o);
    uint8_t hdr[512];
    size_t qend = q.size() - 11; // the question ends where the OPT starts
    REQUIRE(write_response_header(q.data(), qend, hdr, sizeof hdr) == qend);
    CHECK((hdr[3] & flag::CD) == 0);
}

TEST_CASE("FORMERR and NOTIMP answers to EDNS queries carry OPT", "[dns][engine][protocol]") {
    SECTION("NOTIMP (opcode STATUS) with OPT, DO echoed") {
        QueryOpts o = edns(1232, true);
        o.flags = static_cast<uint16_t>((2 << 11) | flag::RD);
        auto r = ask(test_db(), make_query("example.test", rrtype::A, o));
        REQUIRE(r.status == LDNS_STATUS_OK);
        CHECK(r.rcode() == rcode::NOTIMP);
        CHECK(r.has_opt());
        CHECK(ldns_pkt_edns_do(r.pkt));
        CHECK(ldns_pkt_edns_udp_size(r.pkt) == 1232);
    }
    SECTION("NOTIMP without OPT stays bare") {
        QueryOpts o;
        o.flags = static_cast<uint16_t>(5 << 11); // UPDATE
        auto r = ask(test_db(), make_query("example.test", rrtype::SOA, o));
        CHECK(r.rcode() == rcode::NOTIMP);
        CHECK_FALSE(r.has_opt());
        CHECK(r.wire.size() == 12);
    }
    SECTION("FORMERR for an answer record in the query, OPT after it") {
        auto q = make_query("web.example.test", rrtype::A, edns());
        // An A record in the answer section, before the OPT.
        std::vector<uint8_t> rr = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
        q.insert(q.end() - 11, rr.begin(), rr.end());
        q[7] = 1;
        auto r = ask(test_db(), q);
        REQUIRE(r.status == LDNS_STATUS_OK);
        CHECK(r.rcode() == rcode::FORMERR);
        CHECK(r.has_opt());
    }
    SECTION("FORMERR for QDCOUNT 2 with OPT") {
        auto q = make_query("web.example.test", rrtype::A, edns());
        std::vector<uint8_t> question(q.begin() + 12, q.end() - 11);
        q.insert(q.end() - 11, question.begin(), question.end());
        q[5] = 2;
        auto r = ask(test_db(), q);
        REQUIRE(r.status == LDNS_STATUS_OK);
        CHECK(r.rcode() == rcode::FORMERR);
        CHECK(r.has_opt());
    }
}

TEST_CASE("force_tc (rate limiting's slip) answers TC with no records but OPT", "[dns][engine][protocol]") {
    QueryContext ctx;
    ctx.force_tc = true;
    auto r = ask_with(test_db(), make_query("web.example.test", rrtype::A, edns()), {}, ctx);
    REQUIRE(r.status == LDNS_STATUS_OK);
    CHECK(r.flag_tc());
    CHECK(r.answer().empty());
    CHECK(r.authority().empty());
    CHECK(r.has_opt());
    CHECK(r.info.truncated);
    // Without OPT in the query: header and question only.
    auto plain = ask_with(test_db(), make_query("web.example.test", rrtype::A), {}, ctx);
    CHECK(plain.flag_tc());
    CHECK_FALSE(plain.has_opt());
    CHECK(plain.wire.size() == 12 + 18 + 4);
}

TEST_CASE("rate limiting's imputed names: the zone for NXDOMAIN, the delegation for referrals", "[dns][engine][rrl]") {
    auto nx = ask(test_db(), make_query("no-such-name.example.test", rrtype::A));
    CHECK(nx.rcode() == rcode::NXDOMAIN);
    CHECK(nx.info.imputed_name == *name_from_text("example.test."));
    auto nx2 = ask(test_db(), make_query("other.missing.example.test", rrtype::A));
    CHECK(nx2.info.imputed_name == nx.info.imputed_name);
    auto ref = ask(test_db(), make_query("deep.host.sub.example.test", rrtype::A));
    CHECK(ref.authority().size() == 2);
    CHECK(ref.info.imputed_name == *name_from_text("sub.example.test."));
    auto pos = ask(test_db(), make_query("web.example.test", rrtype::A));
    CHECK(pos.info.imputed_name.empty()); // the query name itself
}
