#include "dns/engine/answer_compiler.h"

#include <cstring>
#include <memory>

#include "dns/engine/query_engine.h"
#include "dns/wire/dns_constants.h"

namespace dns {

CompileStats compile_answers(Zone& zone) {
    CompileStats st;
    if (!zone.finalized()) zone.finalize();
    // A database holding just this zone (not owned: the zone outlives the call).
    ZoneDb db;
    db.add(std::shared_ptr<const Zone>(&zone, [](const Zone*) {}));
    EngineConfig cfg;
    QueryContext ctx{true, nullptr, 0}; // "TCP": the full answer, never truncated for a UDP size
    std::unique_ptr<uint8_t[]> out(new uint8_t[65535]);
    uint8_t query[12 + kMaxNameLen + 4];
    // Built aside and installed at the end: while compiling, the engine must not look in a half-built table.
    zone.answers = AnswerTable{};
    AnswerTable table;
    size_t candidates = 0;
    for (const Node& node : zone.node_list()) candidates += node.direct && (!node.empty() || node.steer != kNotSteered);
    table.reserve(candidates);
    std::vector<std::string> bytes;
    std::vector<AnswerTable::Answer> answers;
    for (const Node& node : zone.node_list()) {
        const std::string& name = node.name;
        if (!node.direct || name.size() > kMaxNameLen) continue;
        bytes.clear();
        answers.clear();
        for (const RRset& set : node.rrsets) {
            std::memset(query, 0, 12);
            query[5] = 1; // QDCOUNT
            std::memcpy(query + 12, name.data(), name.size());
            size_t qend = 12 + name.size();
            query[qend] = static_cast<uint8_t>(set.type >> 8);
            query[qend + 1] = static_cast<uint8_t>(set.type);
            query[qend + 2] = 0;
            query[qend + 3] = static_cast<uint8_t>(rrclass::IN);
            qend += 4;
            AnswerInfo info;
            size_t n = answer_query(db, cfg, ctx, query, qend, out.get(), 65535, &info);
            if (n <= qend || info.kind != AnswerKind::answered || info.rcode != rcode::NOERROR || info.truncated)
                continue;
            auto u16 = [&](size_t o) { return static_cast<uint16_t>((out[o] << 8) | out[o + 1]); };
            uint16_t flags = u16(2), an = u16(6), ns = u16(8), ar = u16(10);
            // Exactly this RRset, authoritative, nothing in authority: otherwise not the case the fast path copies.
            if (!(flags & flag::AA) || an != set.count || ns != 0 || n - qend > 0xFFFF) continue;
            bytes.emplace_back(reinterpret_cast<const char*>(out.get() + qend), n - qend);
            answers.push_back(AnswerTable::Answer{set.type, an, ar, {}});
        }
        // Steered addresses are decided per query; the entry only spares the engine the walk to the name.
        if (node.steer != kNotSteered)
            for (uint16_t t : {rrtype::A, rrtype::AAAA}) {
                bool static_data = false; // a type the name does not steer, answered from the zone
                for (const auto& a : answers) static_data |= a.type == t;
                if (static_data) continue;
                bytes.emplace_back();
                answers.push_back(AnswerTable::Answer{t, 0, 0, {}});
            }
        if (answers.empty()) continue;
        for (size_t i = 0; i < answers.size(); i++)
            answers[i].bytes = bytes[i];
        table.add(name, name_hash(name), answers);
        st.compiled += answers.size();
    }
    table.shrink();
    zone.answers = std::move(table);
    st.bytes = zone.answers.memory_bytes();
    return st;
}

} // namespace dns
