// The pre-rendered answers (dns/engine/answer_compiler.h) against the engine's own: for every name of the test
// zones and every type it holds, plus types it lacks, the same query in several shapes must produce the same bytes
// from a compiled and an uncompiled copy of the zone.
#include <catch2/catch.hpp>

#include "dns/dns_test_util.h"
#include "dns/engine/answer_compiler.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"

using namespace dns;
using namespace dns::test;

namespace {

struct Pair {
    ZoneDb plain, compiled;
    size_t compiled_sets = 0;
};

Pair load_both(const char* origin, const std::string& file) {
    Pair p;
    auto a = load_test_zone(origin, std::string(MERIDIAN_SRC) + file);
    auto b = load_test_zone(origin, std::string(MERIDIAN_SRC) + file);
    p.compiled_sets = compile_answers(*b).compiled;
    p.plain.add(a);
    p.compiled.add(b);
    return p;
}

// Mixed case, so a pointer to the question shows up in the client's letter case on both paths.
std::string mixed_case(std::string text) {
    for (size_t i = 0; i < text.size(); i += 2)
        text[i] = static_cast<char>(std::toupper(text[i]));
    return text;
}

// The same answer: byte for byte where the table holds the answer itself; for negative answers the pre-rendered
// SOA may compress less than the engine would when the question shares more than the apex with the SOA's names
// (both are valid encodings of the same records), so those compare record by record.
// Names compare case-insensitively (RFC 4343): a pointer into the question shows the client's case.
std::vector<std::string> folded(std::vector<std::string> v) {
    for (auto& x : v)
        for (auto& c : x)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
}

void same_answer(const Response& a, const Response& b) {
    REQUIRE(a.status == LDNS_STATUS_OK);
    REQUIRE(b.status == LDNS_STATUS_OK);
    CHECK(a.rcode() == b.rcode());
    CHECK(a.flag_aa() == b.flag_aa());
    CHECK(a.flag_tc() == b.flag_tc());
    CHECK(a.answer() == b.answer());
    CHECK(folded(a.authority()) == folded(b.authority()));
    CHECK(a.additional() == b.additional());
    CHECK(a.has_opt() == b.has_opt());
    if (a.authority().empty()) CHECK(a.wire == b.wire);
    CHECK(b.wire.size() <= a.wire.size() + 64);
}

} // namespace

TEST_CASE("compiled answers are the engine's answers", "[dns][engine][compiler]") {
    for (auto [origin, file] : {std::pair{"example.test.", "/conf/examples/zones/example.test.zone"},
                                std::pair{"example.", "/tests/dns/data/rfc4592.example.zone"}}) {
        Pair p = load_both(origin, file);
        INFO(origin);
        CHECK(p.compiled_sets > 5); // the zones have plenty of plain answers to compile
        const Zone* z = p.compiled.get(*name_from_text(origin)).get();
        REQUIRE(z);
        size_t checked = 0, fast = 0;
        for (const Node& node : z->node_list()) {
            std::vector<uint16_t> types = {rrtype::A,   rrtype::AAAA,  rrtype::MX,  rrtype::TXT, rrtype::NS,
                                           rrtype::SOA, rrtype::CNAME, rrtype::ANY, rrtype::DS,  rrtype::SRV};
            for (const RRset& s : node.rrsets) {
                types.push_back(s.type);
                AnswerTable::Hit hit;
                if (z->answers.find(node.name, name_hash(node.name), s.type, &hit) == AnswerTable::Match::answer)
                    fast++;
            }
            std::string name = mixed_case(name_to_text(node.name));
            for (uint16_t t : types) {
                for (int size : {-1, 512, 1232, 4096}) {
                    QueryOpts o;
                    o.edns = size;
                    auto q = make_query(name, t, o);
                    auto ra = ask(p.plain, q);
                    auto rb = ask(p.compiled, q);
                    INFO(name << " type " << t << " edns " << size);
                    same_answer(ra, rb);
                    // TCP too: no size limit at all.
                    same_answer(ask(p.plain, q, {}, true), ask(p.compiled, q, {}, true));
                    checked++;
                }
            }
        }
        // Names that do not exist, under every node: NXDOMAIN (or a wildcard's answer) either way.
        for (const Node& node : z->node_list()) {
            if (node.name.size() + 8 > kMaxNameLen) continue;
            std::string name = mixed_case("nx-" + std::to_string(checked) + "." + name_to_text(node.name));
            for (uint16_t t : {rrtype::A, rrtype::MX, rrtype::ANY, rrtype::AXFR}) {
                for (int size : {-1, 1232}) {
                    QueryOpts o;
                    o.edns = size;
                    auto q = make_query(name, t, o);
                    INFO(name << " type " << t << " edns " << size);
                    same_answer(ask(p.plain, q), ask(p.compiled, q));
                    checked++;
                }
            }
        }
        CHECK(fast == p.compiled_sets);
        CHECK(checked > 100);
    }
}

TEST_CASE("an answer too large for the client's buffer is left to the engine (TC or fewer additionals)",
          "[dns][engine][compiler]") {
    // Built here: an RRset of 30 TXT records (about 1,100 bytes: more than 512, less than our 1232) at a plain name.
    auto z = std::make_shared<Zone>();
    z->apex = *name_from_text("big.test.");
    std::string apex = z->apex;
    Node& a = z->ensure_node(apex);
    RRset soa;
    soa.type = rrtype::SOA;
    soa.ttl = 300;
    soa.count = 1;
    std::string soa_rd = *name_from_text("ns.big.test.") + *name_from_text("h.big.test.") + std::string(20, '\1');
    soa.rdata = std::string{char(soa_rd.size() >> 8), char(soa_rd.size() & 0xFF)} + soa_rd;
    a.rrsets.push_back(soa);
    Node& t = z->ensure_node(*name_from_text("t.big.test."));
    RRset txt;
    txt.type = rrtype::TXT;
    txt.ttl = 60;
    for (int i = 0; i < 30; i++) {
        txt.rdata += std::string("\0\x15\x14", 3) + std::string(20, char('a' + i % 26));
        txt.count++;
    }
    t.rrsets.push_back(txt);
    z->finalize();
    z->soa = z->apex_node->find(rrtype::SOA);
    REQUIRE(compile_answers(*z).compiled >= 1);
    ZoneDb db;
    db.add(z);
    auto small = ask(db, make_query("t.big.test", rrtype::TXT));
    CHECK(small.flag_tc());
    CHECK(small.wire.size() <= 512);
    QueryOpts o;
    o.edns = 4096;
    auto large = ask(db, make_query("t.big.test", rrtype::TXT, o));
    CHECK_FALSE(large.flag_tc());
    CHECK(large.answer().size() == 30);
}

TEST_CASE("the node index finds every name, also after nodes are added to a finished zone", "[dns][zone]") {
    auto z = load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    z->finalize();
    size_t before = z->node_list().size();
    for (const Node& node : z->node_list()) {
        const Node* found = z->find(node.name);
        REQUIRE(found == &node);
    }
    CHECK(z->find(*name_from_text("nope.example.test.")) == nullptr);
    CHECK(z->apex_node == z->find(z->apex));
    REQUIRE(z->soa);
    CHECK(z->soa->type == rrtype::SOA);
    CHECK(z->transfer_order.front() == z->apex_node);
    // A steered name added after load, with its empty non-terminal: the array may move, so finalize again.
    z->ensure_node(*name_from_text("new.deep.example.test.")).steer = 0;
    CHECK_FALSE(z->finalized());
    z->finalize();
    CHECK(z->find(*name_from_text("new.deep.example.test.")));
    CHECK(z->find(*name_from_text("deep.example.test.")));
    CHECK(z->node_list().size() == before + 2);
    CHECK(z->apex_node == z->find(z->apex));
    // Many names: the table grows and every one is still found.
    for (int i = 0; i < 5000; i++)
        z->node(*name_from_text("n" + std::to_string(i) + ".example.test."));
    for (int i = 0; i < 5000; i += 7)
        CHECK(z->find(*name_from_text("n" + std::to_string(i) + ".example.test.")));
    CHECK(z->find(*name_from_text("n5000.example.test.")) == nullptr);
}
