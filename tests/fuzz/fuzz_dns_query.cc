// libFuzzer harness for meridian-dns's query path: arbitrary bytes into dns::answer_query over UDP and TCP against
// the example zone (DNSSEC-signed, so DO=1 queries reach RRSIGs, compact denial and signing per query) and the
// RFC 4592 zone (unsigned). A malformed query must get FORMERR (or be dropped), and no answer may exceed the
// buffer it was given or the client's UDP size.
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>

#include "dns/dnssec/zone_signer.h"
#include "dns/engine/answer_compiler.h"
#include "dns/engine/query_engine.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/query.h"
#include "dns/zone/zone_loader.h"

// The query path is compiled into this file so libFuzzer's coverage instrumentation sees it (the fuzz build
// instruments only the harness, not the libraries); the linker then leaves those members of dns_core out.
#include "dns/dnssec/compact_denial.cc"
#include "dns/dnssec/rrsig.cc"
#include "dns/dnssec/zone_signer.cc"
#include "dns/engine/answer_compiler.cc"
#include "dns/engine/query_engine.cc"
#include "dns/engine/rr_writer.cc"
#include "dns/wire/dns_constants.cc"
#include "dns/wire/dns_name.cc"
#include "dns/wire/query.cc"
#include "dns/wire/tsig.cc"
#include "dns/wire/wire_writer.cc"
#include "dns/zone/zone_db.cc"

namespace {

// The source tree, from the build (tests/fuzz/CMakeLists.txt): __FILE__ is not reliable, a compiler cache may make
// it relative.
std::string source_root() {
    return MERIDIAN_SOURCE_DIR;
}

const dns::ZoneDb& db() {
    static dns::ZoneDb d = [] {
        dns::ZoneDb out;
        shared::ConfigDiagnostics diags;
        std::string src = source_root();
        auto a = dns::load_zone_file("example.test.", src + "/conf/examples/zones/example.test.zone", diags);
        auto b = dns::load_zone_file("example.", src + "/tests/dns/data/rfc4592.example.zone", diags);
        if (!a || !b) std::abort();
        std::string err;
        std::shared_ptr<const dns::DnssecKey> ksk = dns::DnssecKey::generate(
            "example.test.", dns::DnssecAlgorithm::ecdsa_p256_sha256, true, &err);
        std::shared_ptr<const dns::DnssecKey> zsk =
            dns::DnssecKey::generate("example.test.", dns::DnssecAlgorithm::ed25519, false, &err);
        std::shared_ptr<const dns::ZoneSigner> signer = dns::ZoneSigner::make(ksk, zsk, {}, &err);
        if (!signer || !signer->add_key_records(*a, &err)) std::abort();
        a->finalize();
        if (!signer->sign(*a, 1796450000, &err)) std::abort();
        a->signer = signer;
        dns::compile_answers(*a); // the pre-rendered path, as the server runs it
        out.add(a);
        out.add(b);
        return out;
    }();
    return d;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static dns::EngineConfig cfg = [] {
        dns::EngineConfig c;
        c.chaos_id = "fuzz";
        c.nsid = "fuzz-nsid";
        // TSIG keys, so a record named k. (the seed corpus has signed queries) reaches the MAC and time checks.
        std::string err;
        for (const char* alg : {"hmac-sha256", "hmac-md5"}) {
            auto k = dns::make_tsig_key(std::string(alg) == "hmac-md5" ? "m." : "k.", alg,
                                        "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE=", 0, &err);
            if (!k) std::abort();
            c.tsig_keys.push_back(*k);
        }
        return c;
    }();
    static uint8_t out[65536 + 64];
    dns::ParsedQuery q;
    dns::QueryStatus st = dns::parse_query(data, size, &q);
    for (int tcp = 0; tcp < 2; tcp++) {
        for (size_t cap : {size_t(65535), size_t(512), size_t(100)}) {
            for (size_t i = cap; i < cap + 64; i++) out[i] = 0xA5;
            dns::QueryContext ctx;
            ctx.tcp = tcp != 0;
            ctx.now_s = 1796450000; // the seeds' signing time: inside the fudge, so signed answers are built too
            dns::AnswerInfo info;
            size_t n = dns::answer_query(db(), cfg, ctx, data, size, out, cap, &info);
            if (n > cap) __builtin_trap();
            for (size_t i = cap; i < cap + 64; i++)
                if (out[i] != 0xA5) __builtin_trap();
            if (!tcp && st == dns::QueryStatus::ok) {
                size_t limit = q.edns ? std::max<size_t>(512, std::min<size_t>(q.udp_size, cfg.edns_buffer_size)) : 512;
                if (n > limit) __builtin_trap();
            }
            if (st == dns::QueryStatus::drop && n != 0) __builtin_trap();
            if (st == dns::QueryStatus::formerr && n != 0 && (out[3] & 0x0F) != dns::rcode::FORMERR) __builtin_trap();
            if (n >= 12 && (out[2] & 0x80) == 0) __builtin_trap(); // every answer has QR=1
            if (n != 0 && n < 12) __builtin_trap();
        }
    }
    return 0;
}
