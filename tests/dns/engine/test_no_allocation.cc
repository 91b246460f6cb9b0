// The hot path makes no heap allocation (issue 4 item 6): operator new is counted while answer_query runs.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <new>

#include "dns/dns_test_util.h"
#include "dns/dnssec/compact_denial.h"
#include "dns/dnssec/signature_cache.h"
#include "dns/dnssec/zone_signer.h"
#include "dns/engine/answer_compiler.h"
#include "dns/wire/dns_constants.h"

namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
} // namespace

// Replaces the global (unaligned) allocation functions for this test binary, every form of them so new and delete
// always pair under ASan; they only count while g_counting is set.
void* operator new(size_t n) {
    if (g_counting) g_allocations++;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t n) {
    if (g_counting) g_allocations++;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    if (g_counting) g_allocations++;
    return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
    if (g_counting) g_allocations++;
    return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
    std::free(p);
}

using namespace dns;

TEST_CASE("answering a query allocates nothing", "[dns][engine][alloc]") {
    const ZoneDb& db = test::test_db();
    EngineConfig cfg;
    cfg.nsid = "x";
    cfg.chaos_id = "id";
    test::QueryOpts e;
    e.edns = 1232;
    e.options = {0, 3, 0, 0, 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2};
    std::vector<std::vector<uint8_t>> queries = {test::make_query("alias.example.test", rrtype::A),
                                                 test::make_query("example.test", rrtype::MX, e),
                                                 test::make_query("nope.example.test", rrtype::A, e),
                                                 test::make_query("host3.example", rrtype::MX),
                                                 test::make_query("x.sub.example.test", rrtype::A),
                                                 test::make_query("big.example", rrtype::TXT),
                                                 test::make_query("loop1.example", rrtype::A),
                                                 test::make_query("example.org", rrtype::A),
                                                 test::make_query("b.ent.example.test", rrtype::AAAA, e),
                                                 test::make_query("example.test", rrtype::ANY)};
    std::vector<uint8_t> out(65535);
    // The counter itself works (so the zero below means something).
    g_allocations = 0;
    g_counting = true;
    auto* probe = new std::vector<int>(3);
    g_counting = false;
    delete probe;
    REQUIRE(g_allocations >= 1);
    for (const auto& q : queries) {
        AnswerInfo info;
        QueryContext ctx;
        g_allocations = 0;
        g_counting = true;
        size_t n = answer_query(db, cfg, ctx, q.data(), q.size(), out.data(), out.size(), &info);
        g_counting = false;
        CHECK(n > 0);
        CHECK(g_allocations == 0);
    }
}

TEST_CASE("a signed query allocates nothing in our code (after the thread's first HMAC)",
          "[dns][engine][alloc][tsig]") {
    // OpenSSL's own allocations go through malloc, which this counter does not see; this checks the engine, the
    // TSIG check and signer (fixed storage), not OpenSSL's internals.
    const ZoneDb& db = test::test_db();
    EngineConfig cfg;
    std::string err;
    auto key = make_tsig_key("k.", "hmac-sha256", "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE=", 0, &err);
    REQUIRE(key);
    cfg.tsig_keys.push_back(*key);
    uint64_t now = 1'790'000'000;
    std::vector<uint8_t> out(65535);
    for (int round = 0; round < 2; round++) {
        for (uint16_t qtype : {rrtype::A, rrtype::MX}) {
            auto q = test::make_query("web.example.test", qtype);
            size_t len = q.size();
            q.resize(len + 256);
            q.resize(tsig_sign_request(q.data(), len, q.size(), *key, now));
            AnswerInfo info;
            QueryContext ctx;
            ctx.now_s = now;
            g_allocations = 0;
            g_counting = true;
            size_t n = answer_query(db, cfg, ctx, q.data(), q.size(), out.data(), out.size(), &info);
            g_counting = false;
            CHECK(n > 0);
            CHECK(info.tsig_key != nullptr);
            if (round == 1) CHECK(g_allocations == 0);
        }
    }
}

TEST_CASE("a DO=1 query to a signed zone allocates nothing (a name that does not exist: once it is cached)",
          "[dns][engine][alloc][dnssec]") {
    std::string err;
    std::shared_ptr<const DnssecKey> ksk =
        DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, true, &err);
    std::shared_ptr<const DnssecKey> zsk =
        DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, false, &err);
    std::shared_ptr<const ZoneSigner> signer = ZoneSigner::make(ksk, zsk, {}, &err);
    REQUIRE(signer);
    auto z =
        test::load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    REQUIRE(signer->add_key_records(*z, &err));
    z->finalize();
    uint64_t now = 1'790'000'000;
    REQUIRE(signer->sign(*z, now, &err));
    z->signer = signer;
    compile_answers(*z);
    ZoneDb db;
    db.add(z);
    test::QueryOpts o;
    o.edns = 1232;
    o.do_bit = true;
    SignatureCache cache;
    std::vector<uint8_t> out(65535);
    for (int round = 0; round < 2; round++) {
        for (auto [name, type] : {std::pair{"web.example.test", rrtype::A},
                                  {"web.example.test", rrtype::MX},
                                  {"alias.example.test", rrtype::A},
                                  {"nope.example.test", rrtype::A},
                                  {"x.apps.example.test", rrtype::TXT},
                                  {"www.sub.example.test", rrtype::A},
                                  {"example.test", kDnskeyType}}) {
            auto q = test::make_query(name, type, o);
            AnswerInfo info;
            QueryContext ctx;
            ctx.now_s = now;
            ctx.signatures = &cache;
            g_allocations = 0;
            g_counting = true;
            size_t n = answer_query(db, EngineConfig{}, ctx, q.data(), q.size(), out.data(), out.size(), &info);
            g_counting = false;
            CHECK(n > 0);
            INFO(name << " " << type << " round " << round);
            if (round == 1) CHECK(g_allocations == 0); // round 0 signs (and allocates) what exists only per query
        }
    }
}

TEST_CASE("with an NSEC chain every DO=1 answer is made at load: none signs or allocates, even the first",
          "[dns][engine][alloc][dnssec]") {
    std::string err;
    std::shared_ptr<const DnssecKey> ksk =
        DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, true, &err);
    ZoneSigningPolicy policy;
    policy.denial = DenialMode::nsec;
    std::shared_ptr<const ZoneSigner> signer = ZoneSigner::make(ksk, nullptr, policy, &err);
    REQUIRE(signer);
    auto z =
        test::load_test_zone("example.test.", std::string(MERIDIAN_SRC) + "/conf/examples/zones/example.test.zone");
    REQUIRE(signer->add_key_records(*z, &err));
    z->finalize();
    uint64_t now = 1'790'000'000;
    REQUIRE(signer->sign(*z, now, &err));
    z->signer = signer;
    compile_answers(*z);
    ZoneDb db;
    db.add(z);
    test::QueryOpts o;
    o.edns = 1232;
    o.do_bit = true;
    std::vector<uint8_t> out(65535);
    // No signature cache: a signature made per query would allocate (and fail the check) in this first round.
    for (auto [name, type] : {std::pair{"nope.example.test", rrtype::A},
                              {"deep.nope.example.test", rrtype::AAAA},
                              {"x.apps.example.test", rrtype::TXT},
                              {"q.apps.example.test", rrtype::MX},
                              {"b.ent.example.test", rrtype::A},
                              {"web.example.test", rrtype::MX},
                              {"www.sub.example.test", rrtype::A}}) {
        auto q = test::make_query(name, type, o);
        AnswerInfo info;
        QueryContext ctx;
        ctx.now_s = now;
        g_allocations = 0;
        g_counting = true;
        size_t n = answer_query(db, EngineConfig{}, ctx, q.data(), q.size(), out.data(), out.size(), &info);
        g_counting = false;
        INFO(name << " " << type);
        CHECK(n > 0);
        CHECK(g_allocations == 0);
    }
}
