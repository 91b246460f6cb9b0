// dns/zone/simple_record_parser.h against ldns as the oracle: every line the fast path accepts must give exactly
// the owner, type, TTL and RDATA ldns gives for it; everything else must be left to ldns. Then whole zones loaded
// with and without the fast path must compile to the same Zone, with the same diagnostics.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "dns/dns_test_util.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"
#include "dns/zone/simple_record_parser.h"
#include "dns/zone/zone_loader.h"

// Last: ldns's headers define bool-ish macros that break <optional> when included before it.
#include <ldns/ldns.h>

using namespace dns;

namespace {

const std::string kOrigin = std::string("\7Example\4test\0", 14);
const std::string kPrev = std::string("\4prev\7example\4test\0", 19);

struct Oracle {
    bool ok = false;
    SimpleRecord rec;
};

// What ldns makes of the line, with the same origin, previous owner and default TTL.
Oracle ldns_reads(const std::string& line, uint32_t default_ttl) {
    Oracle o;
    ldns_rdf* origin = ldns_dname_new_frm_data(static_cast<uint16_t>(kOrigin.size()), kOrigin.data());
    ldns_rdf* prev = ldns_dname_new_frm_data(static_cast<uint16_t>(kPrev.size()), kPrev.data());
    ldns_rr* rr = nullptr;
    if (ldns_rr_new_frm_str(&rr, line.c_str(), default_ttl, origin, &prev) == LDNS_STATUS_OK) {
        o.ok = true;
        const ldns_rdf* own = ldns_rr_owner(rr);
        o.rec.owner.assign(reinterpret_cast<const char*>(ldns_rdf_data(own)), ldns_rdf_size(own));
        o.rec.type = ldns_rr_get_type(rr);
        o.rec.ttl = ldns_rr_ttl(rr);
        ldns_buffer* b = ldns_buffer_new(512);
        REQUIRE(ldns_rr_rdata2buffer_wire(b, rr) == LDNS_STATUS_OK);
        o.rec.rdata.assign(reinterpret_cast<const char*>(ldns_buffer_begin(b)), ldns_buffer_position(b));
        ldns_buffer_free(b);
        CHECK(ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN);
        ldns_rr_free(rr);
    }
    ldns_rdf_deep_free(origin);
    if (prev) ldns_rdf_deep_free(prev);
    return o;
}

SimpleLine fast(const std::string& line, SimpleRecord* out, uint32_t default_ttl = 7200) {
    SimpleParseContext ctx{kOrigin, kPrev, default_ttl};
    return parse_simple_line(line, ctx, out);
}

void same_as_ldns(const std::string& line, uint32_t default_ttl = 7200) {
    INFO("line: [" << line << "] default TTL " << default_ttl);
    SimpleRecord f;
    REQUIRE(fast(line, &f, default_ttl) == SimpleLine::record);
    Oracle o = ldns_reads(line, default_ttl);
    REQUIRE(o.ok);
    CHECK(name_to_text(f.owner) == name_to_text(o.rec.owner));
    CHECK(f.owner == o.rec.owner); // case kept exactly
    CHECK(f.type == o.rec.type);
    CHECK(f.ttl == o.rec.ttl);
    CHECK(f.rdata == o.rec.rdata);
}

} // namespace

TEST_CASE("fast zone lines parse exactly like ldns", "[dns][zone][fastpath]") {
    for (const char* l : {
             "www IN A 192.0.2.1",
             "www 300 IN A 192.0.2.1",
             "www 300 A 192.0.2.1",
             "www A 192.0.2.1",
             "www IN 300 A 192.0.2.1",
             "Www.Sub\tIN\tA\t10.0.0.255   ; trailing comment",
             "www.example.test. 0 IN A 0.0.0.0",
             "@ IN A 192.0.2.7",
             "*.apps IN A 192.0.2.99",
             "_sip._udp in a 192.0.2.5",
             "100.2.0.192.in-addr IN PTR web",
             "100.2.0.192.in-addr IN PTR web.example.org.",
             "h IN AAAA 2001:db8::1",
             "h IN AAAA ::",
             "h IN AAAA ::ffff:192.0.2.1",
             "h IN aaaa 2001:DB8:0:0:0:0:0:AbCd",
             "   IN A 192.0.2.2",
             "\t300 IN AAAA 2001:db8::2",
             "\tA 192.0.2.3",
             "@ IN NS ns1",
             "@ IN NS Ns1.Example.ORG.",
             "sub IN NS @",
             "alias IN CNAME web",
             "alias 60 IN CNAME .",
             "@ IN MX 10 mail",
             "@ IN MX 0 .",
             "@ IN MX 65535 mail.example.org.",
             "t IN TXT \"v=spf1 mx a:mail.example.test -all\"",
             "t IN TXT \"\"",
             "t IN TXT \"one\" \"two\"   \"three\"",
             "t IN TXT bare",
             "t IN TXT bare words.and-more",
             "t IN TXT \"x\" ; comment \"y\"",
             "a-b_c IN A 192.0.2.4",
             "2 IN A 192.0.2.4",
             "x 2147483647 IN A 192.0.2.4",
         }) {
        SimpleRecord r;
        if (fast(l, &r) == SimpleLine::record) same_as_ldns(l);
    }
    // The forms above that must be on the fast path (the point of it).
    SimpleRecord r;
    for (const char* l : {"www IN A 192.0.2.1", "   IN A 192.0.2.2", "@ IN MX 10 mail", "t IN TXT \"one\" \"two\"",
                          "alias IN CNAME web", "h IN AAAA 2001:db8::1", "100.2.0.192.in-addr IN PTR web",
                          "sub IN NS @", "t IN TXT bare", "@ IN A 192.0.2.7", "www 300 A 192.0.2.1"}) {
        INFO(l);
        CHECK(fast(l, &r) == SimpleLine::record);
    }
    // A missing TTL is the $TTL, and 3600 when $TTL is 0 (as ldns does).
    same_as_ldns("www IN A 192.0.2.1", 0);
    same_as_ldns("www IN A 192.0.2.1", 86400);
    // A 255-byte TXT string is the longest one.
    same_as_ldns("t IN TXT \"" + std::string(255, 'x') + "\"");
    // 63-byte labels; a name of exactly 255 bytes.
    same_as_ldns(std::string(63, 'a') + " IN A 192.0.2.1");
    std::string longest;
    for (int i = 0; i < 3; i++) longest += std::string(63, 'b') + ".";
    longest += std::string(61, 'c') + ".";
    same_as_ldns(longest + " IN A 192.0.2.1");
}

TEST_CASE("blank lines and comments are skipped; anything unusual goes to ldns", "[dns][zone][fastpath]") {
    SimpleRecord r;
    for (const char* l : {"", "   ", "\t", "; a comment", "   ; indented comment (with parens \\ and \"quotes\")"})
        CHECK(fast(l, &r) == SimpleLine::blank);
    for (const char* l : {
             "$TTL 300",
             "$ORIGIN example.org.",
             "$INCLUDE x.zone",
             "@ IN SOA ns1 hostmaster ( 1 2 3 4 5 )",
             "@ IN SOA ns1 hostmaster 1 2 3 4 5",
             "www IN A ( 192.0.2.1 )",
             "www IN A 192.0.2.1 extra",
             "www IN A 192.0.2",
             "www IN A 192.0.2.256",
             "www IN A 192.0.2.1;glued comment",
             "www IN AAAA 192.0.2.1",
             "www IN AAAA 2001:db8::1::2",
             "www CH A 192.0.2.1",
             "www CLASS1 A 192.0.2.1",
             "www IN TYPE1 \\# 4 c0000201",
             "www IN SRV 10 60 5060 sip",
             "www 1h IN A 192.0.2.1",
             "www 1234567890 IN A 192.0.2.1",
             "www 300 300 A 192.0.2.1",
             "www IN IN A 192.0.2.1",
             "www IN",
             "www",
             "w\\046w IN A 192.0.2.1",
             "w..w IN A 192.0.2.1",
             ".w IN A 192.0.2.1",
             "w\xc3\xa9 IN A 192.0.2.1",
             "www IN A 192.0.2.1\r",
             "a IN MX mail",
             "a IN MX 65536 mail",
             "a IN MX 10",
             "a IN CNAME web extra",
             "a IN CNAME w\\.b",
             "t IN TXT",
             "t IN TXT \"unterminated",
             "t IN TXT \"esc\\\"aped\"",
             "t IN TXT \"semi;colon\"",
             "t IN TXT \"paren(\"",
             "t IN TXT \"a\"\"b\"",
             "t IN TXT \"with spaces\tand tab\"",
             "t IN TXT \"caf\xc3\xa9\"",
         }) {
        INFO("line: [" << l << "]");
        CHECK(fast(l, &r) == SimpleLine::not_simple);
    }
    // Too long for a label / a name / a TXT string: ldns reports those.
    CHECK(fast(std::string(64, 'a') + " IN A 192.0.2.1", &r) == SimpleLine::not_simple);
    std::string too_long;
    for (int i = 0; i < 4; i++) too_long += std::string(63, 'b') + ".";
    CHECK(fast(too_long + " IN A 192.0.2.1", &r) == SimpleLine::not_simple);
    CHECK(fast("t IN TXT \"" + std::string(256, 'x') + "\"", &r) == SimpleLine::not_simple);
    // No previous owner yet: an indented line goes to ldns.
    SimpleParseContext ctx{kOrigin, "", 3600};
    CHECK(parse_simple_line("  IN A 192.0.2.1", ctx, &r) == SimpleLine::not_simple);
}

namespace {

// Two zones hold the same names, RRsets (type, TTL, records in order) and header data.
void same_zone(const Zone& a, const Zone& b) {
    CHECK(a.apex == b.apex);
    CHECK(a.serial == b.serial);
    CHECK(a.negative_ttl == b.negative_ttl);
    CHECK(a.record_count == b.record_count);
    REQUIRE(a.node_list().size() == b.node_list().size());
    for (const Node& node : a.node_list()) {
        INFO(name_to_text(node.name));
        const Node* other = b.find(node.name);
        REQUIRE(other);
        CHECK(node.delegation == other->delegation);
        REQUIRE(node.rrsets.size() == other->rrsets.size());
        for (const auto& s : node.rrsets) {
            const RRset* t = other->find(s.type);
            REQUIRE(t);
            CHECK(s.ttl == t->ttl);
            CHECK(s.count == t->count);
            CHECK(s.rdata == t->rdata);
        }
    }
}

std::shared_ptr<Zone> load(const std::string& origin, const std::string& text, bool fast_path,
                           shared::ConfigDiagnostics& d) {
    ZoneLoadOptions o;
    o.fast_path = fast_path;
    return load_zone_text(origin, text, "/tmp/fast.zone", d, o);
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST_CASE("zones load the same with and without the fast path", "[dns][zone][fastpath]") {
    SECTION("the example and RFC 4592 zones") {
        for (auto [origin, file] : {std::pair<const char*, const char*>{"example.test.", "/conf/examples/zones/example.test.zone"},
                                    {"example.", "/tests/dns/data/rfc4592.example.zone"}}) {
            std::string text = read(std::string(MERIDIAN_SRC) + file);
            REQUIRE_FALSE(text.empty());
            shared::ConfigDiagnostics d1, d2;
            auto a = load(origin, text, true, d1);
            auto b = load(origin, text, false, d2);
            INFO(d1.to_string() << d2.to_string());
            REQUIRE(a);
            REQUIRE(b);
            same_zone(*a, *b);
            CHECK(d1.to_string() == d2.to_string());
        }
    }
    SECTION("a generated zone mixing fast lines, ldns lines, $ORIGIN, $TTL and indented owners") {
        std::mt19937 rng(7);
        std::string t = "$ORIGIN gen.test.\n$TTL 600\n@ IN SOA ns1 host ( 9 7200 3600 1209600 300 )\n"
                        "  IN NS ns1\n\tIN NS ns2.gen.test.\nns1 IN A 192.0.2.1\nns2 IN AAAA 2001:db8::2\n";
        for (int i = 0; i < 3000; i++) {
            std::string h = "h" + std::to_string(i % 700);
            switch (rng() % 14) {
            case 0: t += h + " IN A 10.0." + std::to_string(i % 256) + "." + std::to_string(rng() % 256) + "\n"; break;
            case 1: t += h + " 300 IN AAAA 2001:db8::" + std::to_string(i) + "\n"; break;
            case 2: t += "t" + std::to_string(i) + " IN A 10.1.0.1\n  IN TXT \"t" + std::to_string(i) + "\" more\n"; break;
            case 3: t += h + ".Sub IN MX " + std::to_string(rng() % 100) + " Mail" + std::to_string(i % 5) + "\n"; break;
            case 4: t += h + " IN SRV 1 2 3 target" + std::to_string(i % 9) + "\n"; break; // ldns
            case 5: t += h + " IN TXT ( \"split\"\n  \"over lines\" )\n"; break;                 // ldns
            case 6: t += "$TTL " + std::to_string(60 + rng() % 600) + "\n"; break;
            case 7: t += "$ORIGIN o" + std::to_string(rng() % 3) + ".gen.test.\n"; break;
            case 8: t += h + " IN CAA 0 issue \"ca.example\"\n"; break; // ldns
            case 9: t += "c" + std::to_string(i) + " IN CNAME " + h + "\n"; break;
            case 10: t += "; comment " + std::to_string(i) + "\n\n"; break;
            case 11: t += h + " IN PTR ptr" + std::to_string(i % 3) + ".example.org.\n"; break;
            case 12: // an indented line after an ldns line, and a TTL with a unit (ldns)
                t += "u" + std::to_string(i) + " IN SRV 0 0 1 x\n\t1h IN A 10.9.0." + std::to_string(i % 256) + "\n";
                break;
            case 13: t += h + ".ent.x IN NS ns" + std::to_string(i % 2) + ".elsewhere.example.\n"; break;
            }
        }
        shared::ConfigDiagnostics d1, d2;
        auto a = load("gen.test.", t, true, d1);
        auto b = load("gen.test.", t, false, d2);
        INFO(d1.to_string() << d2.to_string());
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->node_list().size() > 1000);
        same_zone(*a, *b);
        CHECK(d1.to_string() == d2.to_string()); // warnings (e.g. TTLs differing in an RRset) at the same lines
    }
    SECTION("errors are the same, at the same lines") {
        std::string t = "$ORIGIN e.test.\n$TTL 60\n@ IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
                        "a IN A 192.0.2.300\n"
                        "b IN CNAME x\nb IN A 192.0.2.2\n"
                        "c IN TXT \"unterminated\n"
                        "d IN A 192.0.2.4\n"
                        "outside.example.org. IN A 192.0.2.5\n"
                        "e CH TXT \"x\"\n"
                        "f IN MX 10 mail\nf IN MX 10 mail\n";
        shared::ConfigDiagnostics d1, d2;
        CHECK_FALSE(load("e.test.", t, true, d1));
        CHECK_FALSE(load("e.test.", t, false, d2));
        INFO(d1.to_string());
        CHECK(d1.to_string() == d2.to_string());
        CHECK(d1.to_string().find("/tmp/fast.zone:6:") != std::string::npos);
        CHECK(d1.to_string().find("/tmp/fast.zone:12: record e.e.test. is not of class IN") != std::string::npos);
        // Without syntax errors the zone checks run, with the fast path's line numbers.
        std::string cname = "$ORIGIN e.test.\n@ IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n\n"
                            "b IN CNAME x\nb IN A 192.0.2.2\n";
        shared::ConfigDiagnostics d3, d4;
        CHECK_FALSE(load("e.test.", cname, true, d3));
        CHECK_FALSE(load("e.test.", cname, false, d4));
        CHECK(d3.to_string() == d4.to_string());
        CHECK(d3.to_string().find("/tmp/fast.zone:6: CNAME and other data at b.e.test.") != std::string::npos);
    }
}

TEST_CASE("mutated lines: whatever the fast path accepts, ldns reads the same", "[dns][zone][fastpath]") {
    std::mt19937 rng(2026);
    const std::vector<std::string> seeds = {
        "www IN A 192.0.2.1", "Host-1 300 IN AAAA 2001:db8::1:2", "  IN MX 10 mail.Example.org.",
        "t 60 TXT \"a b\" c \"\"", "alias CNAME web", "@ NS ns1", "1.2.0.192.in-addr IN PTR host.", "*.w IN A 10.0.0.1"};
    const std::string alphabet = "aZ09.-_*@:; \t\"\\()$IN";
    SimpleRecord r;
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        std::string l = seeds[rng() % seeds.size()];
        int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % (l.size() + 1);
            char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
            case 0: if (at < l.size()) l[at] = c; break;
            case 1: l.insert(l.begin() + static_cast<long>(at), c); break;
            case 2: if (at < l.size()) l.erase(at, 1); break;
            }
        }
        if (fast(l, &r) != SimpleLine::record) continue;
        accepted++;
        INFO("line: [" << l << "]");
        Oracle o = ldns_reads(l, 7200);
        REQUIRE(o.ok);
        CHECK(r.owner == o.rec.owner);
        CHECK(r.type == o.rec.type);
        CHECK(r.ttl == o.rec.ttl);
        CHECK(r.rdata == o.rec.rdata);
    }
    CHECK(accepted > 1000); // the mutations keep many lines on the fast path, so the comparison means something
}
