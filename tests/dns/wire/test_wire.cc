// dns/wire: the query parser's rejects and the writer's name compression, checked with ldns as the oracle.
#include <catch2/catch.hpp>

#include <strings.h>

#include <cstring>
#include <string>
#include <vector>

#include "dns/dns_test_util.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/query.h"
#include "dns/wire/wire_writer.h"

using namespace dns;

namespace {
// A message of A records whose owners a test picks, after a question for zone.test. (a compression target):
// wrong_owners() decodes it with ldns and counts the owners that do not read back as written.
struct OwnerMessage {
    std::vector<uint8_t> buf = std::vector<uint8_t>(65535);
    WireWriter w{buf.data(), buf.size()};
    std::vector<std::string> names;

    explicit OwnerMessage(uint8_t id) {
        uint8_t hdr[12] = {0, id, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0};
        w.bytes(hdr, 12);
        w.name(std::string_view("\4zone\4test\0", 11), false);
        w.add_target(12);
        w.u16(rrtype::AXFR);
        w.u16(1);
    }
    static std::string wire_of(const std::string& dotted) {
        std::string out;
        size_t s = 0;
        while (s < dotted.size()) {
            size_t e = dotted.find('.', s);
            out += char(e - s);
            out += dotted.substr(s, e - s);
            s = e + 1;
        }
        return out + std::string(1, '\0');
    }
    void add(const std::string& dotted) {
        names.push_back(dotted);
        w.name(wire_of(dotted));
        w.u16(rrtype::A);
        w.u16(1);
        w.u32(60);
        w.u16(4);
        w.u32(0x0a000001u);
    }
    size_t wrong_owners() {
        REQUIRE(w.ok());
        REQUIRE(names.size() < 0xFFFF);
        buf[6] = uint8_t(names.size() >> 8);
        buf[7] = uint8_t(names.size() & 0xff);
        ldns_pkt* pkt = nullptr;
        REQUIRE(ldns_wire2pkt(&pkt, buf.data(), w.pos()) == LDNS_STATUS_OK);
        ldns_rr_list* an = ldns_pkt_answer(pkt);
        REQUIRE(ldns_rr_list_rr_count(an) == names.size());
        size_t wrong = 0;
        for (size_t k = 0; k < names.size(); ++k) {
            char* s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(an, k)));
            if (strcasecmp(s, names[k].c_str()) != 0 && wrong++ < 5)
                UNSCOPED_INFO("record " << k << ": " << s << " != " << names[k]);
            free(s);
        }
        ldns_pkt_free(pkt);
        return wrong;
    }
};
} // namespace

TEST_CASE("parse_query reads header, question, EDNS, NSID and ECS", "[dns][wire]") {
    test::QueryOpts o;
    o.edns = 1400;
    o.do_bit = true;
    o.options = {0, 3, 0, 0, 0, 8, 0, 6, 0, 2, 16, 0, 0x20, 0x01};
    auto q = test::make_query("Www.Example.TEST", rrtype::AAAA, o);
    ParsedQuery p;
    REQUIRE(parse_query(q.data(), q.size(), &p) == QueryStatus::ok);
    CHECK(p.id == 0x1234);
    CHECK(p.qtype == rrtype::AAAA);
    CHECK(p.qclass == rrclass::IN);
    CHECK(p.qname.view() == std::string_view("\3www\7example\4test\0", 18));
    CHECK(p.qname.labels == 3);
    CHECK(p.question_end == 12 + 18 + 4);
    CHECK(p.edns);
    CHECK(p.udp_size == 1400);
    CHECK(p.do_bit);
    CHECK(p.nsid);
    CHECK(p.ecs.family == 2);
    CHECK(p.ecs.source_prefix == 16);
    CHECK(p.ecs.address[0] == 0x20);
    CHECK(p.ecs.address[1] == 0x01);
}

TEST_CASE("parse_query: root name, TSIG position, and rejects", "[dns][wire]") {
    ParsedQuery p;
    auto root = test::make_query(".", rrtype::SOA);
    REQUIRE(parse_query(root.data(), root.size(), &p) == QueryStatus::ok);
    CHECK(p.qname.len == 1);
    CHECK(p.qname.labels == 0);
    // A record after TSIG is FORMERR (TSIG must be last).
    auto q = test::make_query("a.test", rrtype::A);
    q[11] = 2;
    std::vector<uint8_t> tsig = {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0};
    q.insert(q.end(), tsig.begin(), tsig.end());
    q.insert(q.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0});
    CHECK(parse_query(q.data(), q.size(), &p) == QueryStatus::formerr);
    // OPT with a non-root owner.
    auto o = test::make_query("a.test", rrtype::A);
    o[11] = 1;
    o.insert(o.end(), {1, 'x', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0});
    CHECK(parse_query(o.data(), o.size(), &p) == QueryStatus::formerr);
    std::vector<uint8_t> empty;
    CHECK(parse_query(empty.data(), 0, &p) == QueryStatus::drop);
}

TEST_CASE("WireWriter compresses names and ldns decodes them back", "[dns][wire]") {
    uint8_t buf[512];
    WireWriter w(buf, sizeof buf);
    // A header and a question, as the engine writes them.
    uint8_t hdr[12] = {0, 1, 0x84, 0, 0, 1, 0, 3, 0, 0, 0, 0};
    w.bytes(hdr, 12);
    w.name(std::string_view("\3WWW\7Example\4test\0", 18), false);
    w.add_target(12);
    w.u16(rrtype::CNAME);
    w.u16(1);
    auto rr = [&](std::string_view owner, uint16_t type, std::string_view rdata_name) {
        w.name(owner);
        w.u16(type);
        w.u16(1);
        w.u32(60);
        size_t at = w.pos();
        w.u16(0);
        w.name(rdata_name);
        w.patch_u16(at, static_cast<uint16_t>(w.pos() - at - 2));
    };
    rr(std::string_view("\3www\7example\4test\0", 18), rrtype::CNAME, std::string_view("\3web\7example\4test\0", 18));
    rr(std::string_view("\3web\7example\4test\0", 18), rrtype::NS, std::string_view("\3ns1\3web\7example\4test\0", 22));
    rr(std::string_view("\4mail\7example\3org\0", 18), rrtype::NS, std::string_view("\4mail\7example\3org\0", 18));
    REQUIRE(w.ok());
    // Compression made it small: the first owner is a 2-byte pointer to the question.
    CHECK(buf[34] == 0xC0);
    CHECK(buf[35] == 12);
    ldns_pkt* pkt = nullptr;
    REQUIRE(ldns_wire2pkt(&pkt, buf, w.pos()) == LDNS_STATUS_OK);
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    REQUIRE(ldns_rr_list_rr_count(an) == 3);
    auto str = [](const ldns_rdf* r) {
        char* s = ldns_rdf2str(r);
        std::string out(s);
        free(s);
        return out;
    };
    CHECK(str(ldns_rr_owner(ldns_rr_list_rr(an, 0))) == "WWW.Example.test.");
    CHECK(str(ldns_rr_rdf(ldns_rr_list_rr(an, 0), 0)) == "web.Example.test.");
    CHECK(str(ldns_rr_rdf(ldns_rr_list_rr(an, 1), 0)) == "ns1.web.Example.test.");
    CHECK(str(ldns_rr_owner(ldns_rr_list_rr(an, 2))) == "mail.example.org.");
    CHECK(str(ldns_rr_rdf(ldns_rr_list_rr(an, 2), 0)) == "mail.example.org.");
    ldns_pkt_free(pkt);
}

TEST_CASE("WireWriter: a full target table still compresses to the right names", "[dns][wire]") {
    // A zone transfer message: hundreds of distinct owners under the question's name fill the 128-entry table;
    // every later owner must still point at the question's zone name (found through the targets' hashes) and decode
    // to itself.
    static uint8_t buf[65535];
    WireWriter w(buf, sizeof buf);
    uint8_t hdr[12] = {0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    w.bytes(hdr, 12);
    w.name(std::string_view("\5bench\4TEST\0", 12), false);
    w.add_target(12);
    w.u16(rrtype::AXFR);
    w.u16(1);
    constexpr int kRecords = 600;
    std::vector<size_t> owner_at;
    for (int i = 0; i < kRecords; ++i) {
        std::string label = "name" + std::to_string(i);
        std::string owner = std::string(1, char(label.size())) + label + std::string("\5Bench\4test\0", 12);
        owner_at.push_back(w.pos());
        w.name(owner);
        w.u16(rrtype::A);
        w.u16(1);
        w.u32(60);
        w.u16(4);
        w.u32(0x0a000000u + uint32_t(i));
    }
    REQUIRE(w.ok());
    buf[7] = uint8_t(kRecords & 0xff);
    buf[6] = uint8_t(kRecords >> 8);
    // Past the table's capacity each owner is its own label plus a 2-byte pointer to the question's "bench.test".
    size_t last = owner_at.back();
    std::string label = "name" + std::to_string(kRecords - 1);
    CHECK(buf[last] == label.size());
    CHECK(buf[last + 1 + label.size()] == 0xC0);
    CHECK(buf[last + 2 + label.size()] == 12);
    ldns_pkt* pkt = nullptr;
    REQUIRE(ldns_wire2pkt(&pkt, buf, w.pos()) == LDNS_STATUS_OK);
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    REQUIRE(ldns_rr_list_rr_count(an) == kRecords);
    for (int i = 0; i < kRecords; ++i) {
        char* s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(an, size_t(i))));
        CHECK(std::string(s) == "name" + std::to_string(i) + ".bench.TEST.");
        free(s);
    }
    ldns_pkt_free(pkt);
}

TEST_CASE("WireWriter: overflow is sticky and rewind restores it", "[dns][wire]") {
    uint8_t buf[64];
    WireWriter w(buf, sizeof buf);
    w.set_limit(30);
    w.bytes("0123456789", 10);
    size_t mark = w.pos();
    w.name(std::string_view("\7example\4test\0", 14));
    CHECK(w.ok());
    w.name(std::string_view("\3xyz\3abc\7example\4test\0", 22)); // 4 + 4 + pointer: 34 > 30
    CHECK_FALSE(w.ok());
    w.u8(1);
    CHECK_FALSE(w.ok());
    w.rewind(mark);
    CHECK(w.ok());
    CHECK(w.pos() == 10);
    w.name(std::string_view("\3abc\0", 5));
    CHECK(w.ok());
    CHECK(w.pos() == 15);
}

TEST_CASE("WireWriter: an owner repeated after the target table filled is a pointer, past 16 KiB a copy",
          "[dns][wire]") {
    // A transfer writes each owner once per record (a name with A and AAAA twice in a row). Once the 128 targets are
    // taken, a repeated owner found no target of its own and was written as its label plus a pointer again; the
    // writer now points at its previous occurrence (below 0x4000) or copies that occurrence's encoding (beyond the
    // pointers' reach), and ldns reads every owner back.
    static uint8_t buf[65535];
    WireWriter w(buf, sizeof buf);
    uint8_t hdr[12] = {0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    w.bytes(hdr, 12);
    w.name(std::string_view("\5bench\4test\0", 12), false);
    w.add_target(12);
    w.u16(rrtype::AXFR);
    w.u16(1);
    struct Rec {
        size_t at, len;
        std::string owner;
    };
    std::vector<Rec> recs;
    auto record = [&](const std::string& owner, uint32_t addr) {
        size_t at = w.pos();
        w.name(owner);
        recs.push_back({at, w.pos() - at, owner});
        w.u16(rrtype::A);
        w.u16(1);
        w.u32(60);
        w.u16(4);
        w.u32(addr);
    };
    int i = 0;
    while (w.pos() < 0x5000) { // well past 0x4000
        std::string label = "h" + std::to_string(i);
        std::string owner = std::string(1, char(label.size())) + label + std::string("\5bench\4test\0", 12);
        record(owner, 0x0a000000u + uint32_t(i));
        record(owner, 0x0b000000u + uint32_t(i)); // the same owner again
        ++i;
    }
    REQUIRE(w.ok());
    REQUIRE(i > 200); // the table (128 targets) filled long before
    size_t pointers = 0, copies = 0;
    for (size_t k = 1; k < recs.size(); k += 2) {
        const Rec& first = recs[k - 1];
        const Rec& again = recs[k];
        if (first.at < 0x4000 && (buf[first.at] & 0xC0) != 0xC0) {
            // A 2-byte pointer to the first occurrence.
            CHECK(again.len == 2);
            CHECK(buf[again.at] == (0xC0 | (first.at >> 8)));
            CHECK(buf[again.at + 1] == (first.at & 0xFF));
            ++pointers;
        } else {
            // No longer than the first occurrence, and the same bytes (label + pointer to "bench.test").
            CHECK(again.len == first.len);
            CHECK(std::memcmp(buf + again.at, buf + first.at, first.len) == 0);
            ++copies;
        }
    }
    CHECK(pointers > 100);
    CHECK(copies > 50);
    uint16_t n = static_cast<uint16_t>(recs.size());
    buf[6] = uint8_t(n >> 8);
    buf[7] = uint8_t(n & 0xff);
    ldns_pkt* pkt = nullptr;
    REQUIRE(ldns_wire2pkt(&pkt, buf, w.pos()) == LDNS_STATUS_OK);
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    REQUIRE(ldns_rr_list_rr_count(an) == recs.size());
    bool all_match = true;
    for (size_t k = 0; k < recs.size(); ++k) {
        char* s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(an, k)));
        std::string want = "h" + std::to_string(k / 2) + ".bench.test.";
        if (want != s) all_match = false;
        free(s);
    }
    CHECK(all_match);
    ldns_pkt_free(pkt);
}

TEST_CASE("WireWriter: a rewind forgets the last name written after the mark", "[dns][wire]") {
    uint8_t buf[512];
    WireWriter w(buf, sizeof buf);
    uint8_t hdr[12] = {0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0};
    w.bytes(hdr, 12);
    size_t mark = w.pos();
    w.name(std::string_view("\1a\4test\0", 8));
    w.rewind(mark);
    // Overwrite the bytes the forgotten name occupied with a different name; the same name again must not point there.
    w.name(std::string_view("\1b\4test\0", 8));
    size_t at = w.pos();
    w.name(std::string_view("\1a\4test\0", 8));
    REQUIRE(w.ok());
    CHECK(w.pos() - at == 4); // "\1a" and a pointer to "test" (from "b.test"), not a pointer to "b.test"
    CHECK(buf[at] == 1);
    CHECK(buf[at + 1] == 'a');
}

TEST_CASE("WireWriter: siblings, parents, other branches and letter case all decode to themselves", "[dns][wire]") {
    // The last-name shortcuts (same name again, same parent) against a mix of names that share a parent, change
    // branch, climb or descend a level, or differ only in letter case; over 20 KiB so some are past 0x4000.
    OwnerMessage m(1);
    for (int i = 0; m.w.pos() < 0x5000; i++) {
        std::string n = std::to_string(i);
        std::vector<std::string> batch = {"a" + n + ".x.zone.test.",   "b" + n + ".x.zone.test.",
                                          "b" + n + ".x.zone.test.",   "c" + n + ".y.zone.test.",
                                          "C" + n + ".Y.ZONE.TEST.",   "y.zone.test.",
                                          "d" + n + ".e.y.zone.test.", "zone.test.",
                                          "f" + n + ".zone.test.",     "f" + n + ".other.example."};
        for (const auto& d : batch)
            m.add(d);
    }
    CHECK(m.wrong_owners() == 0);
}

TEST_CASE("WireWriter: one-label names in a row are written whole, never a pointer to the root", "[dns][wire]") {
    // A one-label name's parent is the root: the sibling shortcut must not stand in for it with a pointer (the
    // header's first byte, an ID below 256, would read as the root label).
    uint8_t buf[512];
    WireWriter w(buf, sizeof buf);
    uint8_t hdr[12] = {0, 7, 0x84, 0, 0, 0, 0, 3, 0, 0, 0, 0};
    w.bytes(hdr, 12);
    for (std::string_view n :
         {std::string_view("\3com\0", 5), std::string_view("\3net\0", 5), std::string_view("\3org\0", 5)}) {
        w.name(n);
        w.u16(rrtype::NS);
        w.u16(1);
        w.u32(60);
        w.u16(3);
        w.name(std::string_view("\1a\0", 3), false);
    }
    REQUIRE(w.ok());
    ldns_pkt* pkt = nullptr;
    REQUIRE(ldns_wire2pkt(&pkt, buf, w.pos()) == LDNS_STATUS_OK);
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    REQUIRE(ldns_rr_list_rr_count(an) == 3);
    const char* want[] = {"com.", "net.", "org."};
    for (size_t k = 0; k < 3; ++k) {
        char* s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(an, k)));
        CHECK(std::string(s) == want[k]);
        free(s);
    }
    ldns_pkt_free(pkt);
}

TEST_CASE("WireWriter: runs of siblings whose first label grows and shrinks, with repeats, decode to themselves",
          "[dns][wire]") {
    // The writer remembers the last name flush with the end of its copy, so a sibling replaces only its first label:
    // names whose first labels differ in length (h9, h10, h100), repeated, interleaved with a child, a parent and a
    // name of another branch, in a pseudo-random order over more than 16 KiB (a full target table, names past the
    // pointers' reach). A wrong copy or tail comparison makes a pointer to some other name.
    OwnerMessage m(2);
    uint32_t rnd = 12345;
    auto next = [&rnd] {
        rnd = rnd * 1103515245u + 12345u;
        return (rnd >> 16) & 0x7fff;
    };
    const std::string tails[] = {"s.zone.test.", "longer-parent.s.zone.test.", "zone.test."};
    std::string last;
    for (int i = 0; m.w.pos() < 0x6000; i++) {
        uint32_t r = next();
        std::string d;
        if (r % 10 < 6 || last.empty()) {
            // A sibling of the last name (or of a name under one of the tails) with a label of 1 to 12 letters.
            size_t dot = last.find('.');
            std::string tail = last.empty() || r % 10 == 0 ? tails[next() % 3] : last.substr(dot + 1);
            if (tail.empty()) tail = tails[0];
            d = "h" + std::to_string(next() % 1000) + std::string(next() % 9, 'x') + "." + tail;
        } else if (r % 10 < 8) {
            d = last; // the same name again
        } else if (r % 10 == 8) {
            d = "c" + std::to_string(next() % 50) + "." + last; // a child
        } else {
            size_t dot = last.find('.');
            d = dot + 1 < last.size() ? last.substr(dot + 1) : tails[1]; // the parent
        }
        if (d.size() > 200) d = tails[0];
        last = d;
        m.add(d);
    }
    CHECK(m.wrong_owners() == 0);
}
