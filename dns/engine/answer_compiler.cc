#include "dns/engine/answer_compiler.h"

#include <cstring>
#include <memory>

#include "dns/engine/query_engine.h"
#include "dns/wire/dns_constants.h"

namespace dns {

namespace {

constexpr size_t kOptLen = 11; // an OPT record without options

// The query an answer stands for: header (QDCOUNT 1), `name` (lower-case wire, at most kMaxNameLen), type, class IN,
// and with `dnssec` an OPT record with DO set (the answer then ends with our OPT, kOptLen bytes). Returns the
// length of the header and question.
size_t make_query(uint8_t* q, std::string_view name, uint16_t type, bool dnssec = false) {
    std::memset(q, 0, 12);
    q[5] = 1;
    std::memcpy(q + 12, name.data(), name.size());
    size_t end = 12 + name.size();
    q[end] = static_cast<uint8_t>(type >> 8);
    q[end + 1] = static_cast<uint8_t>(type);
    q[end + 2] = 0;
    q[end + 3] = static_cast<uint8_t>(rrclass::IN);
    if (dnssec) {
        static const uint8_t opt[kOptLen] = {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0};
        std::memcpy(q + end + 4, opt, kOptLen);
        q[11] = 1;
    }
    return end + 4;
}

// Walks the name at p[pos] (moving pos past it), appending the offset of its compression pointer if it ends in one;
// false when malformed.
bool walk_name(const uint8_t* p, size_t len, size_t& pos, std::vector<uint16_t>* ptrs) {
    while (pos < len) {
        uint8_t l = p[pos];
        if ((l & 0xC0) == 0xC0) {
            if (pos + 2 > len) return false;
            ptrs->push_back(static_cast<uint16_t>(pos));
            pos += 2;
            return true;
        }
        if (l & 0xC0) return false;
        pos += 1u + l;
        if (l == 0) return true;
    }
    return false;
}

// Walks one rendered RR at p[pos], appending the offsets of every compression pointer in it (the owner, an SOA's
// two names, an RRSIG's signer); *type is its type. False when malformed or of another type than SOA and RRSIG.
bool walk_rr(const uint8_t* p, size_t len, size_t& pos, std::vector<uint16_t>* ptrs, uint16_t* type) {
    if (!walk_name(p, len, pos, ptrs) || pos + 10 > len) return false;
    *type = static_cast<uint16_t>((p[pos] << 8) | p[pos + 1]);
    size_t rdend = pos + 10 + ((p[pos + 8] << 8) | p[pos + 9]);
    pos += 10;
    if (rdend > len) return false;
    if (*type == rrtype::SOA) {
        if (!walk_name(p, rdend, pos, ptrs) || !walk_name(p, rdend, pos, ptrs) || pos + 20 != rdend) return false;
    } else if (*type == rrtype::RRSIG) {
        pos += 18;
        if (pos > rdend || !walk_name(p, rdend, pos, ptrs)) return false;
    } else {
        return false;
    }
    pos = rdend;
    return true;
}

// The zone's negative authority, rendered by the engine for a NODATA question at the apex (see
// AnswerTable::set_negative): the SOA, and with `dnssec` (DO=1) its RRSIG, the first two of the answer's records.
void compile_negative(const ZoneDb& db, const Zone& zone, bool dnssec, AnswerTable* table) {
    const Node* apex = zone.apex_node;
    if (!apex || zone.apex.size() > kMaxNameLen) return;
    uint16_t type = 0;
    for (uint16_t t : {uint16_t(65280), uint16_t(65281), uint16_t(65282)}) // private-use types (RFC 6895)
        if (!apex->find(t)) {
            type = t;
            break;
        }
    if (!type) return;
    uint8_t query[12 + kMaxNameLen + 4 + kOptLen];
    size_t qend = make_query(query, zone.apex, type, dnssec);
    uint8_t out[4096];
    AnswerInfo info;
    EngineConfig cfg;
    QueryContext ctx{true, nullptr, 0};
    size_t n = answer_query(db, cfg, ctx, query, qend + (dnssec ? kOptLen : 0), out, sizeof out, &info);
    auto u16 = [&](size_t o) { return static_cast<uint16_t>((out[o] << 8) | out[o + 1]); };
    uint16_t want_ns = dnssec ? 4 : 1, want_ar = dnssec ? 1 : 0; // DO=1: SOA, RRSIG, NSEC, RRSIG; and our OPT
    if (n <= qend || info.rcode != rcode::NOERROR || !(u16(2) & flag::AA) || u16(6) != 0 || u16(8) != want_ns ||
        u16(10) != want_ar)
        return;
    std::vector<uint16_t> ptrs;
    size_t pos = 0, len = n - qend;
    uint16_t t1 = 0, t2 = 0;
    if (!walk_rr(out + qend, len, pos, &ptrs, &t1) || t1 != rrtype::SOA) return;
    if (dnssec && (!walk_rr(out + qend, len, pos, &ptrs, &t2) || t2 != rrtype::RRSIG)) return;
    if (!dnssec && pos != len) return;
    for (uint16_t p : ptrs) { // every pointer must land in the question's apex or in these bytes, never in the header
        size_t target = ((out[qend + p] & 0x3F) << 8) | out[qend + p + 1];
        if (target < 12 || (target >= qend - 4 && target < qend) || target >= qend + pos) return;
    }
    table->set_negative(std::string(reinterpret_cast<const char*>(out + qend), pos), std::move(ptrs), zone.apex.size(),
                        dnssec ? 2 : 1);
}

// A DO=1 table's NODATA entry for `node` (complete: every type it holds compiled): the engine's NODATA answer to a
// type the name lacks, when it is the table's negative() relocated to this name and then records of their own (the
// name's NSEC and its RRSIG), which are then kept. Any other shape is left to the engine. The question's length
// does not depend on the type asked, so the bytes, pointers included, are those of every type the name lacks.
bool compile_nodata(const ZoneDb& db, const Node& node, const AnswerTable& table, uint8_t* out, size_t cap,
                    std::string* bytes, uint16_t* ns) {
    std::string_view neg = table.negative();
    if (neg.empty()) return false;
    uint16_t type = 0;
    for (uint16_t t : {uint16_t(65280), uint16_t(65281), uint16_t(65282)})
        if (!node.find(t)) {
            type = t;
            break;
        }
    if (!type) return false;
    uint8_t query[12 + kMaxNameLen + 4 + kOptLen];
    size_t qend = make_query(query, node.name, type, true);
    AnswerInfo info;
    EngineConfig cfg;
    QueryContext ctx{true, nullptr, 0};
    size_t n = answer_query(db, cfg, ctx, query, qend + kOptLen, out, cap, &info);
    auto u16 = [&](size_t o) { return static_cast<uint16_t>((out[o] << 8) | out[o + 1]); };
    if (n < qend + neg.size() + kOptLen || info.kind != AnswerKind::answered || info.rcode != rcode::NOERROR ||
        info.truncated || !(u16(2) & flag::AA) || u16(6) != 0 || u16(8) <= table.negative_count() || u16(10) != 1 ||
        out[n - kOptLen + 2] != 41)
        return false;
    std::string soa(neg);
    table.relocate_negative(reinterpret_cast<uint8_t*>(soa.data()), node.name.size());
    if (std::memcmp(out + qend, soa.data(), soa.size()) != 0) return false;
    bytes->assign(reinterpret_cast<const char*>(out + qend + soa.size()), n - kOptLen - qend - soa.size());
    *ns = static_cast<uint16_t>(u16(8) - table.negative_count());
    return true;
}

// The table of every direct name's answers, as the engine gives them (to DO=1 queries when `dnssec`).
AnswerTable compile_table(const ZoneDb& db, const Zone& zone, bool dnssec, CompileStats* st) {
    EngineConfig cfg;
    QueryContext ctx{true, nullptr, 0}; // "TCP": the full answer, never truncated for a UDP size
    std::unique_ptr<uint8_t[]> out(new uint8_t[65535]);
    uint8_t query[12 + kMaxNameLen + 4 + kOptLen];
    AnswerTable table;
    size_t candidates = 0;
    for (const Node& node : zone.node_list())
        candidates += node.direct && (!node.empty() || node.steer != kNotSteered);
    table.reserve(candidates);
    // A DO=1 table's NODATA entries start with the signed SOA, relocated per name.
    if (dnssec) compile_negative(db, zone, true, &table);
    std::vector<std::string> bytes;
    std::vector<AnswerTable::Answer> answers;
    std::string nodata_bytes;
    for (const Node& node : zone.node_list()) {
        const std::string& name = node.name;
        if (!node.direct || name.size() > kMaxNameLen) continue;
        bytes.clear();
        answers.clear();
        for (const RRset& set : node.rrsets) {
            size_t qend = make_query(query, name, set.type, dnssec);
            AnswerInfo info;
            size_t n = answer_query(db, cfg, ctx, query, qend + (dnssec ? kOptLen : 0), out.get(), 65535, &info);
            if (n <= qend || info.kind != AnswerKind::answered || info.rcode != rcode::NOERROR || info.truncated)
                continue;
            auto u16 = [&](size_t o) { return static_cast<uint16_t>((out[o] << 8) | out[o + 1]); };
            uint16_t flags = u16(2), an = u16(6), ns = u16(8), ar = u16(10);
            if (dnssec) { // the answer's own OPT is added per query
                if (ar == 0 || n < qend + kOptLen || out[n - kOptLen + 2] != 41) continue;
                n -= kOptLen;
                ar--;
            }
            // Exactly this RRset, authoritative, nothing in authority: otherwise not the case the fast path copies.
            uint16_t want = static_cast<uint16_t>(set.count + (dnssec ? set.sig_count : 0));
            if (!(flags & flag::AA) || an != want || ns != 0 || n - qend > 0xFFFF) continue;
            bytes.emplace_back(reinterpret_cast<const char*>(out.get() + qend), n - qend);
            answers.push_back(AnswerTable::Answer{set.type, an, ar, {}});
        }
        // Steered addresses are decided per query; the entry only spares the engine the walk to the name.
        if (node.steer != kNotSteered)
            for (uint16_t t : {rrtype::A, rrtype::AAAA}) {
                bool static_data = false; // a type the name does not steer, answered from the zone
                for (const auto& a : answers)
                    static_data |= a.type == t;
                if (static_data) continue;
                bytes.emplace_back();
                answers.push_back(AnswerTable::Answer{t, 0, 0, {}});
            }
        if (answers.empty()) continue;
        // Every type the name holds has its answer here: any other type is NODATA (steered names ask the hook).
        bool complete = node.steer == kNotSteered && answers.size() == node.rrsets.size();
        for (size_t i = 0; i < answers.size(); i++)
            answers[i].bytes = bytes[i];
        uint16_t nodata_ns = 0;
        bool nodata =
            dnssec && complete && compile_nodata(db, node, table, out.get(), 65535, &nodata_bytes, &nodata_ns);
        AnswerTable::Answer nd{0, nodata_ns, 0, nodata_bytes};
        table.add(name, name_hash(name), answers, complete, nodata ? &nd : nullptr);
        st->compiled += answers.size();
    }
    if (!dnssec) compile_negative(db, zone, false, &table);
    table.shrink();
    return table;
}

} // namespace

CompileStats compile_answers(Zone& zone) {
    CompileStats st;
    if (!zone.finalized()) zone.finalize();
    // A database holding just this zone (not owned: the zone outlives the call).
    ZoneDb db;
    db.add(std::shared_ptr<const Zone>(&zone, [](const Zone*) {}));
    // Built aside and installed at the end: while compiling, the engine must not look in a half-built table.
    zone.answers = AnswerTable{};
    zone.signed_answers = AnswerTable{};
    AnswerTable plain = compile_table(db, zone, false, &st);
    AnswerTable signed_table;
    if (zone.signer) signed_table = compile_table(db, zone, true, &st);
    zone.answers = std::move(plain);
    zone.signed_answers = std::move(signed_table);
    st.bytes = zone.answers.memory_bytes() + zone.signed_answers.memory_bytes();
    return st;
}

} // namespace dns
