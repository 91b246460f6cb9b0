// TSIG (RFC 8945) request checks and signing, against ldns as an independent signer and verifier: each algorithm,
// key/algorithm mismatch (BADKEY), wrong secret (BADSIG), a replayed old request (BADTIME), and the truncated MAC
// rules of §5.2.2.1 (FORMERR) and §5.2.4 (BADTRUNC).
#include <catch2/catch.hpp>

#include <ctime>

#include "dns/dns_test_util.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/query.h"
#include "dns/wire/tsig.h"

using namespace dns;
using namespace dns::test;

namespace {
const char* kSecret = "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE=";
const char* kWrong = "d3Jvbmctc2VjcmV0LWZvci10aGUtc2FtZS1rZXktbmFtZQ==";

TsigKey key(const char* alg, const char* secret = kSecret, uint16_t min_mac = 0, const char* name = "k.") {
    std::string err;
    auto k = make_tsig_key(name, alg, secret, min_mac, &err);
    INFO(err);
    REQUIRE(k);
    return *k;
}

// The query signed by ldns (its clock), as a client would send it.
std::vector<uint8_t> ldns_signed(std::vector<uint8_t> q, const char* alg, const char* secret = kSecret) {
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, q.data(), q.size()) == LDNS_STATUS_OK);
    REQUIRE(ldns_pkt_tsig_sign(p, "k.", secret, 300, alg, nullptr) == LDNS_STATUS_OK);
    uint8_t* wire = nullptr;
    size_t len = 0;
    REQUIRE(ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK);
    std::vector<uint8_t> out(wire, wire + len);
    free(wire);
    ldns_pkt_free(p);
    return out;
}

std::vector<uint8_t> our_signed(std::vector<uint8_t> q, const TsigKey& k, uint64_t when, uint16_t mac_len = 0) {
    size_t len = q.size();
    q.resize(len + 512);
    size_t n = tsig_sign_request(q.data(), len, q.size(), k, when, mac_len);
    REQUIRE(n > len);
    q.resize(n);
    return q;
}

TsigCheck check(const std::vector<uint8_t>& q, const std::vector<TsigKey>& keys, uint64_t now) {
    ParsedQuery pq;
    REQUIRE(parse_query(q.data(), q.size(), &pq) == QueryStatus::ok);
    REQUIRE(pq.tsig_offset > 0);
    return tsig_check_request(q.data(), q.size(), pq.tsig_offset, keys, now);
}

uint64_t now() {
    return static_cast<uint64_t>(time(nullptr));
}
} // namespace

TEST_CASE("TSIG: requests signed by ldns verify with each algorithm", "[dns][tsig]") {
    auto q = make_query("example.test", rrtype::SOA);
    for (auto [ours, theirs] : {std::pair{"hmac-md5", "hmac-md5.sig-alg.reg.int."},
                                {"hmac-sha1", "hmac-sha1."},
                                {"hmac-sha256", "hmac-sha256."}}) {
        INFO(ours);
        std::vector<TsigKey> keys{key(ours)};
        auto c = check(ldns_signed(q, theirs), keys, now());
        CHECK(c.status == TsigCheck::Status::ok);
        CHECK(c.error == 0);
        CHECK(c.key == &keys[0]);
        CHECK(c.mac_len == tsig_mac_size(keys[0].algorithm));
    }
    // ldns 1.8 has no sha224/384/512: our own signer, checked by our own verifier (the ones above prove the two
    // agree with ldns; the integration tests check all of them against dig and kdig).
    for (auto alg : {"hmac-sha224", "hmac-sha384", "hmac-sha512"}) {
        INFO(alg);
        std::vector<TsigKey> keys{key(alg)};
        auto c = check(our_signed(q, keys[0], now()), keys, now());
        CHECK(c.status == TsigCheck::Status::ok);
        CHECK(c.mac_len == tsig_mac_size(keys[0].algorithm));
    }
}

TEST_CASE("TSIG: the algorithm is enforced per key (BADKEY)", "[dns][tsig]") {
    auto q = make_query("example.test", rrtype::AXFR);
    std::vector<TsigKey> keys{key("hmac-sha256")};
    // Same key name, same secret, another algorithm: BADKEY, not accepted.
    for (auto alg : {"hmac-md5.sig-alg.reg.int.", "hmac-sha1.", "hmac-sha512."}) {
        INFO(alg);
        auto c = check(ldns_signed(q, alg), keys, now());
        CHECK(c.status == TsigCheck::Status::error);
        CHECK(c.error == tsig_error::BADKEY);
        CHECK(c.key == nullptr);
        CHECK_FALSE(c.signed_error());
    }
    // An unknown key name.
    std::vector<TsigKey> other{key("hmac-sha256", kSecret, 0, "other-key")};
    CHECK(check(ldns_signed(q, "hmac-sha256."), other, now()).error == tsig_error::BADKEY);
}

TEST_CASE("TSIG: a wrong secret is BADSIG; a flipped bit anywhere too", "[dns][tsig]") {
    auto q = make_query("example.test", rrtype::A);
    std::vector<TsigKey> keys{key("hmac-sha256")};
    auto c = check(ldns_signed(q, "hmac-sha256.", kWrong), keys, now());
    CHECK(c.status == TsigCheck::Status::error);
    CHECK(c.error == tsig_error::BADSIG);
    CHECK_FALSE(c.signed_error());
    auto good = ldns_signed(q, "hmac-sha256.");
    for (size_t i : {size_t(2), size_t(14), good.size() - 8}) {
        auto bad = good;
        bad[i] ^= 0x01;
        INFO("byte " << i);
        CHECK(check(bad, keys, now()).error == tsig_error::BADSIG);
    }
}

TEST_CASE("TSIG: time outside the fudge window is BADTIME, signed (a replayed AXFR)", "[dns][tsig]") {
    auto q = make_query("example.test", rrtype::AXFR);
    std::vector<TsigKey> keys{key("hmac-sha256")};
    uint64_t t = 1'790'000'000;
    auto old = our_signed(q, keys[0], t - 30 * 86400); // captured 30 days ago
    auto c = check(old, keys, t);
    CHECK(c.status == TsigCheck::Status::error);
    CHECK(c.error == tsig_error::BADTIME);
    CHECK(c.signed_error());
    // Within the fudge (300 s) either way: accepted; just outside: not.
    CHECK(check(our_signed(q, keys[0], t - 300), keys, t).status == TsigCheck::Status::ok);
    CHECK(check(our_signed(q, keys[0], t + 300), keys, t).status == TsigCheck::Status::ok);
    CHECK(check(our_signed(q, keys[0], t - 301), keys, t).error == tsig_error::BADTIME);
    CHECK(check(our_signed(q, keys[0], t + 301), keys, t).error == tsig_error::BADTIME);
}

TEST_CASE("TSIG: truncated MACs per RFC 8945 §5.2.2.1 and the key's policy (BADTRUNC)", "[dns][tsig]") {
    auto q = make_query("example.test", rrtype::SOA);
    uint64_t t = 1'790'000'000;
    CHECK(tsig_min_mac_size(TsigAlgorithm::hmac_sha256) == 16);
    CHECK(tsig_min_mac_size(TsigAlgorithm::hmac_sha1) == 10);
    CHECK(tsig_min_mac_size(TsigAlgorithm::hmac_md5) == 10);
    CHECK(tsig_min_mac_size(TsigAlgorithm::hmac_sha512) == 32);
    std::vector<TsigKey> strict{key("hmac-sha256")};
    std::vector<TsigKey> lenient{key("hmac-sha256", kSecret, 16)};
    // 16 of 32 bytes: allowed by the RFC; the default policy (full length) answers BADTRUNC, signed.
    auto half = our_signed(q, strict[0], t, 16);
    auto c = check(half, strict, t);
    CHECK(c.error == tsig_error::BADTRUNC);
    CHECK(c.signed_error());
    CHECK(check(half, lenient, t).status == TsigCheck::Status::ok);
    // 20 bytes: between the key's minimum and the full length.
    CHECK(check(our_signed(q, lenient[0], t, 20), lenient, t).status == TsigCheck::Status::ok);
    // Shorter than max(10, half the hash): a format error, whatever the policy.
    CHECK(check(our_signed(q, lenient[0], t, 15), lenient, t).status == TsigCheck::Status::formerr);
    CHECK(check(our_signed(q, lenient[0], t, 8), lenient, t).status == TsigCheck::Status::formerr);
    // A truncated MAC that does not match is still BADSIG.
    auto bad = our_signed(q, key("hmac-sha256", kWrong, 16), t, 16);
    CHECK(check(bad, lenient, t).error == tsig_error::BADSIG);
    // Longer than the hash: format error (a SHA-512 MAC for a SHA-256 key, the record edited to claim sha256).
    // min_mac_size outside [max(10, L/2), L] is a config error.
    std::string err;
    CHECK_FALSE(make_tsig_key("k", "hmac-sha256", kSecret, 15, &err));
    CHECK(err.find("between 16 and 32") != std::string::npos);
    CHECK_FALSE(make_tsig_key("k", "hmac-sha256", kSecret, 33, &err));
    CHECK(make_tsig_key("k", "hmac-sha1", kSecret, 10, &err));
}

TEST_CASE("TSIG: malformed records are FORMERR", "[dns][tsig]") {
    auto q = make_query("example.test", rrtype::SOA);
    std::vector<TsigKey> keys{key("hmac-sha256")};
    uint64_t t = 1'790'000'000;
    auto good = our_signed(q, keys[0], t);
    auto trailing = good;
    trailing.push_back(0);
    ParsedQuery pq;
    REQUIRE(parse_query(good.data(), good.size(), &pq) == QueryStatus::ok);
    CHECK(tsig_check_request(trailing.data(), trailing.size(), pq.tsig_offset, keys, t).status ==
          TsigCheck::Status::formerr);
    auto cls = good;
    cls[pq.tsig_offset + 3 + 2 + 1] = 1; // class IN instead of ANY
    CHECK(tsig_check_request(cls.data(), cls.size(), pq.tsig_offset, keys, t).status == TsigCheck::Status::formerr);
    CHECK(tsig_check_request(good.data(), good.size() - 1, pq.tsig_offset, keys, t).status ==
          TsigCheck::Status::formerr);
}

TEST_CASE("TSIG: keys from config text", "[dns][tsig]") {
    std::string err;
    auto k = make_tsig_key("Transfer-Key", "HMAC-SHA384", kSecret, 0, &err);
    REQUIRE(k);
    CHECK(k->name == std::string("\x0ctransfer-key\x00", 14));
    CHECK(k->text_name == "Transfer-Key.");
    CHECK(k->algorithm == TsigAlgorithm::hmac_sha384);
    CHECK(k->min_mac_size == 48);
    CHECK(k->secret.size() == 35);
    CHECK_FALSE(make_tsig_key("k", "hmac-sha3", kSecret, 0, &err));
    CHECK_FALSE(make_tsig_key("k", "hmac-sha256", "abc", 0, &err));
    CHECK_FALSE(make_tsig_key("k", "hmac-sha256", "!!!!", 0, &err));
    CHECK(tsig_algorithm_from_text("hmac-md5.sig-alg.reg.int.") == TsigAlgorithm::hmac_md5);
}
