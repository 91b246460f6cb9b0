// The lookup algorithm and protocol rules of dns/engine/query_engine.h, each case of issue 4 item 2-3, with
// responses parsed back by ldns (an independent oracle for our writer).
#include <catch2/catch.hpp>

#include <random>

#include "dns/dns_test_util.h"
#include "dns/engine/answer_compiler.h"
#include "dns/wire/dns_constants.h"

using namespace dns;
using namespace dns::test;

namespace {
QueryOpts edns(int size = 1232, bool do_bit = false) {
    QueryOpts o;
    o.edns = size;
    o.do_bit = do_bit;
    return o;
}
bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
        if (x == s) return true;
    return false;
}
} // namespace

TEST_CASE("exact match answers authoritatively, echoing the question's letter case", "[dns][engine]") {
    auto r = ask(test_db(), make_query("WeB.ExAmPlE.TeSt", rrtype::A));
    REQUIRE(r.status == LDNS_STATUS_OK);
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.flag_aa());
    CHECK_FALSE(r.flag_tc());
    // The owner is a pointer to the question, so it reads back in the client's case.
    CHECK(r.answer() ==
          std::vector<std::string>{"WeB.ExAmPlE.TeSt. 300 IN A 192.0.2.80", "WeB.ExAmPlE.TeSt. 300 IN A 192.0.2.81"});
    // 0x20: the question bytes are the client's; the answer owner is a pointer to them (compression).
    CHECK(std::string(r.wire.begin() + 13, r.wire.begin() + 16) == "WeB");
    size_t qend = 12 + 18 + 4;
    CHECK(r.wire[qend] == 0xC0);
    CHECK(r.wire[qend + 1] == 12);
    CHECK((r.wire[2] & 0x01) == 1); // RD copied
    CHECK(r.wire[0] == 0x12);
    CHECK(r.wire[1] == 0x34);
    CHECK_FALSE(r.has_opt()); // no OPT in the query, none in the answer
}

TEST_CASE("CNAME chains are chased inside the zone and stop at the zone's edge", "[dns][engine]") {
    auto r = ask(test_db(), make_query("alias.example.test", rrtype::AAAA));
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.flag_aa());
    CHECK(r.answer() == std::vector<std::string>{"alias.example.test. 3600 IN CNAME cdn.example.test.",
                                                 "cdn.example.test. 3600 IN CNAME web.example.test.",
                                                 "web.example.test. 300 IN AAAA 2001:db8::80"});
    // The chain ends at a name without the type: NODATA after the CNAMEs, SOA in authority.
    auto nodata = ask(test_db(), make_query("alias.example.test", rrtype::MX));
    CHECK(nodata.rcode() == rcode::NOERROR);
    CHECK(nodata.answer().size() == 2);
    CHECK(nodata.authority().size() == 1);
    auto ext = ask(test_db(), make_query("ext.example.test", rrtype::A));
    CHECK(ext.rcode() == rcode::NOERROR);
    CHECK(ext.answer() == std::vector<std::string>{"ext.example.test. 3600 IN CNAME www.example.org."});
    CHECK(ext.authority().empty());
    // Asking for the CNAME itself does not chase.
    auto c = ask(test_db(), make_query("cdn.example.test", rrtype::CNAME));
    CHECK(c.answer() == std::vector<std::string>{"cdn.example.test. 3600 IN CNAME web.example.test."});
}

TEST_CASE("a CNAME loop ends with each CNAME once", "[dns][engine]") {
    auto r = ask(test_db(), make_query("loop1.example", rrtype::A));
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.answer() == std::vector<std::string>{"loop1.example. 300 IN CNAME loop2.example.",
                                                 "loop2.example. 300 IN CNAME loop1.example."});
}

TEST_CASE("RFC 4592 section 2.2.1 example zone", "[dns][engine][wildcard]") {
    const auto& db = test_db();
    SECTION("host3.example. MX is synthesized from *.example.") {
        auto r = ask(db, make_query("host3.example", rrtype::MX));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.flag_aa());
        CHECK(r.answer() == std::vector<std::string>{"host3.example. 3600 IN MX 10 host1.example."});
        CHECK(r.additional() == std::vector<std::string>{"host1.example. 3600 IN A 192.0.2.1"});
    }
    SECTION("host3.example. A is NODATA from the wildcard") {
        auto r = ask(db, make_query("host3.example", rrtype::A));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.answer().empty());
        // RFC 2308 §3: SOA TTL = min(SOA TTL 3600, MINIMUM 600).
        CHECK(r.authority() == std::vector<std::string>{
                                   "example. 600 IN SOA ns.example.com. hostmaster.example. 1 3600 900 604800 600"});
    }
    SECTION("foo.bar.example. TXT matches the wildcard two labels down") {
        auto r = ask(db, make_query("foo.bar.example", rrtype::TXT));
        CHECK(r.answer() == std::vector<std::string>{"foo.bar.example. 3600 IN TXT \"this is a wildcard\""});
    }
    SECTION("host1.example. MX is NODATA: the name exists, no wildcard") {
        auto r = ask(db, make_query("host1.example", rrtype::MX));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.answer().empty());
        CHECK(r.authority().size() == 1);
    }
    SECTION("sub.*.example. MX is NODATA: a '*' inside a name is not a wildcard") {
        auto r = ask(db, make_query("sub.*.example", rrtype::MX));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.answer().empty());
    }
    SECTION("_telnet._tcp.host1.example. SRV is NXDOMAIN: the closest encloser is the empty non-terminal") {
        auto r = ask(db, make_query("_telnet._tcp.host1.example", rrtype::SRV));
        CHECK(r.rcode() == rcode::NXDOMAIN);
        CHECK(r.flag_aa());
        CHECK(r.authority().size() == 1);
    }
    SECTION("_tcp.host1.example. (an empty non-terminal) is NODATA, not NXDOMAIN") {
        auto r = ask(db, make_query("_tcp.host1.example", rrtype::A));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.answer().empty());
    }
    SECTION("host.subdel.example. A is a referral") {
        auto r = ask(db, make_query("host.subdel.example", rrtype::A));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK_FALSE(r.flag_aa());
        CHECK(r.answer().empty());
        CHECK(r.authority() == std::vector<std::string>{"subdel.example. 3600 IN NS ns.example.com.",
                                                        "subdel.example. 3600 IN NS ns.example.net."});
    }
    SECTION("ghost.*.example. MX is NXDOMAIN") {
        auto r = ask(db, make_query("ghost.*.example", rrtype::MX));
        CHECK(r.rcode() == rcode::NXDOMAIN);
    }
    SECTION("a CNAME at a wildcard is synthesized and chased") {
        auto r = ask(db, make_query("x.wc.example", rrtype::A));
        CHECK(r.answer() == std::vector<std::string>{"x.wc.example. 300 IN CNAME host1.example.",
                                                     "host1.example. 3600 IN A 192.0.2.1"});
    }
}

TEST_CASE("referrals carry glue and clear AA; DS at the cut is answered by the parent", "[dns][engine]") {
    auto r = ask(test_db(), make_query("www.sub.example.test", rrtype::A));
    CHECK_FALSE(r.flag_aa());
    CHECK(r.authority().size() == 2);
    auto add = r.additional();
    CHECK(contains(add, "ns1.sub.example.test. 3600 IN A 192.0.2.201"));
    CHECK(contains(add, "ns2.sub.example.test. 3600 IN A 192.0.2.202"));
    CHECK(contains(add, "ns2.sub.example.test. 3600 IN AAAA 2001:db8::202"));
    auto at_cut = ask(test_db(), make_query("sub.example.test", rrtype::NS));
    CHECK_FALSE(at_cut.flag_aa());
    CHECK(at_cut.answer().empty());
    auto ds = ask(test_db(), make_query("sub.example.test", rrtype::DS));
    CHECK(ds.flag_aa());
    CHECK(ds.rcode() == rcode::NOERROR);
    CHECK(ds.answer().empty());
    CHECK(ds.authority().size() == 1); // SOA: NODATA
}

TEST_CASE("NXDOMAIN carries the SOA with the negative TTL", "[dns][engine]") {
    auto r = ask(test_db(), make_query("nope.example.test", rrtype::A));
    CHECK(r.rcode() == rcode::NXDOMAIN);
    CHECK(r.flag_aa());
    CHECK(r.answer().empty());
    CHECK(r.authority() == std::vector<std::string>{"example.test. 300 IN SOA ns1.example.test. "
                                                    "hostmaster.example.test. 2026112501 7200 3600 1209600 300"});
}

TEST_CASE("MX, SRV and NS answers get address records of their targets", "[dns][engine]") {
    auto mx = ask(test_db(), make_query("example.test", rrtype::MX));
    CHECK(mx.answer().size() == 2);
    CHECK(mx.additional() == std::vector<std::string>{"mail.example.test. 3600 IN A 192.0.2.25",
                                                      "mail.example.test. 3600 IN AAAA 2001:db8::25",
                                                      "mail2.example.test. 3600 IN A 192.0.2.26"});
    auto srv = ask(test_db(), make_query("_sip._udp.example.test", rrtype::SRV));
    CHECK(srv.additional() == std::vector<std::string>{"sip.example.test. 3600 IN A 192.0.2.50"});
    auto ns = ask(test_db(), make_query("example.test", rrtype::NS));
    CHECK(ns.additional().size() == 3);
}

TEST_CASE("names outside our zones are REFUSED; other classes too", "[dns][engine]") {
    auto r = ask(test_db(), make_query("example.org", rrtype::A));
    CHECK(r.rcode() == rcode::REFUSED);
    CHECK_FALSE(r.flag_aa());
    CHECK(r.answer().empty());
    QueryOpts hs;
    hs.qclass = 4;
    CHECK(ask(test_db(), make_query("example.test", rrtype::A, hs)).rcode() == rcode::REFUSED);
}

TEST_CASE("other opcodes get NOTIMP without echoing answer flags", "[dns][engine]") {
    QueryOpts o;
    o.flags = static_cast<uint16_t>((2 << 11) | flag::RD | flag::AA | flag::AD); // STATUS
    auto r = ask(test_db(), make_query("example.test", rrtype::A, o));
    CHECK(r.rcode() == rcode::NOTIMP);
    REQUIRE(r.wire.size() == 12);
    CHECK(((r.wire[2] << 8) | r.wire[3]) == (flag::QR | (2 << 11) | flag::RD | rcode::NOTIMP));
}

TEST_CASE("malformed queries get FORMERR; responses are dropped", "[dns][engine][wire]") {
    auto formerr = [](std::vector<uint8_t> q, bool opt = false) {
        auto r = ask(test_db(), q);
        INFO("query bytes " << q.size());
        CHECK(r.rcode() == rcode::FORMERR);
        // RFC 6891 §6.1.1: a query with OPT gets OPT back, FORMERR included.
        CHECK(r.wire.size() == (opt ? 23u : 12u));
        CHECK(r.has_opt() == opt);
    };
    auto base = make_query("web.example.test", rrtype::A);
    SECTION("QDCOUNT 0 and 2") {
        auto q = base;
        q[5] = 0;
        formerr(q);
        q[5] = 2;
        formerr(q);
    }
    SECTION("label length with the reserved 0x40 bits") {
        auto q = base;
        q[12] = 0x43;
        formerr(q);
    }
    SECTION("compression pointer in the question") {
        std::vector<uint8_t> q(base.begin(), base.begin() + 12);
        q.insert(q.end(), {0xC0, 0x0C, 0, 1, 0, 1});
        formerr(q);
    }
    SECTION("truncated question") {
        formerr(std::vector<uint8_t>(base.begin(), base.end() - 3));
        formerr(std::vector<uint8_t>(base.begin(), base.begin() + 15));
    }
    SECTION("answer records in a query") {
        auto q = base;
        q[7] = 1;
        formerr(q);
    }
    SECTION("a name longer than 255 bytes") {
        std::string name;
        for (int i = 0; i < 5; i++)
            name += std::string(60, 'a') + ".";
        formerr(make_query(name, rrtype::A));
    }
    SECTION("two OPT records") {
        auto q = make_query("web.example.test", rrtype::A, edns());
        q[11] = 2;
        std::vector<uint8_t> opt(q.end() - 11, q.end());
        q.insert(q.end(), opt.begin(), opt.end());
        formerr(q, true);
    }
    SECTION("OPT with a truncated option") {
        QueryOpts o = edns();
        o.options = {0, 10, 0, 8, 1};
        formerr(make_query("web.example.test", rrtype::A, o), true);
    }
    SECTION("QR=1 and short packets are dropped") {
        auto q = base;
        q[2] |= 0x80;
        auto r = ask(test_db(), q);
        CHECK(r.wire.empty());
        CHECK(r.info.kind == AnswerKind::dropped);
        CHECK(ask(test_db(), std::vector<uint8_t>(base.begin(), base.begin() + 11)).wire.empty());
    }
}

TEST_CASE("EDNS: OPT echoed with our size, DO echoed, BADVERS, unknown options ignored", "[dns][engine][edns]") {
    auto r = ask(test_db(), make_query("web.example.test", rrtype::A, edns(4096, true)));
    REQUIRE(r.has_opt());
    CHECK(ldns_pkt_edns_udp_size(r.pkt) == 1232);
    CHECK(ldns_pkt_edns_do(r.pkt));
    auto nodo = ask(test_db(), make_query("web.example.test", rrtype::A, edns(4096, false)));
    CHECK_FALSE(ldns_pkt_edns_do(nodo.pkt));

    QueryOpts v1 = edns();
    v1.version = 1;
    auto bad = ask(test_db(), make_query("web.example.test", rrtype::A, v1));
    CHECK(bad.rcode() == rcode::BADVERS);
    CHECK(bad.answer().empty());
    CHECK(bad.has_opt());

    QueryOpts unk = edns();
    unk.options = {0xFD, 0xE9, 0, 2, 0xAB, 0xCD}; // a private-use option
    auto u = ask(test_db(), make_query("web.example.test", rrtype::A, unk));
    CHECK(u.rcode() == rcode::NOERROR);
    CHECK(ldns_pkt_edns_data(u.pkt) == nullptr); // not echoed
}

TEST_CASE("TC=1 when the answer does not fit the client's buffer; TCP carries it whole", "[dns][engine]") {
    auto plain = ask(test_db(), make_query("big.example", rrtype::TXT));
    CHECK(plain.flag_tc());
    CHECK(plain.answer().empty());
    CHECK(plain.wire.size() <= 512);
    auto small = ask(test_db(), make_query("big.example", rrtype::TXT, edns(512)));
    CHECK(small.flag_tc());
    CHECK(small.has_opt());
    CHECK(small.wire.size() <= 512);
    auto large = ask(test_db(), make_query("big.example", rrtype::TXT, edns(1232)));
    CHECK_FALSE(large.flag_tc());
    CHECK(large.answer().size() == 3);
    auto tcp = ask(test_db(), make_query("big.example", rrtype::TXT), {}, true);
    CHECK_FALSE(tcp.flag_tc());
    CHECK(tcp.answer().size() == 3);
    // A client size below 512 means 512 (RFC 6891 §6.2.5).
    auto tiny = ask(test_db(), make_query("big.example", rrtype::TXT, edns(100)));
    CHECK(tiny.flag_tc());
}

TEST_CASE("ANY is answered with one RRset (RFC 8482)", "[dns][engine]") {
    auto r = ask(test_db(), make_query("example.test", rrtype::ANY));
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.answer().size() == 1);
    auto mx = ask(test_db(), make_query("mail.example.test", rrtype::ANY));
    CHECK(mx.answer().size() == 1);
}

TEST_CASE("CHAOS identity names and NSID come from config", "[dns][engine]") {
    EngineConfig cfg;
    cfg.chaos_id = "edge-7";
    cfg.nsid = "ns-7";
    QueryOpts ch;
    ch.qclass = rrclass::CH;
    auto id = ask(test_db(), make_query("id.server", rrtype::TXT, ch), cfg);
    CHECK(id.rcode() == rcode::NOERROR);
    CHECK(id.answer() == std::vector<std::string>{"id.server. 0 CH TXT \"edge-7\""});
    auto host = ask(test_db(), make_query("HOSTNAME.bind", rrtype::TXT, ch), cfg);
    CHECK(host.answer().size() == 1);
    auto ver = ask(test_db(), make_query("version.bind", rrtype::TXT, ch), cfg);
    CHECK(ver.rcode() == rcode::REFUSED); // not configured
    auto other = ask(test_db(), make_query("foo.bind", rrtype::TXT, ch), cfg);
    CHECK(other.rcode() == rcode::REFUSED);

    QueryOpts n = edns();
    n.options = {0, 3, 0, 0};
    auto with = ask(test_db(), make_query("web.example.test", rrtype::A, n), cfg);
    ldns_rdf* data = ldns_pkt_edns_data(with.pkt);
    REQUIRE(data);
    std::string raw(reinterpret_cast<const char*>(ldns_rdf_data(data)), ldns_rdf_size(data));
    CHECK(raw == std::string("\0\3\0\4ns-7", 8));
    auto without = ask(test_db(), make_query("web.example.test", rrtype::A, edns()), cfg);
    CHECK(ldns_pkt_edns_data(without.pkt) == nullptr);
}

TEST_CASE("ECS is validated (RFC 7871 §7.1.1) and echoed with scope 0 for static answers", "[dns][engine][ecs]") {
    QueryOpts o = edns();
    o.options = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2}; // 192.0.2.0/24
    auto r = ask(test_db(), make_query("web.example.test", rrtype::A, o));
    CHECK(r.rcode() == rcode::NOERROR);
    ldns_rdf* data = ldns_pkt_edns_data(r.pkt);
    REQUIRE(data);
    std::vector<uint8_t> got(ldns_rdf_data(data), ldns_rdf_data(data) + ldns_rdf_size(data));
    CHECK(got == std::vector<uint8_t>{0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2});

    auto bad = [](std::vector<uint8_t> opt) {
        QueryOpts b = edns();
        b.options = std::move(opt);
        return ask(test_db(), make_query("web.example.test", rrtype::A, b)).rcode();
    };
    CHECK(bad({0, 8, 0, 7, 0, 1, 24, 8, 192, 0, 2}) == rcode::FORMERR);    // scope in a query
    CHECK(bad({0, 8, 0, 7, 0, 3, 24, 0, 192, 0, 2}) == rcode::FORMERR);    // unknown family
    CHECK(bad({0, 8, 0, 7, 0, 1, 33, 0, 192, 0, 2}) == rcode::FORMERR);    // prefix over 32
    CHECK(bad({0, 8, 0, 8, 0, 1, 24, 0, 192, 0, 2, 0}) == rcode::FORMERR); // address longer than the prefix
    CHECK(bad({0, 8, 0, 7, 0, 1, 23, 0, 192, 0, 3}) == rcode::FORMERR);    // bits set past the prefix
    CHECK(bad({0, 8, 0, 4, 0, 1, 0, 0}) == rcode::NOERROR);                // /0 is valid
}

namespace {
// A steering hook that answers one name with one A record and a scope of 24.
class FakeSteering : public SteeringHook {
  public:
    bool answer(std::string_view name, uint16_t qtype, const ClientSubnet&, const sockaddr*, unsigned,
                SteeredAnswer* out) const noexcept override {
        if (name != std::string_view("\3geo\7example\4test\0", 18) || qtype != rrtype::A) return false;
        out->records = rr_;
        out->len = sizeof rr_;
        out->rr_count = 1;
        out->scope_prefix = 24;
        return true;
    }

  private:
    uint8_t rr_[16] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7};
};
} // namespace

TEST_CASE("steered names answer from the steering hook and echo its ECS scope", "[dns][engine][ecs]") {
    // Both ways the engine gets there: the walk from the apex, and the pre-rendered table's steered entry.
    bool compiled = GENERATE(false, true);
    INFO("compiled " << compiled);
    auto z = load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    z->ensure_node(std::string_view("\3geo\7example\4test\0", 18)).steer = 0;
    z->ensure_node(std::string_view("\3geo\7example\4test\0", 18))
        .rrsets.push_back(RRset{rrtype::TXT, 60, 1, std::string("\0\4\3abc", 6), {}, 0});
    if (compiled) compile_answers(*z);
    ZoneDb db;
    db.add(z);
    FakeSteering fake;
    EngineConfig cfg;
    cfg.steering = &fake;
    QueryOpts o = edns();
    o.options = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2};
    auto r = ask(db, make_query("GEO.example.test", rrtype::A, o), cfg);
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.flag_aa());
    CHECK(r.answer() == std::vector<std::string>{"GEO.example.test. 60 IN A 198.51.100.7"});
    ldns_rdf* data = ldns_pkt_edns_data(r.pkt);
    REQUIRE(data);
    CHECK(ldns_rdf_data(data)[7] == 24);
    // A CNAME pointing at the steered name gets the steered records with the right owner.
    auto txt = ask(db, make_query("geo.example.test", rrtype::TXT), cfg);
    CHECK(txt.answer().size() == 1);
    auto aaaa = ask(db, make_query("geo.example.test", rrtype::AAAA), cfg);
    CHECK(aaaa.rcode() == rcode::NOERROR);
    CHECK(aaaa.answer().empty()); // NODATA: the name exists
}

TEST_CASE("AXFR over UDP is refused; over TCP it is handed to the server", "[dns][engine]") {
    auto udp = ask(test_db(), make_query("example.test", rrtype::AXFR));
    CHECK(udp.rcode() == rcode::REFUSED);
    auto tcp = ask(test_db(), make_query("example.test", rrtype::AXFR), {}, true);
    CHECK(tcp.wire.empty());
    CHECK(tcp.info.kind == AnswerKind::transfer);
    REQUIRE(tcp.info.zone);
    CHECK(tcp.info.zone->apex_text == "example.test.");
    auto ixfr = ask(test_db(), make_query("example.test", rrtype::IXFR), {}, true);
    CHECK(ixfr.info.kind == AnswerKind::transfer);
}

TEST_CASE("IXFR over UDP is answered with the zone's current SOA alone (RFC 1995 section 2)", "[dns][engine]") {
    auto r = ask(test_db(), make_query("example.test", rrtype::IXFR));
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.flag_aa());
    REQUIRE(r.answer().size() == 1);
    CHECK(r.answer()[0].find(" IN SOA ") != std::string::npos);
    CHECK(r.info.kind != AnswerKind::transfer);
    // Below the apex it is not a transfer at all.
    auto below = ask(test_db(), make_query("web.example.test", rrtype::IXFR));
    CHECK(below.rcode() == rcode::REFUSED);
}

TEST_CASE("random and mutated packets never crash, never overflow, always parse or drop", "[dns][engine][fuzz]") {
    std::mt19937 rng(12345);
    std::vector<std::vector<uint8_t>> seeds = {make_query("web.example.test", rrtype::A, edns()),
                                               make_query("big.example", rrtype::TXT),
                                               make_query("host3.example", rrtype::MX, edns(512, true))};
    for (int i = 0; i < 3000; i++) {
        auto q = seeds[i % seeds.size()];
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; f++)
            q[rng() % q.size()] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) q.resize(rng() % (q.size() + 1));
        auto r = ask(test_db(), q, {}, false, 512);
        if (!r.wire.empty()) {
            INFO("iteration " << i);
            CHECK(r.status == LDNS_STATUS_OK);
        }
    }
}

TEST_CASE("DNAME: synthesized CNAME, chased in zone (RFC 6672)", "[dns][engine][dname]") {
    auto r = ask(test_db(), make_query("www.alias.example", rrtype::A));
    CHECK(r.rcode() == rcode::NOERROR);
    CHECK(r.flag_aa());
    CHECK(r.answer() == std::vector<std::string>{"alias.example. 300 IN DNAME target.example.",
                                                 "www.alias.example. 300 IN CNAME www.target.example.",
                                                 "www.target.example. 300 IN A 192.0.2.55"});
    auto own = ask(test_db(), make_query("alias.example", rrtype::DNAME));
    CHECK(own.answer() == std::vector<std::string>{"alias.example. 300 IN DNAME target.example."});
    auto nx = ask(test_db(), make_query("x.y.alias.example", rrtype::A));
    CHECK(nx.rcode() == rcode::NXDOMAIN);
    CHECK(nx.answer().size() == 2);
    CHECK(nx.authority().size() == 1);
    auto out = ask(test_db(), make_query("a.out.example", rrtype::A));
    CHECK(out.rcode() == rcode::NOERROR);
    CHECK(out.answer() == std::vector<std::string>{"out.example. 300 IN DNAME example.net.",
                                                   "a.out.example. 300 IN CNAME a.example.net."});
    // 240 bytes of labels + "alias.example." = 255; under "target.example." it would be 256: YXDOMAIN.
    std::string l63(63, 'a');
    auto longq = ask(
        test_db(), make_query(l63 + "." + l63 + "." + l63 + "." + std::string(47, 'b') + ".alias.example", rrtype::A));
    CHECK(longq.rcode() == rcode::YXDOMAIN);
    CHECK(longq.answer().size() == 1);
}
