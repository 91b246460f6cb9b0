#include "dns_test_util.h"

#include "dns/engine/answer_compiler.h"

#include <catch2/catch.hpp>

#include "dns/wire/dns_name.h"
#include "dns/zone/zone_loader.h"

namespace dns::test {

std::vector<uint8_t> make_query(const std::string& name, uint16_t qtype, const QueryOpts& o) {
    std::vector<uint8_t> q;
    auto u16 = [&](uint16_t v) {
        q.push_back(static_cast<uint8_t>(v >> 8));
        q.push_back(static_cast<uint8_t>(v));
    };
    u16(o.id);
    u16(o.flags);
    u16(1);
    u16(0);
    u16(0);
    u16(o.edns >= 0 ? 1 : 0);
    // Keep the letter case: name_from_text lower-cases, so encode by hand.
    std::string label;
    for (size_t i = 0; i <= name.size(); i++) {
        if (i == name.size() || name[i] == '.') {
            if (!label.empty()) {
                q.push_back(static_cast<uint8_t>(label.size()));
                q.insert(q.end(), label.begin(), label.end());
            }
            label.clear();
        } else {
            label += name[i];
        }
    }
    q.push_back(0);
    u16(qtype);
    u16(o.qclass);
    if (o.edns >= 0) {
        q.push_back(0);
        u16(41);
        u16(static_cast<uint16_t>(o.edns));
        q.push_back(0);
        q.push_back(o.version);
        u16(o.do_bit ? 0x8000 : 0);
        u16(static_cast<uint16_t>(o.options.size()));
        q.insert(q.end(), o.options.begin(), o.options.end());
    }
    return q;
}

Response::~Response() {
    if (pkt) ldns_pkt_free(pkt);
}

int Response::rcode() const {
    if (!pkt) return -1;
    return ldns_pkt_get_rcode(pkt) | (ldns_pkt_edns_extended_rcode(pkt) << 4);
}
bool Response::flag_aa() const { return pkt && ldns_pkt_aa(pkt); }
bool Response::flag_tc() const { return pkt && ldns_pkt_tc(pkt); }
bool Response::has_opt() const { return pkt && ldns_pkt_edns(pkt); }

std::vector<std::string> Response::section(ldns_pkt_section s) const {
    std::vector<std::string> out;
    if (!pkt) return out;
    ldns_rr_list* l = s == LDNS_SECTION_ANSWER      ? ldns_pkt_answer(pkt)
                      : s == LDNS_SECTION_AUTHORITY ? ldns_pkt_authority(pkt)
                                                    : ldns_pkt_additional(pkt);
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        char* str = ldns_rr2str(ldns_rr_list_rr(l, i));
        std::string t(str);
        free(str);
        for (auto& c : t)
            if (c == '\t') c = ' ';
        while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
        out.push_back(t);
    }
    return out;
}

Response ask(const ZoneDb& db, const std::vector<uint8_t>& query, const EngineConfig& cfg, bool tcp, size_t cap) {
    QueryContext ctx;
    ctx.tcp = tcp;
    return ask_with(db, query, cfg, ctx, cap);
}

Response ask_with(const ZoneDb& db, const std::vector<uint8_t>& query, const EngineConfig& cfg,
                  const QueryContext& ctx, size_t cap) {
    Response r;
    std::vector<uint8_t> out(cap + 16, 0xEE);
    size_t n = answer_query(db, cfg, ctx, query.data(), query.size(), out.data(), cap, &r.info);
    REQUIRE(n <= cap);
    for (size_t i = cap; i < cap + 16; i++) REQUIRE(out[i] == 0xEE); // never writes past the buffer
    r.wire.assign(out.begin(), out.begin() + static_cast<long>(n));
    if (n) r.status = ldns_wire2pkt(&r.pkt, r.wire.data(), r.wire.size());
    return r;
}

std::shared_ptr<Zone> load_test_zone(const std::string& origin, const std::string& path) {
    shared::ConfigDiagnostics diags;
    auto z = load_zone_file(origin, path, diags);
    INFO(diags.to_string());
    REQUIRE(z);
    return z;
}

const ZoneDb& test_db() {
    static ZoneDb db = [] {
        // Compiled as the server does, so the engine tests exercise the pre-rendered path too
        // (test_answer_compiler.cc compares it with the engine's own answers).
        ZoneDb d;
        for (auto [origin, file] : {std::pair{"example.test.", "/conf/examples/zones/example.test.zone"},
                                    std::pair{"example.", "/tests/dns/data/rfc4592.example.zone"}}) {
            auto z = load_test_zone(origin, std::string(MERIDIAN_SRC) + file);
            compile_answers(*z);
            d.add(z);
        }
        return d;
    }();
    return db;
}

} // namespace dns::test
