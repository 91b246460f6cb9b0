// dns/zone/zone_loader.h: master-file features, zone checks and located errors.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dns/dns_test_util.h"
#include "dns/wire/dns_constants.h"
#include "dns/zone/zone_loader.h"
#include "tests/support/temp_dir.h"

using namespace dns;

namespace {

const char* kHead =
    "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 host 7 3600 900 604800 60\n@ IN NS ns1\nns1 IN A 192.0.2.1\n";

using test_support::TempDir;

bool has_message(const shared::ConfigDiagnostics& d, const std::string& needle, bool warning = false) {
    for (const auto& e : d.all())
        if (e.warning == warning && e.to_string().find(needle) != std::string::npos) return true;
    return false;
}

} // namespace

TEST_CASE("a valid zone compiles: serial, negative TTL, nodes, empty non-terminals", "[dns][zone]") {
    shared::ConfigDiagnostics d;
    std::string text =
        std::string(kHead) + "a.b.c IN A 192.0.2.9\nmulti IN TXT ( \"one\"\n  \"two\" )\nrel IN CNAME a.b.c\n";
    auto z = load_zone_text("example.test", text, "/tmp/x.zone", d);
    INFO(d.to_string());
    REQUIRE(z);
    CHECK(z->serial == 7);
    CHECK(z->negative_ttl == 60);
    CHECK(z->apex_text == "example.test.");
    CHECK(z->find(*name_from_text("a.b.c.example.test.")));
    const Node* ent = z->find(*name_from_text("b.c.example.test."));
    REQUIRE(ent);
    CHECK(ent->empty());
    const Node* m = z->find(*name_from_text("multi.example.test."));
    REQUIRE(m);
    REQUIRE(m->find(rrtype::TXT));
    CHECK(m->find(rrtype::TXT)->rdata == std::string("\0\x08\3one\3two", 10));
    CHECK(z->record_count == 6);
}

TEST_CASE("zone checks report file:line and the reason", "[dns][zone]") {
    shared::ConfigDiagnostics d;
    SECTION("no SOA") {
        CHECK_FALSE(load_zone_text("example.test", "$ORIGIN example.test.\n@ 300 IN NS ns1\n", "/tmp/a.zone", d));
        CHECK(has_message(d, "has no SOA record at its apex"));
    }
    SECTION("no NS at the apex") {
        CHECK_FALSE(
            load_zone_text("example.test", "$ORIGIN example.test.\n@ 300 IN SOA a b 1 2 3 4 5\n", "/tmp/a.zone", d));
        CHECK(has_message(d, "has no NS records at its apex"));
    }
    SECTION("CNAME and other data") {
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "www IN CNAME ns1\nwww IN A 192.0.2.3\n",
                                   "/tmp/a.zone", d));
        CHECK(has_message(d, "/tmp/a.zone:6: CNAME and other data at www.example.test."));
    }
    SECTION("two CNAMEs") {
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "www IN CNAME ns1\nwww IN CNAME ns2\n",
                                   "/tmp/a.zone", d));
        CHECK(has_message(d, "/tmp/a.zone:7: more than one CNAME"));
    }
    SECTION("a syntax error names its line") {
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "bad IN A 300.1.2.3\n", "/tmp/a.zone", d));
        CHECK(has_message(d, "/tmp/a.zone:6:"));
    }
    SECTION("DNAME: one per name; data below it is warned about") {
        CHECK(load_zone_text("example.test", std::string(kHead) + "d IN DNAME example.net.\nx.d IN A 192.0.2.1\n",
                             "/tmp/a.zone", d));
        CHECK(has_message(d, "record x.d.example.test. lies below the DNAME at d.example.test.", true));
        shared::ConfigDiagnostics d2;
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "d IN DNAME a.net.\nd IN DNAME b.net.\n",
                                   "/tmp/a.zone", d2));
        CHECK(has_message(d2, "/tmp/a.zone:7: more than one DNAME at d.example.test."));
    }
    SECTION("SOA away from the apex, a second SOA, other classes") {
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "x IN SOA a b 1 2 3 4 5\n", "/tmp/a.zone", d));
        CHECK(has_message(d, "is not at the zone apex"));
        shared::ConfigDiagnostics d2;
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "@ IN SOA a b 1 2 3 4 5\n", "/tmp/a.zone", d2));
        CHECK(has_message(d2, "second SOA"));
        shared::ConfigDiagnostics d3;
        CHECK_FALSE(load_zone_text("example.test", std::string(kHead) + "c CH TXT \"x\"\n", "/tmp/a.zone", d3));
        CHECK(has_message(d3, "is not of class IN"));
    }
    SECTION("out-of-zone data and missing glue are warnings only") {
        auto z = load_zone_text("example.test", std::string(kHead) + "www.example.org. IN A 192.0.2.5\n@ IN NS ns9\n",
                                "/tmp/a.zone", d);
        CHECK(z);
        CHECK(has_message(d, "/tmp/a.zone:6: record www.example.org. is outside zone example.test., ignored", true));
        CHECK(has_message(d, "NS target ns9.example.test. is inside the zone but has no A/AAAA", true));
        CHECK(d.ok());
    }
    SECTION("a missing file") {
        CHECK_FALSE(load_zone_file("example.test", "/nonexistent/zone", d));
        CHECK(has_message(d, "cannot open zone file /nonexistent/zone"));
    }
}

TEST_CASE("$INCLUDE is expanded, with its own origin, and confined to the zone's folder", "[dns][zone]") {
    TempDir dir;
    dir.write("inc/hosts.inc", "h1 IN A 192.0.2.11\nh2 IN A 192.0.2.12\n");
    dir.write("inc/sub.inc", "www IN A 192.0.2.13\n");
    std::string main =
        dir.write("example.test.zone", std::string(kHead) + "$INCLUDE inc/hosts.inc\n"
                                                            "$INCLUDE \"inc/sub.inc\" lab.example.test.\n"
                                                            "after IN A 192.0.2.14\n");
    shared::ConfigDiagnostics d;
    auto z = load_zone_file("example.test.", main, d);
    INFO(d.to_string());
    REQUIRE(z);
    CHECK(z->find(*name_from_text("h1.example.test.")));
    CHECK(z->find(*name_from_text("h2.example.test.")));
    CHECK(z->find(*name_from_text("www.lab.example.test.")));
    // The origin reverts after the include.
    CHECK(z->find(*name_from_text("after.example.test.")));

    std::string outside = dir.write("z2/example.test.zone", std::string(kHead) + "$INCLUDE ../inc/hosts.inc\n");
    shared::ConfigDiagnostics d2;
    CHECK_FALSE(load_zone_file("example.test.", outside, d2));
    CHECK(has_message(d2, "outside the zone's folder"));

    std::string missing = dir.write("z3.zone", std::string(kHead) + "$INCLUDE nothere.inc\n");
    shared::ConfigDiagnostics d3;
    CHECK_FALSE(load_zone_file("example.test.", missing, d3));
    CHECK(has_message(d3, "z3.zone:6: $INCLUDE nothere.inc"));

    std::string self = dir.write("loop.zone", std::string(kHead) + "$INCLUDE loop.inc\n");
    dir.write("loop.inc", "$INCLUDE loop.inc\n");
    shared::ConfigDiagnostics d4;
    CHECK_FALSE(load_zone_file("example.test.", self, d4));
    CHECK(has_message(d4, "nested too deeply"));
}

TEST_CASE("every listed type loads, unknown types opaquely (RFC 3597)", "[dns][zone]") {
    shared::ConfigDiagnostics d;
    auto z = dns::test::load_test_zone("example.test.",
                                       std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    auto has = [&](const char* name, uint16_t type) {
        const Node* n = z->find(*name_from_text(name));
        return n && n->find(type);
    };
    CHECK(has("example.test.", rrtype::SOA));
    CHECK(has("example.test.", rrtype::CAA));
    CHECK(has("web.example.test.", rrtype::HTTPS));
    CHECK(has("web.example.test.", rrtype::SSHFP));
    CHECK(has("_443._tcp.web.example.test.", rrtype::TLSA));
    CHECK(has("sipsrv.example.test.", rrtype::NAPTR));
    CHECK(has("100.2.0.192.in-addr.example.test.", rrtype::PTR));
    CHECK(has("opaque.example.test.", 65280));
    CHECK(z->find(*name_from_text("opaque.example.test."))->find(65280)->rdata == std::string("\0\4\x0a\0\0\1", 6));
    const Node* sub = z->find(*name_from_text("sub.example.test."));
    REQUIRE(sub);
    CHECK(sub->delegation);
}
