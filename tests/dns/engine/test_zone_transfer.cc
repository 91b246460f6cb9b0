// AXFR and IXFR message streams (dns/engine/zone_transfer.h) and the zone history IXFR answers from
// (dns/zone/zone_history.h), read back through ldns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "dns/dns_test_util.h"
#include "dns/engine/zone_transfer.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/query.h"
#include "dns/zone/zone_loader.h"

using namespace dns;

namespace {

std::string zone_text(uint32_t serial, const std::string& extra, int txt_records = 0) {
    std::string s = "$TTL 300\n@ IN SOA ns1 hostmaster " + std::to_string(serial) +
                    " 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.10\n" + extra;
    for (int i = 0; i < txt_records; i++)
        s += "big IN TXT \"record " + std::to_string(i) + " " + std::string(180, 'x') + "\"\n";
    return s;
}

std::shared_ptr<Zone> load(const std::string& text) {
    shared::ConfigDiagnostics d;
    auto z = load_zone_text("xfr.test.", text, "xfr.test.zone", d);
    REQUIRE(z);
    z->finalize();
    return z;
}

struct Stream {
    size_t messages = 0;
    std::vector<std::string> records; // ldns text, in order
    bool failed = false;
    TransferKind kind = TransferKind::axfr;
};

// An IXFR query with the client's SOA (serial) in the authority section (RFC 1995 §3), or an AXFR.
std::vector<uint8_t> xfr_query(uint16_t qtype, std::optional<uint32_t> serial) {
    ldns_pkt* p =
        ldns_pkt_query_new(ldns_dname_new_frm_str("xfr.test."), static_cast<ldns_rr_type>(qtype), LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_id(p, 0x4242);
    if (serial) {
        ldns_rr* soa = nullptr;
        std::string t = "xfr.test. 300 IN SOA ns1.xfr.test. hostmaster.xfr.test. " + std::to_string(*serial) +
                        " 3600 600 86400 300";
        REQUIRE(ldns_rr_new_frm_str(&soa, t.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK);
        ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
    }
    uint8_t* wire = nullptr;
    size_t len = 0;
    REQUIRE(ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK);
    std::vector<uint8_t> out(wire, wire + len);
    free(wire);
    ldns_pkt_free(p);
    return out;
}

Stream run(std::shared_ptr<const Zone> z, uint16_t qtype, std::optional<uint32_t> serial, size_t cap = 65535) {
    auto q = xfr_query(qtype, serial);
    ParsedQuery pq;
    REQUIRE(parse_query(q.data(), q.size(), &pq) == QueryStatus::ok);
    CHECK(pq.ixfr_soa == serial.has_value());
    if (serial) CHECK(pq.ixfr_serial == *serial);
    ZoneTransfer t(std::move(z), q.data(), pq.question_end, qtype == rrtype::IXFR,
                   pq.ixfr_soa ? std::optional<uint32_t>(pq.ixfr_serial) : std::nullopt);
    Stream s;
    s.kind = t.kind();
    std::vector<uint8_t> buf(cap);
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = t.next(buf.data(), buf.size());
        if (n == 0) break;
        REQUIRE(n <= cap);
        s.messages++;
        ldns_pkt* pkt = nullptr;
        REQUIRE(ldns_wire2pkt(&pkt, buf.data(), n) == LDNS_STATUS_OK);
        CHECK(ldns_pkt_qr(pkt));
        CHECK(ldns_pkt_aa(pkt));
        CHECK(ldns_pkt_id(pkt) == 0x4242);
        CHECK(ldns_pkt_qdcount(pkt) == 1);
        for (size_t i = 0; i < ldns_pkt_ancount(pkt); i++) {
            char* txt = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_answer(pkt), i));
            std::string line(txt);
            free(txt);
            std::replace(line.begin(), line.end(), '\t', ' ');
            while (!line.empty() && line.back() == '\n')
                line.pop_back();
            s.records.push_back(line);
        }
        ldns_pkt_free(pkt);
    }
    s.failed = t.failed();
    CHECK((t.done() || t.failed()));
    return s;
}

bool is_soa(const std::string& rr, uint32_t serial) {
    return rr.find(" SOA ") != std::string::npos && rr.find(" " + std::to_string(serial) + " ") != std::string::npos;
}

} // namespace

TEST_CASE("AXFR: SOA first and last, every record once", "[dns][xfr]") {
    auto z = load(zone_text(10, "mail IN MX 10 www\n"));
    Stream s = run(z, rrtype::AXFR, std::nullopt);
    CHECK_FALSE(s.failed);
    CHECK(s.kind == TransferKind::axfr);
    REQUIRE(s.records.size() == z->record_count + 1);
    CHECK(is_soa(s.records.front(), 10));
    CHECK(is_soa(s.records.back(), 10));
    std::set<std::string> unique(s.records.begin() + 1, s.records.end() - 1);
    CHECK(unique.size() == s.records.size() - 2);
}

TEST_CASE("AXFR: an RRset larger than a message is split across messages (RFC 5936 §2.2)", "[dns][xfr]") {
    // 100 TXT records of ~200 bytes: ~21 KB, more than a 16 KiB message; and with 4 KiB messages, many.
    auto z = load(zone_text(10, "", 100));
    for (size_t cap : {size_t(65535), size_t(4096)}) {
        Stream s = run(z, rrtype::AXFR, std::nullopt, cap);
        CHECK_FALSE(s.failed);
        size_t txt = std::count_if(s.records.begin(), s.records.end(),
                                   [](const std::string& r) { return r.find(" TXT ") != std::string::npos; });
        CHECK(txt == 100);
        CHECK(s.records.size() == z->record_count + 1);
        if (cap == 4096) CHECK(s.messages >= 6);
    }
    // A single record that cannot fit a message fails the stream instead of sending a partial zone.
    Stream tiny = run(z, rrtype::AXFR, std::nullopt, 120);
    CHECK(tiny.failed);
}

TEST_CASE("AXFR: a zone of thousands of names arrives whole, in messages of every size", "[dns][xfr]") {
    // Siblings of varying label lengths (h9, h10, h100), owners of several records, RDATA names (MX, CNAME, NS)
    // between them, a delegation with glue and names a level deeper: what the writer's last-name shortcuts see in a
    // transfer. Every record is read back through ldns and compared with ldns's reading of the zone text, so a
    // wrong compression pointer shows as a wrong record.
    std::string text = "xfr.test. 300 IN SOA ns1.xfr.test. hostmaster.xfr.test. 7 3600 600 86400 300\n"
                       "xfr.test. 300 IN NS ns1.xfr.test.\nns1.xfr.test. 300 IN A 192.0.2.1\n";
    for (int i = 0; i < 2500; i++) {
        std::string h = "h" + std::to_string(i) + ".xfr.test.";
        std::string quad = std::to_string(i >> 8) + "." + std::to_string(i & 255);
        text += h + " 300 IN A 10.0." + quad + "\n";
        if (i % 2 == 0) text += h + " 300 IN AAAA 2001:db8::" + std::to_string(i) + "\n";
        if (i % 7 == 0) text += h + " 300 IN MX 10 h" + std::to_string(i + 1) + ".xfr.test.\n";
        if (i % 11 == 0) text += h + " 300 IN TXT \"t" + std::to_string(i) + "\"\n";
        if (i % 13 == 0) text += "c" + std::to_string(i) + ".xfr.test. 300 IN CNAME " + h + "\n";
        if (i % 17 == 0) {
            std::string sub = "sub" + std::to_string(i) + ".xfr.test.";
            text +=
                sub + " 300 IN NS ns." + sub + "\nns." + sub + " 300 IN A 192.0.2." + std::to_string(i % 250) + "\n";
        }
        if (i % 19 == 0) text += "x.y" + std::to_string(i) + ".xfr.test. 300 IN A 10.1." + quad + "\n";
    }
    std::vector<std::string> want;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        ldns_rr* rr = nullptr;
        REQUIRE(ldns_rr_new_frm_str(&rr, text.substr(start, end - start).c_str(), 0, nullptr, nullptr) ==
                LDNS_STATUS_OK);
        char* txt = ldns_rr2str(rr);
        std::string line(txt);
        free(txt);
        ldns_rr_free(rr);
        std::replace(line.begin(), line.end(), '\t', ' ');
        while (!line.empty() && line.back() == '\n')
            line.pop_back();
        want.push_back(line);
        start = end + 1;
    }
    std::sort(want.begin(), want.end());
    auto z = load(text);
    REQUIRE(z->record_count == want.size());
    for (size_t cap : {size_t(65535), size_t(4096), size_t(700)}) {
        Stream s = run(z, rrtype::AXFR, std::nullopt, cap);
        CHECK_FALSE(s.failed);
        REQUIRE(s.records.size() == want.size() + 1);
        CHECK(is_soa(s.records.front(), 7));
        CHECK(is_soa(s.records.back(), 7));
        std::vector<std::string> got(s.records.begin(), s.records.end() - 1);
        std::sort(got.begin(), got.end());
        size_t wrong = 0;
        for (size_t k = 0; k < got.size(); k++)
            if (got[k] != want[k] && wrong++ < 5) UNSCOPED_INFO("cap " << cap << ": " << got[k] << " != " << want[k]);
        CHECK(wrong == 0);
        if (cap == 700) CHECK(s.messages > 100);
    }
}

TEST_CASE("IXFR: current client gets the SOA alone; unknown serial gets the whole zone", "[dns][xfr]") {
    auto z = load(zone_text(10, ""));
    Stream cur = run(z, rrtype::IXFR, 10u);
    CHECK(cur.kind == TransferKind::ixfr_current);
    REQUIRE(cur.records.size() == 1);
    CHECK(is_soa(cur.records[0], 10));
    Stream newer = run(z, rrtype::IXFR, 11u);
    CHECK(newer.kind == TransferKind::ixfr_current);
    Stream old = run(z, rrtype::IXFR, 5u);
    CHECK(old.kind == TransferKind::ixfr_full);
    CHECK(old.records.size() == z->record_count + 1);
    // IXFR without the authority SOA: answered like AXFR.
    Stream bare = run(z, rrtype::IXFR, std::nullopt);
    CHECK(bare.kind == TransferKind::axfr);
}

TEST_CASE("IXFR: incremental answers from the history across several reloads (RFC 1995 §4)", "[dns][xfr]") {
    // 200 unchanged records, so the changes stay smaller than the zone (else the whole zone is the answer).
    std::string filler;
    for (int i = 0; i < 200; i++)
        filler += "f" + std::to_string(i) + " IN A 198.51.100.1\n";
    auto v1 = load(zone_text(1, "a IN A 192.0.2.1\n" + filler));
    auto v2 = load(zone_text(2, "a IN A 192.0.2.2\nb IN A 192.0.2.3\n" + filler));
    v2->history = next_history(*v1, *v2, 16);
    auto v3 = load(zone_text(3, "a IN A 192.0.2.2\nb 600 IN A 192.0.2.3\n" + filler, 100));
    v3->history = next_history(*v2, *v3, 16);
    REQUIRE(v3->history);
    REQUIRE(v3->history->diffs.size() == 2);

    Stream s = run(v3, rrtype::IXFR, 2u);
    CHECK(s.kind == TransferKind::ixfr_incremental);
    // SOA 3, SOA 2, removed (b's old TTL), SOA 3, added (b with TTL 600 and 100 TXT), SOA 3.
    REQUIRE(s.records.size() == 1 + 1 + 1 + 1 + 101 + 1);
    CHECK(is_soa(s.records[0], 3));
    CHECK(is_soa(s.records[1], 2));
    CHECK(s.records[2] == "b.xfr.test. 300 IN A 192.0.2.3");
    CHECK(is_soa(s.records[3], 3));
    CHECK(s.records[4] == "b.xfr.test. 600 IN A 192.0.2.3");
    CHECK(is_soa(s.records.back(), 3));

    Stream from1 = run(v3, rrtype::IXFR, 1u);
    CHECK(from1.kind == TransferKind::ixfr_incremental);
    REQUIRE(from1.records.size() >= 8);
    CHECK(is_soa(from1.records[1], 1));
    CHECK(from1.records[2] == "a.xfr.test. 300 IN A 192.0.2.1");
    CHECK(is_soa(from1.records[3], 2));
    // Added in 1 → 2: a's new address and b (order as in the zone).
    CHECK(std::find(from1.records.begin(), from1.records.end(), "a.xfr.test. 300 IN A 192.0.2.2") !=
          from1.records.end());
    CHECK(is_soa(from1.records[6], 2));

    // The history is bounded: with 1 version kept, serial 1 is no longer incremental.
    auto v3b = load(zone_text(3, "a IN A 192.0.2.2\nb 600 IN A 192.0.2.3\n" + filler, 100));
    v3b->history = next_history(*v2, *v3b, 1);
    CHECK(run(v3b, rrtype::IXFR, 1u).kind == TransferKind::ixfr_full);
    CHECK(run(v3b, rrtype::IXFR, 2u).kind == TransferKind::ixfr_incremental);
    // No history kept at all.
    CHECK(next_history(*v2, *v3b, 0) == nullptr);
    // Same serial, other contents: the old history would lie, so none is kept.
    auto v2b = load(zone_text(2, "a IN A 192.0.2.9\n"));
    CHECK(next_history(*v2, *v2b, 16) == nullptr);
}

TEST_CASE("query parser: IXFR's authority SOA is accepted, other authority records are FORMERR", "[dns][xfr]") {
    auto q = xfr_query(rrtype::IXFR, 77u);
    ParsedQuery pq;
    REQUIRE(parse_query(q.data(), q.size(), &pq) == QueryStatus::ok);
    CHECK(pq.ixfr_soa);
    CHECK(pq.ixfr_serial == 77u);
    auto a = xfr_query(rrtype::A, 77u); // an A query with an authority SOA
    CHECK(parse_query(a.data(), a.size(), &pq) == QueryStatus::formerr);
    auto ax = xfr_query(rrtype::AXFR, 77u);
    CHECK(parse_query(ax.data(), ax.size(), &pq) == QueryStatus::formerr);
}

TEST_CASE("IXFR history is bounded by the zone's size; changes larger than the zone are sent whole", "[dns][xfr]") {
    auto text = [](uint32_t serial, const char* tag) {
        std::string s = zone_text(serial, "");
        for (int i = 0; i < 100; i++)
            s += "t IN TXT \"" + std::string(tag) + std::to_string(i) + "\"\n";
        return s;
    };
    auto v1 = load(text(1, "a"));
    auto v2 = load(text(2, "b")); // every TXT replaced: 200 changes for a 104-record zone
    v2->history = next_history(*v1, *v2, 16);
    REQUIRE(v2->history->diffs.size() == 1);
    auto v3 = load(text(3, "c"));
    v3->history = next_history(*v2, *v3, 16);
    // Two such differences would outweigh twice the zone: the older one is dropped.
    REQUIRE(v3->history->diffs.size() == 1);
    CHECK(v3->history->diffs[0]->from == 2);
    // And the one kept is larger than the zone: IXFR from 2 sends the whole zone instead.
    Stream s = run(v3, rrtype::IXFR, 2u);
    CHECK(s.kind == TransferKind::ixfr_full);
    CHECK(s.records.size() == v3->record_count + 1);
    // A small change stays incremental.
    auto v4 = load(text(4, "c") + "extra IN A 192.0.2.99\n");
    v4->history = next_history(*v3, *v4, 16);
    CHECK(run(v4, rrtype::IXFR, 3u).kind == TransferKind::ixfr_incremental);
}

TEST_CASE("same serial, other contents: found on reload; IXFR sends the whole zone to older serials",
          "[dns][xfr][serial]") {
    std::string filler;
    for (int i = 0; i < 50; i++)
        filler += "f" + std::to_string(i) + " IN A 198.51.100.1\n";
    auto v1 = load(zone_text(1, filler));
    auto v2 = load(zone_text(2, "a IN A 192.0.2.1\n" + filler));
    v2->history = next_history(*v1, *v2, 16);
    REQUIRE(run(v2, rrtype::IXFR, 1u).kind == TransferKind::ixfr_incremental);

    // Reloaded unchanged: same records, the history kept.
    auto same = load(zone_text(2, "a IN A 192.0.2.1\n" + filler));
    CHECK(same_records(*v2, *same, false));
    same->history = next_history(*v2, *same, 16);
    CHECK(same->history == v2->history);

    // Edited, serial kept: an address, a TTL, a record added or removed, the SOA's other fields.
    CHECK_FALSE(same_records(*v2, *load(zone_text(2, "a IN A 192.0.2.9\n" + filler)), false));
    CHECK_FALSE(same_records(*v2, *load(zone_text(2, "a 60 IN A 192.0.2.1\n" + filler)), false));
    CHECK_FALSE(same_records(*v2, *load(zone_text(2, "a IN A 192.0.2.1\nb IN A 192.0.2.2\n" + filler)), false));
    CHECK_FALSE(same_records(*v2, *load(zone_text(2, filler)), false));
    std::string soa_edit = zone_text(2, "a IN A 192.0.2.1\n" + filler);
    soa_edit.replace(soa_edit.find(" 3600 600 "), 10, " 7200 600 ");
    CHECK_FALSE(same_records(*v2, *load(soa_edit), false));
    // What a signer adds is left out on request (the version replaced was signed, the new one is not yet).
    auto with_key =
        load(zone_text(2, "a IN A 192.0.2.1\n@ IN DNSKEY 257 3 13 "
                          "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n" +
                              filler));
    CHECK_FALSE(same_records(*with_key, *v2, false));
    CHECK(same_records(*with_key, *v2, true));

    // The edited zone keeps no history: a change without a serial step cannot be a difference. A secondary at
    // serial 1 gets the whole zone; one at serial 2 is told it is up to date (it keeps the old contents: hence the
    // reload warning).
    auto edited = load(zone_text(2, "a IN A 192.0.2.9\n" + filler));
    edited->history = next_history(*v2, *edited, 16);
    CHECK(edited->history == nullptr);
    Stream from1 = run(edited, rrtype::IXFR, 1u);
    CHECK(from1.kind == TransferKind::ixfr_full);
    CHECK(std::find(from1.records.begin(), from1.records.end(), "a.xfr.test. 300 IN A 192.0.2.9") !=
          from1.records.end());
    CHECK(run(edited, rrtype::IXFR, 2u).kind == TransferKind::ixfr_current);
}
