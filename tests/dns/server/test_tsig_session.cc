// TSIG through the engine and the transfer session (RFC 8945): signed queries get signed answers that ldns
// verifies; rejections are NOTAUTH with a TSIG record carrying the error (BADKEY and BADSIG unsigned, BADTIME signed
// with the server's time); a replayed old signed AXFR is BADTIME and never starts a transfer; a transfer's messages
// are each signed, chained per §5.3.1 (ldns verifies the chain).
#include <catch2/catch.hpp>

#include <ctime>

#include "dns/dns_test_util.h"
#include "dns/engine/zone_transfer.h"
#include "dns/server/tsig_session.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"
#include "dns/wire/query.h"

using namespace dns;
using namespace dns::test;

namespace {
const char* kSecret = "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE=";
const char* kWrong = "d3Jvbmctc2VjcmV0LWZvci10aGUtc2FtZS1rZXktbmFtZQ==";

EngineConfig config_with(const char* alg = "hmac-sha256") {
    EngineConfig cfg;
    std::string err;
    auto k = make_tsig_key("k.", alg, kSecret, 0, &err);
    REQUIRE(k);
    cfg.tsig_keys.push_back(*k);
    return cfg;
}

std::vector<uint8_t> sign(std::vector<uint8_t> q, const char* alg, const char* secret, uint64_t when) {
    std::string err;
    auto k = make_tsig_key("k.", alg, secret, 0, &err);
    REQUIRE(k);
    size_t len = q.size();
    q.resize(len + 512);
    size_t n = tsig_sign_request(q.data(), len, q.size(), *k, when);
    REQUIRE(n > len);
    q.resize(n);
    return q;
}

// The MAC of the request's TSIG record, as ldns's verifier wants it for the answer.
ldns_rdf* request_mac(const std::vector<uint8_t>& q) {
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, q.data(), q.size()) == LDNS_STATUS_OK);
    ldns_rr* t = ldns_pkt_tsig(p);
    REQUIRE(t);
    ldns_rdf* mac = ldns_rdf_clone(ldns_rr_rdf(t, 3));
    ldns_pkt_free(p);
    return mac;
}

struct TsigFields {
    uint16_t error = 0;
    uint16_t mac_size = 0;
    uint64_t time = 0;
    std::vector<uint8_t> other;
};
// The answer's TSIG record (it must be the last record), read by hand.
TsigFields tsig_of(const Response& r) {
    REQUIRE(r.pkt);
    ldns_rr* t = ldns_pkt_tsig(r.pkt);
    REQUIRE(t);
    TsigFields f;
    // ldns's rdfs: algorithm, time (6 bytes), fudge, MAC (size-prefixed), original id, error, other (size-prefixed).
    const uint8_t* tb = ldns_rdf_data(ldns_rr_rdf(t, 1));
    for (int i = 0; i < 6; i++)
        f.time = (f.time << 8) | tb[i];
    f.mac_size = static_cast<uint16_t>(ldns_rdf_size(ldns_rr_rdf(t, 3)) - 2);
    f.error = ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
    ldns_rdf* other = ldns_rr_rdf(t, 6);
    if (other && ldns_rdf_size(other) > 2)
        f.other.assign(ldns_rdf_data(other) + 2, ldns_rdf_data(other) + ldns_rdf_size(other));
    return f;
}

uint64_t now() {
    return static_cast<uint64_t>(time(nullptr));
}
} // namespace

TEST_CASE("TSIG: a signed query gets a signed answer that ldns verifies", "[dns][tsig][engine]") {
    auto cfg = config_with();
    QueryOpts o;
    o.edns = 1232;
    for (bool tcp : {false, true}) {
        auto q = sign(make_query("web.example.test", rrtype::A, o), "hmac-sha256", kSecret, now());
        QueryContext ctx;
        ctx.tcp = tcp;
        ctx.now_s = now();
        auto r = ask_with(test_db(), q, cfg, ctx);
        REQUIRE(r.status == LDNS_STATUS_OK);
        CHECK(r.rcode() == rcode::NOERROR);
        CHECK(r.answer().size() == 2);
        CHECK(r.has_opt());
        REQUIRE(r.info.tsig_key == &cfg.tsig_keys[0]);
        ldns_rdf* mac = request_mac(q);
        CHECK(ldns_pkt_tsig_verify(r.pkt, r.wire.data(), r.wire.size(), "k.", kSecret, mac));
        // The wrong secret does not verify it (the check above can fail).
        CHECK_FALSE(ldns_pkt_tsig_verify(r.pkt, r.wire.data(), r.wire.size(), "k.", kWrong, mac));
        ldns_rdf_deep_free(mac);
    }
    // An unsigned query to the same server is answered unsigned, as before.
    auto plain = ask(test_db(), make_query("web.example.test", rrtype::A), cfg);
    CHECK(plain.answer().size() == 2);
    CHECK(ldns_pkt_tsig(plain.pkt) == nullptr);
}

TEST_CASE("TSIG: an answer that does not fit with its TSIG record is TC, still signed", "[dns][tsig][engine]") {
    auto cfg = config_with();
    auto q = sign(make_query("web.example.test", rrtype::A), "hmac-sha256", kSecret, now());
    QueryContext ctx;
    ctx.tcp = true;
    ctx.now_s = now();
    // 120 bytes: the two A records fit (66 bytes with the question) but not with the 74-byte TSIG record.
    auto r = ask_with(test_db(), q, cfg, ctx, 120);
    REQUIRE(r.status == LDNS_STATUS_OK);
    CHECK(r.flag_tc());
    CHECK(r.answer().empty());
    ldns_rdf* mac = request_mac(q);
    CHECK(ldns_pkt_tsig_verify(r.pkt, r.wire.data(), r.wire.size(), "k.", kSecret, mac));
    ldns_rdf_deep_free(mac);
    auto roomy = ask_with(test_db(), q, cfg, ctx, 160);
    CHECK_FALSE(roomy.flag_tc());
    CHECK(roomy.answer().size() == 2);
}

TEST_CASE("TSIG: a wrong secret gets NOTAUTH/BADSIG, unsigned, not an answer", "[dns][tsig][engine]") {
    auto cfg = config_with();
    auto q = sign(make_query("web.example.test", rrtype::A), "hmac-sha256", kWrong, now());
    QueryContext ctx;
    ctx.now_s = now();
    auto r = ask_with(test_db(), q, cfg, ctx);
    REQUIRE(r.status == LDNS_STATUS_OK);
    CHECK(r.rcode() == rcode::NOTAUTH);
    CHECK(r.answer().empty());
    CHECK_FALSE(r.flag_aa());
    auto f = tsig_of(r);
    CHECK(f.error == tsig_error::BADSIG);
    CHECK(f.mac_size == 0);
    CHECK(r.info.tsig_key == nullptr);
    CHECK(r.info.tsig_error == tsig_error::BADSIG);
}

TEST_CASE("TSIG: the wrong algorithm for the key gets NOTAUTH/BADKEY", "[dns][tsig][engine]") {
    auto cfg = config_with("hmac-sha256");
    for (auto alg : {"hmac-md5", "hmac-sha1", "hmac-sha384"}) {
        INFO(alg);
        auto q = sign(make_query("example.test", rrtype::AXFR), alg, kSecret, now());
        QueryContext ctx;
        ctx.tcp = true;
        ctx.now_s = now();
        auto r = ask_with(test_db(), q, cfg, ctx);
        CHECK(r.info.kind == AnswerKind::answered); // no transfer
        CHECK(r.rcode() == rcode::NOTAUTH);
        CHECK(tsig_of(r).error == tsig_error::BADKEY);
        CHECK(tsig_of(r).mac_size == 0);
    }
}

TEST_CASE("TSIG: a replayed signed AXFR from 30 days ago is BADTIME, signed, with our time", "[dns][tsig][engine]") {
    auto cfg = config_with();
    uint64_t t = now();
    auto q = sign(make_query("example.test", rrtype::AXFR), "hmac-sha256", kSecret, t - 30 * 86400);
    QueryContext ctx;
    ctx.tcp = true;
    ctx.now_s = t;
    auto r = ask_with(test_db(), q, cfg, ctx);
    CHECK(r.info.kind == AnswerKind::answered);
    CHECK(r.info.zone == nullptr);
    CHECK(r.rcode() == rcode::NOTAUTH);
    auto f = tsig_of(r);
    CHECK(f.error == tsig_error::BADTIME);
    CHECK(f.time == t - 30 * 86400); // the request's time, so the client can verify it
    REQUIRE(f.other.size() == 6);
    uint64_t server = 0;
    for (uint8_t b : f.other)
        server = (server << 8) | b;
    CHECK(server == t);
    // Signed with the request's key, over the request's MAC.
    ldns_rdf* mac = request_mac(q);
    CHECK(ldns_pkt_tsig_verify(r.pkt, r.wire.data(), r.wire.size(), "k.", kSecret, mac));
    ldns_rdf_deep_free(mac);
    // The same request signed now starts the transfer.
    auto fresh = sign(make_query("example.test", rrtype::AXFR), "hmac-sha256", kSecret, t);
    auto ok = ask_with(test_db(), fresh, cfg, ctx);
    CHECK(ok.info.kind == AnswerKind::transfer);
    CHECK(ok.info.tsig_key == &cfg.tsig_keys[0]);
}

TEST_CASE("TSIG session: every message of a transfer is signed, chained, and ldns verifies them", "[dns][tsig][axfr]") {
    auto cfg = config_with();
    uint64_t t = now();
    auto q = sign(make_query("example.test", rrtype::AXFR), "hmac-sha256", kSecret, t);
    QueryContext ctx;
    ctx.tcp = true;
    ctx.now_s = t;
    auto r = ask_with(test_db(), q, cfg, ctx);
    REQUIRE(r.info.kind == AnswerKind::transfer);
    auto session = TsigSession::for_request(q.data(), q.size(), r.info, t);
    REQUIRE(session);
    CHECK(session->key_name() == "k.");
    CHECK(session->reserve() >= 3 + 10 + 13 + 10 + 32 + 6);
    // Small messages so the zone takes several.
    std::vector<std::vector<uint8_t>> msgs;
    std::vector<uint8_t> buf(4096);
    ParsedQuery pq;
    REQUIRE(parse_query(q.data(), q.size(), &pq) == QueryStatus::ok);
    ZoneTransfer xfr(test_db().get(r.info.zone->apex), q.data(), pq.question_end, false, std::nullopt);
    for (size_t len; (len = xfr.next(buf.data(), 600)) != 0;) {
        std::vector<uint8_t> m(buf.data(), buf.data() + len);
        m.resize(len + session->reserve());
        size_t n = session->sign(m.data(), len, m.size(), t);
        REQUIRE(n > len);
        REQUIRE(n <= len + session->reserve());
        m.resize(n);
        msgs.push_back(std::move(m));
    }
    REQUIRE(xfr.done());
    REQUIRE(msgs.size() >= 3);
    ldns_rdf* mac = request_mac(q);
    for (size_t i = 0; i < msgs.size(); i++) {
        INFO("message " << i);
        ldns_pkt* p = nullptr;
        REQUIRE(ldns_wire2pkt(&p, msgs[i].data(), msgs[i].size()) == LDNS_STATUS_OK);
        // The first over the request MAC with all variables; the next ones over the previous MAC, timers only.
        CHECK(ldns_pkt_tsig_verify_next(p, msgs[i].data(), msgs[i].size(), "k.", kSecret, mac, i == 0 ? 0 : 1));
        ldns_rdf_deep_free(mac);
        mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
        ldns_pkt_free(p);
    }
    ldns_rdf_deep_free(mac);
    // Out of order (the second message checked against the request MAC) does not verify: the chain is real.
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, msgs[1].data(), msgs[1].size()) == LDNS_STATUS_OK);
    ldns_rdf* req = request_mac(q);
    CHECK_FALSE(ldns_pkt_tsig_verify_next(p, msgs[1].data(), msgs[1].size(), "k.", kSecret, req, 1));
    ldns_rdf_deep_free(req);
    ldns_pkt_free(p);
    // No session for an unsigned request.
    auto plain = make_query("example.test", rrtype::AXFR);
    auto pr = ask_with(test_db(), plain, cfg, ctx);
    CHECK(TsigSession::for_request(plain.data(), plain.size(), pr.info, t) == nullptr);
}

TEST_CASE("TSIG: a server without keys answers a signed query NOTAUTH/BADKEY", "[dns][tsig][engine]") {
    uint64_t t = 1'790'000'000;
    auto q = sign(make_query("web.example.test", rrtype::A), "hmac-sha256", kSecret, t);
    QueryContext ctx; // no keys, so the server reads no clock: now_s stays 0
    auto r = ask_with(test_db(), q, EngineConfig{}, ctx);
    REQUIRE(r.status == LDNS_STATUS_OK);
    CHECK(r.rcode() == rcode::NOTAUTH);
    CHECK(r.answer().empty());
    auto f = tsig_of(r);
    CHECK(f.error == tsig_error::BADKEY);
    CHECK(f.time == t); // the request's time, not 1970
}

TEST_CASE("TSIG: a UDP rejection stays within the client's 512 bytes", "[dns][tsig][engine]") {
    // A long key name and a long (unknown) algorithm name: the BADKEY record would take the answer past 512 bytes,
    // so the rejection goes without it rather than over the limit.
    std::string label(63, 'a');
    std::string long_name = label + "." + label + "." + label + "." + label.substr(0, 60) + ".";
    auto q = make_query("web.example.test", rrtype::A);
    std::vector<uint8_t> rr;
    auto wire = *name_from_text(long_name);
    rr.insert(rr.end(), wire.begin(), wire.end());
    std::vector<uint8_t> fixed = {0, 250, 0, 255, 0, 0, 0, 0};
    rr.insert(rr.end(), fixed.begin(), fixed.end());
    std::vector<uint8_t> rdata(wire.begin(), wire.end()); // algorithm name: as long
    std::vector<uint8_t> tail = {0, 0, 0x6a, 0xb0, 0x00, 0x00, 1, 44, 0, 0, 0x12, 0x34, 0, 0, 0, 0};
    rdata.insert(rdata.end(), tail.begin(), tail.end());
    rr.push_back(static_cast<uint8_t>(rdata.size() >> 8));
    rr.push_back(static_cast<uint8_t>(rdata.size()));
    rr.insert(rr.end(), rdata.begin(), rdata.end());
    q.insert(q.end(), rr.begin(), rr.end());
    q[11] = 1;
    QueryContext ctx;
    ctx.now_s = now();
    auto r = ask_with(test_db(), q, config_with(), ctx);
    REQUIRE(r.wire.size() >= 12);
    CHECK(r.wire.size() <= 512);
    CHECK((r.wire[3] & 0x0F) == rcode::NOTAUTH);
    // Over TCP the record fits.
    ctx.tcp = true;
    auto t = ask_with(test_db(), q, config_with(), ctx);
    CHECK(t.wire.size() > 512);
    CHECK(tsig_of(t).error == tsig_error::BADKEY);
}
