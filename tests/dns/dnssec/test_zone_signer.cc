#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dns/dnssec/compact_denial.h"
#include "dns/dnssec/rrsig.h"
#include "dns/dnssec/signature_cache.h"
#include "dns/dnssec/zone_signer.h"
#include "dns/engine/answer_compiler.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"
#include "tests/dns/dns_test_util.h"

using namespace dns;
using namespace dns::test;

namespace {

constexpr uint64_t kNow = 1800000000; // a fixed clock: the engine and the signer take the time as an argument

const std::string kZoneFile = std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone";

struct Keys {
    std::shared_ptr<const DnssecKey> ksk, zsk;
    explicit Keys(DnssecAlgorithm alg = DnssecAlgorithm::ecdsa_p256_sha256) {
        std::string err;
        ksk = DnssecKey::generate("example.test", alg, true, &err);
        zsk = DnssecKey::generate("example.test", alg, false, &err);
        REQUIRE(ksk);
        REQUIRE(zsk);
    }
};

// The example zone, signed with `keys` at kNow and compiled (`compile` = false leaves the answer tables empty, so
// the engine answers everything itself).
std::shared_ptr<Zone> signed_zone(const Keys& keys, bool compile = true, DenialMode denial = DenialMode::compact) {
    std::string err;
    ZoneSigningPolicy policy;
    policy.denial = denial;
    std::shared_ptr<const ZoneSigner> signer = ZoneSigner::make(keys.ksk, keys.zsk, policy, &err);
    REQUIRE(signer);
    auto z = load_test_zone("example.test.", kZoneFile);
    REQUIRE(signer->add_key_records(*z, &err));
    z->finalize();
    REQUIRE(signer->sign(*z, kNow, &err));
    z->signer = signer;
    if (compile) compile_answers(*z);
    return z;
}

ZoneDb db_of(std::shared_ptr<Zone> z) {
    ZoneDb db;
    db.add(std::move(z));
    return db;
}

Response ask_at(const ZoneDb& db, const std::vector<uint8_t>& q) {
    QueryContext ctx{true, nullptr, 0};
    ctx.now_s = kNow;
    return ask_with(db, q, EngineConfig{}, ctx);
}

std::vector<uint8_t> query_do(const std::string& name, uint16_t type, bool co = false) {
    QueryOpts o;
    o.edns = 1232;
    o.do_bit = true;
    auto q = make_query(name, type, o);
    if (co) q[q.size() - 4] |= 0x40; // the OPT's flags: DO | CO
    return q;
}

// Checks every RRset of `section` against its RRSIG with ldns, as a validator would, from the zone's DNSKEYs, at
// kNow. Returns how many RRsets verified; fails when one has no RRSIG or a wrong one.
// `unsigned_ok`: RRsets without any RRSIG are skipped (a referral's NS, glue).
size_t verify_section(const Response& r, ldns_pkt_section section, const Keys& keys, bool unsigned_ok = false) {
    REQUIRE(r.pkt);
    ldns_rr_list* rrs = ldns_pkt_get_section_clone(r.pkt, section);
    std::map<std::pair<std::string, int>, ldns_rr_list*> sets;
    std::vector<ldns_rr*> sigs;
    for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
        ldns_rr* rr = ldns_rr_list_rr(rrs, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT) continue;
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG) {
            sigs.push_back(rr);
            continue;
        }
        char* owner = ldns_rdf2str(ldns_rr_owner(rr));
        auto& list = sets[{to_lower(*name_from_text(owner)), ldns_rr_get_type(rr)}];
        std::free(owner);
        if (!list) list = ldns_rr_list_new();
        ldns_rr_list_push_rr(list, rr);
    }
    ldns_rr_list* trusted = ldns_rr_list_new();
    ldns_rr_list_push_rr(trusted, ldns_rr_clone(keys.ksk->dnskey_rr()));
    ldns_rr_list_push_rr(trusted, ldns_rr_clone(keys.zsk->dnskey_rr()));
    size_t verified = 0;
    for (auto& [key, list] : sets) {
        bool ok = false, any = false;
        for (ldns_rr* sig : sigs)
            if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig)) == key.second &&
                ldns_dname_compare(ldns_rr_owner(sig), ldns_rr_owner(ldns_rr_list_rr(list, 0))) == 0) {
                any = true;
                ldns_rr_list* good = ldns_rr_list_new();
                ok = ldns_verify_rrsig_keylist_time(list, sig, trusted, static_cast<time_t>(kNow), good) ==
                     LDNS_STATUS_OK;
                ldns_rr_list_free(good);
            }
        INFO("RRset " << name_to_text(key.first) << " type " << key.second);
        if (any || !unsigned_ok) CHECK(ok);
        verified += ok;
        ldns_rr_list_free(list);
    }
    ldns_rr_list_deep_free(trusted);
    ldns_rr_list_deep_free(rrs);
    return verified;
}

} // namespace

TEST_CASE("compact denial: the NSEC type bitmap is RFC 4034 §4.3's encoding", "[dns][dnssec]") {
    // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
    std::string b = nsec_type_bitmap({47, 1, 15, 46, 1234, 1});
    std::string want("\x00\x06\x40\x01\x00\x00\x00\x03\x04\x1b", 10);
    want.append(std::string(26, '\0'));
    want.push_back('\x20');
    CHECK(b == want);
    CHECK(compact_nsec_rdata(std::string("\3www\0", 5), std::string("\x00\x01\x40", 3)) ==
          std::string("\1\0\3www\0\x00\x01\x40", 10));
    CHECK(compact_nsec_rdata(std::string(254, '\1'), "x").empty()); // no successor name fits
}

TEST_CASE("RRSIG: canonical RDATA lower-cases embedded names of the listed types only", "[dns][dnssec]") {
    CHECK(canonical_rdata(rrtype::MX, std::string("\0\x0a\4MAIL\2Ex\0", 11)) == std::string("\0\x0a\4mail\2ex\0", 11));
    CHECK(canonical_rdata(rrtype::SRV, std::string("\0\1\0\2\0\3\3SIP\0", 11)) ==
          std::string("\0\1\0\2\0\3\3sip\0", 11));
    CHECK(canonical_rdata(rrtype::TXT, "\3ABC") == "\3ABC");
    CHECK(canonical_rdata(kNsecType, std::string("\3WWW\0\0\1\x40", 8)) == std::string("\3WWW\0\0\1\x40", 8));
}

TEST_CASE("zone signer: every authoritative RRset signed and valid; glue and the cut's NS are not", "[dns][dnssec]") {
    auto alg = GENERATE(DnssecAlgorithm::ecdsa_p256_sha256, DnssecAlgorithm::ed25519);
    Keys keys(alg);
    auto z = signed_zone(keys);
    CHECK(z->resign_at == kNow + 7 * 86400);
    const Node* apex = z->apex_node;
    REQUIRE(apex);
    for (uint16_t t : {kDnskeyType, kCdsType, kCdnskeyType}) {
        const RRset* s = apex->find(t);
        REQUIRE(s);
        CHECK(s->sig_count == 1);
    }
    CHECK(apex->find(kDnskeyType)->count == 2);
    size_t signed_sets = 0;
    for (const Node& n : z->node_list())
        for (const RRset& s : n.rrsets) {
            bool glue_or_cut = n.name.find(std::string("\3sub\7example", 12)) != std::string::npos;
            INFO(name_to_text(n.name) << " type " << s.type);
            CHECK(s.sig_count == (glue_or_cut ? 0 : 1));
            signed_sets += s.sig_count;
        }
    CHECK(signed_sets > 25);
    // Through the engine, every answer's RRsets verify with ldns from the DNSKEYs.
    ZoneDb db = db_of(z);
    for (auto [name, type] : {std::pair{"example.test.", rrtype::SOA},
                              {"example.test.", kDnskeyType},
                              {"example.test.", rrtype::MX},
                              {"web.example.test.", rrtype::A},
                              {"alias.example.test.", rrtype::A},
                              {"_sip._udp.example.test.", rrtype::SRV},
                              {"sipsrv.example.test.", rrtype::NAPTR},
                              {"example.test.", kCdsType}}) {
        Response r = ask_at(db, query_do(name, type));
        INFO(name << " " << type);
        CHECK(r.rcode() == 0);
        CHECK(verify_section(r, LDNS_SECTION_ANSWER, keys) >= 1);
    }
}

TEST_CASE("engine: DO=0 answers of a signed zone are the unsigned zone's, byte for byte", "[dns][dnssec]") {
    Keys keys;
    ZoneDb signed_db = db_of(signed_zone(keys));
    auto plain = load_test_zone("example.test.", kZoneFile);
    compile_answers(*plain);
    ZoneDb plain_db = db_of(plain);
    std::vector<std::string> names;
    for (const Node& n : plain->node_list())
        names.push_back(name_to_text(n.name));
    for (const char* extra :
         {"nope.example.test.", "x.apps.example.test.", "a.b.sub.example.test.", "deep.nope.example.test."})
        names.push_back(extra);
    size_t compared = 0;
    for (const auto& name : names)
        for (uint16_t t : {rrtype::A, rrtype::AAAA, rrtype::MX, rrtype::TXT, rrtype::NS, rrtype::SOA, rrtype::DS,
                           rrtype::CNAME, rrtype::ANY, rrtype::SRV}) {
            for (int edns : {-1, 1232}) {
                QueryOpts o;
                o.edns = edns;
                auto q = make_query(name, t, o);
                Response a = ask_at(signed_db, q), b = ask_at(plain_db, q);
                INFO(name << " type " << t << " edns " << edns);
                CHECK(a.wire == b.wire);
                compared++;
            }
        }
    CHECK(compared > 400);
}

TEST_CASE("engine: DO=1 answers — compact denial, CO, wildcards, referrals, the compiled table", "[dns][dnssec]") {
    Keys keys;
    ZoneDb db = db_of(signed_zone(keys));

    SECTION("a name that does not exist: NOERROR, SOA and one NSEC(NXNAME) at the name, all signed") {
        Response r = ask_at(db, query_do("Nope.example.test.", rrtype::A));
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.answer().empty());
        auto ns = r.authority();
        REQUIRE(ns.size() == 4);
        // The owner is the question's name (compressed to it, so in the query's case); the next name is lower case.
        CHECK(ns[2].find("Nope.example.test. 300 IN NSEC \\000.nope.example.test. RRSIG NSEC TYPE128") == 0);
        CHECK(verify_section(r, LDNS_SECTION_AUTHORITY, keys) == 2);
        Response co = ask_at(db, query_do("nope.example.test.", rrtype::A, true));
        CHECK(co.rcode() == rcode::NXDOMAIN);
        CHECK(co.authority().size() == 4);
    }
    SECTION("NODATA: the name's NSEC, signed at load, lists its types") {
        Response r = ask_at(db, query_do("web.example.test.", rrtype::MX));
        CHECK(r.rcode() == rcode::NOERROR);
        auto ns = r.authority();
        REQUIRE(ns.size() == 4);
        CHECK(ns[2] == "web.example.test. 300 IN NSEC \\000.web.example.test. A AAAA SSHFP RRSIG NSEC HTTPS");
        CHECK(verify_section(r, LDNS_SECTION_AUTHORITY, keys) == 2);
        Response ent = ask_at(db, query_do("b.ent.example.test.", rrtype::A));
        REQUIRE(ent.authority().size() == 4);
        CHECK(ent.authority()[2] == "b.ent.example.test. 300 IN NSEC \\000.b.ent.example.test. RRSIG NSEC");
    }
    SECTION("a wildcard answer is signed as the name itself (labels = its own)") {
        Response r = ask_at(db, query_do("x.y.apps.example.test.", rrtype::TXT));
        auto an = r.answer();
        REQUIRE(an.size() == 2);
        CHECK(an[1].find("x.y.apps.example.test. 3600 IN RRSIG TXT 13 5 3600 ") == 0);
        CHECK(verify_section(r, LDNS_SECTION_ANSWER, keys) == 1);
        Response nodata = ask_at(db, query_do("x.apps.example.test.", rrtype::MX));
        REQUIRE(nodata.authority().size() == 4);
        CHECK(nodata.authority()[2] == "x.apps.example.test. 300 IN NSEC \\000.x.apps.example.test. A TXT RRSIG NSEC");
        CHECK(verify_section(nodata, LDNS_SECTION_AUTHORITY, keys) == 2);
    }
    SECTION("a referral to an unsigned child carries the signed NSEC proving it has no DS") {
        Response r = ask_at(db, query_do("www.sub.example.test.", rrtype::A));
        CHECK_FALSE(r.flag_aa());
        auto ns = r.authority();
        REQUIRE(ns.size() == 4);
        CHECK(ns[1].find(" IN NS ") != std::string::npos);
        CHECK(ns[2] == "sub.example.test. 300 IN NSEC \\000.sub.example.test. NS RRSIG NSEC");
        CHECK(verify_section(r, LDNS_SECTION_AUTHORITY, keys, true) == 1);
        Response ds = ask_at(db, query_do("sub.example.test.", rrtype::DS));
        CHECK(ds.flag_aa());
        REQUIRE(ds.authority().size() == 4);
        CHECK(ds.authority()[2] == "sub.example.test. 300 IN NSEC \\000.sub.example.test. NS RRSIG NSEC");
        CHECK(verify_section(ds, LDNS_SECTION_AUTHORITY, keys) == 2);
    }
    SECTION("the pre-rendered DO=1 answers, NODATA included, are what the engine answers itself") {
        // One zone (its load-time signatures made once), asked with its DO=1 table and with the table set aside:
        // every type each name holds, types it lacks (NODATA from the table), DNSSEC's own types (the engine's),
        // in mixed case and for a small UDP buffer too, with either kind of denial.
        for (DenialMode denial : {DenialMode::compact, DenialMode::nsec}) {
            auto z = signed_zone(keys, true, denial);
            ZoneDb zdb = db_of(z);
            CHECK(z->signed_answers.names() > 10);
            size_t compared = 0, nodata_fast = 0;
            for (const Node& n : z->node_list()) {
                std::vector<uint16_t> types = {rrtype::A,   rrtype::AAAA, rrtype::MX,  rrtype::TXT,   rrtype::CAA,
                                               rrtype::SRV, rrtype::DS,   rrtype::NS,  kNsecType,     rrtype::RRSIG,
                                               kDnskeyType, kCdsType,     rrtype::ANY, rrtype::CNAME, 65280};
                for (const RRset& s : n.rrsets)
                    types.push_back(s.type);
                std::string text = name_to_text(n.name);
                for (size_t i = 0; i < text.size(); i += 2)
                    text[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
                for (uint16_t t : types)
                    for (int edns : {1232, 512}) {
                        auto q = query_do(text, t);
                        q[q.size() - 8] = static_cast<uint8_t>(edns >> 8); // the OPT's UDP size
                        q[q.size() - 7] = static_cast<uint8_t>(edns);
                        AnswerTable::Hit hit;
                        if (z->signed_answers.find(n.name, name_hash(n.name), t, &hit) == AnswerTable::Match::nodata &&
                            hit.len > 0)
                            nodata_fast++;
                        Response fast = ask_at(zdb, q);
                        AnswerTable table = std::move(z->signed_answers);
                        z->signed_answers = AnswerTable{};
                        Response slow = ask_at(zdb, q);
                        z->signed_answers = std::move(table);
                        INFO(text << " type " << t << " edns " << edns << " denial " << int(denial));
                        CHECK(fast.wire == slow.wire);
                        compared++;
                    }
            }
            CHECK(compared > 300);
            CHECK(nodata_fast > 20); // the table does answer NODATA
        }
    }
}

TEST_CASE("zone signer: refuses a zone that is signed already, and keys of another zone", "[dns][dnssec]") {
    Keys keys;
    std::string err;
    auto signer = ZoneSigner::make(keys.ksk, keys.zsk, {}, &err);
    REQUIRE(signer);
    auto z = load_test_zone("example.test.", kZoneFile);
    Node& n = z->node(std::string("\3www\7example\4test\0", 18));
    n.rrsets.push_back(RRset{rrtype::RRSIG, 60, 1, std::string("\0\1\0", 3), {}, 0});
    CHECK_FALSE(signer->add_key_records(*z, &err));
    CHECK(err.find("signed already") != std::string::npos);
    auto other = DnssecKey::generate("other.test", DnssecAlgorithm::ecdsa_p256_sha256, false, &err);
    CHECK_FALSE(ZoneSigner::make(keys.ksk, std::move(other), {}, &err));
    CHECK(err.find("other.test.") != std::string::npos);
    ZoneSigningPolicy p;
    p.refresh_s = p.validity_s;
    CHECK_FALSE(ZoneSigner::make(keys.ksk, keys.zsk, p, &err));
}

TEST_CASE("signature cache: per-query signatures reused within a signing, for an hour, for the same records",
          "[dns][dnssec]") {
    SignatureCache c;
    std::string owner("\4nope\7example\4test\0", 19), recs("\0\3abc", 5), sigs("\0\2xy", 4);
    CHECK(c.find(7, owner, kNsecType, 300, recs, kNow).empty()); // nothing allocated yet, nothing found
    c.store(7, owner, kNsecType, 300, recs, sigs, kNow);
    CHECK(c.find(7, owner, kNsecType, 300, recs, kNow + 10) == sigs);
    CHECK(c.find(8, owner, kNsecType, 300, recs, kNow).empty());      // another signing (a reload)
    CHECK(c.find(7, owner, kNsecType, 301, recs, kNow).empty());      // another TTL
    CHECK(c.find(7, owner, rrtype::A, 300, recs, kNow).empty());      // another type
    CHECK(c.find(7, owner, kNsecType, 300, "\0\3abd", kNow).empty()); // other records
    CHECK(c.find(7, owner, kNsecType, 300, recs, kNow + SignatureCache::kReuseSeconds).empty()); // too old
    CHECK(c.find(7, owner, kNsecType, 300, recs, kNow - 1).empty());                             // clock went back
    c.store(0, owner, kNsecType, 300, recs, sigs, kNow); // an unsigned zone's id: not kept
    CHECK(c.find(0, owner, kNsecType, 300, recs, kNow).empty());
}

TEST_CASE("engine: a name that does not exist is signed once per thread, then answered from the cache",
          "[dns][dnssec]") {
    Keys keys;
    auto z = signed_zone(keys);
    ZoneDb db = db_of(z);
    SignatureCache cache;
    QueryContext ctx{true, nullptr, 0};
    ctx.now_s = kNow;
    ctx.signatures = &cache;
    auto q = query_do("nope.example.test.", rrtype::A);
    Response a = ask_with(db, q, EngineConfig{}, ctx), b = ask_with(db, q, EngineConfig{}, ctx);
    CHECK(a.wire == b.wire); // ECDSA signatures differ each time: equal bytes mean the cached one
    CHECK(verify_section(b, LDNS_SECTION_AUTHORITY, keys) == 2);
    Response c = ask_at(db, q); // without the cache: signed again
    CHECK(c.wire != a.wire);
    CHECK(verify_section(c, LDNS_SECTION_AUTHORITY, keys) == 2);
    auto w = query_do("q.apps.example.test.", rrtype::A);
    Response w1 = ask_with(db, w, EngineConfig{}, ctx), w2 = ask_with(db, w, EngineConfig{}, ctx);
    CHECK(w1.wire == w2.wire);
    CHECK(verify_section(w2, LDNS_SECTION_ANSWER, keys) == 1);
}
