#include <catch2/catch.hpp>

#include <ldns/ldns.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "dns/dnssec/dnssec_key.h"
#include "tests/support/temp_dir.h"

using dns::DnssecAlgorithm;
using dns::DnssecKey;
using test_support::TempDir;

namespace {

ldns_rr* rr(const char* text) {
    ldns_rr* out = nullptr;
    REQUIRE(ldns_rr_new_frm_str(&out, text, 3600, nullptr, nullptr) == LDNS_STATUS_OK);
    return out;
}

// Signs `www.example.test A` with `key` through ldns and checks the signature against the key's DNSKEY, as a
// validator would.
void check_signs_and_verifies(const DnssecKey& key) {
    ldns_rr_list* rrset = ldns_rr_list_new();
    ldns_rr_list_push_rr(rrset, rr("www.example.test. 300 IN A 192.0.2.1"));
    ldns_rr_list_push_rr(rrset, rr("www.example.test. 300 IN A 192.0.2.2"));
    ldns_key_list* keys = ldns_key_list_new();
    ldns_key_list_push_key(keys, key.ldns());
    uint32_t now = static_cast<uint32_t>(time(nullptr));
    ldns_key_set_inception(key.ldns(), now - 3600);
    ldns_key_set_expiration(key.ldns(), now + 86400);
    ldns_rr_list* sigs = ldns_sign_public(rrset, keys);
    REQUIRE(sigs);
    REQUIRE(ldns_rr_list_rr_count(sigs) == 1);
    ldns_rr_list* trusted = ldns_rr_list_new();
    ldns_rr_list_push_rr(trusted, ldns_rr_clone(key.dnskey_rr()));
    ldns_rr_list* good = ldns_rr_list_new();
    CHECK(ldns_verify_rrsig_keylist(rrset, ldns_rr_list_rr(sigs, 0), trusted, good) == LDNS_STATUS_OK);
    // A changed record no longer verifies.
    ldns_rr_list* changed = ldns_rr_list_new();
    ldns_rr_list_push_rr(changed, rr("www.example.test. 300 IN A 192.0.2.9"));
    ldns_rr_list_push_rr(changed, rr("www.example.test. 300 IN A 192.0.2.2"));
    CHECK(ldns_verify_rrsig_keylist(changed, ldns_rr_list_rr(sigs, 0), trusted, good) != LDNS_STATUS_OK);
    ldns_rr_list_deep_free(changed);
    ldns_rr_list_free(good);
    ldns_rr_list_deep_free(trusted);
    ldns_rr_list_deep_free(sigs);
    ldns_key_list_set_key_count(keys, 0); // the key stays the DnssecKey's
    ldns_key_list_free(keys);
    ldns_rr_list_deep_free(rrset);
}

} // namespace

TEST_CASE("DNSSEC keys: generated KSK and ZSK have the right flags, tag and DNSKEY, and sign verifiably",
          "[dns][dnssec]") {
    for (DnssecAlgorithm alg : {DnssecAlgorithm::ecdsa_p256_sha256, DnssecAlgorithm::ed25519}) {
        std::string err;
        auto ksk = DnssecKey::generate("Example.Test", alg, true, &err);
        REQUIRE(ksk);
        CHECK(ksk->zone() == "example.test.");
        CHECK(ksk->ksk());
        CHECK(ksk->flags() == 257);
        CHECK(ksk->key_tag() == ldns_calc_keytag(ksk->dnskey_rr()));
        auto zsk = DnssecKey::generate("example.test.", alg, false, &err);
        REQUIRE(zsk);
        CHECK(zsk->flags() == 256);
        std::string text = ksk->dnskey_text(3600);
        CHECK(text.find("example.test.\t3600\tIN\tDNSKEY\t257 3 " + std::to_string(static_cast<int>(alg)) + " ") == 0);
        CHECK(text.find(';') == std::string::npos);
        CHECK(ksk->cdnskey_text(0).find("\tCDNSKEY\t257 3 ") != std::string::npos);
        // DS: "<tag> <alg> 2 <64 hex>"; CDS the same rdata.
        std::string ds = ksk->ds_text(2, 3600);
        std::string want =
            "\tDS\t" + std::to_string(ksk->key_tag()) + " " + std::to_string(static_cast<int>(alg)) + " 2 ";
        REQUIRE(ds.find(want) != std::string::npos);
        CHECK(ds.size() - (ds.find(want) + want.size()) == 64);
        CHECK(ksk->ds_text(4, 3600).find(" 4 ") != std::string::npos);
        CHECK(ksk->cds_text(2, 0).find("\tCDS\t") != std::string::npos);
        check_signs_and_verifies(*zsk);
        check_signs_and_verifies(*ksk);
    }
}

TEST_CASE("DNSSEC keys: written in BIND's format and loaded back as the same key", "[dns][dnssec]") {
    TempDir t("meridian-dnssec");
    std::string err, stem;
    auto k = DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, true, &err);
    REQUIRE(k);
    REQUIRE(k->write(t.path, &stem, &err));
    CHECK(stem == t.path + "/" + k->file_stem());
    CHECK(k->file_stem().rfind("Kexample.test.+013+", 0) == 0);
    struct stat st {};
    REQUIRE(::stat((stem + ".private").c_str(), &st) == 0);
    CHECK((st.st_mode & 077) == 0); // the private half is the owner's only
    for (const std::string& path : {stem + ".private", stem + ".key", stem}) {
        auto back = DnssecKey::load(path, &err);
        REQUIRE(back);
        CHECK(back->key_tag() == k->key_tag());
        CHECK(back->ksk());
        CHECK(back->dnskey_text(60) == k->dnskey_text(60));
        CHECK(back->ds_text(2, 60) == k->ds_text(2, 60));
        check_signs_and_verifies(*back);
    }
    // Never overwrites a private key.
    CHECK_FALSE(k->write(t.path, &stem, &err));
    CHECK(err.find("exists") != std::string::npos);
}

TEST_CASE("DNSSEC keys: bad key files are refused with the file named", "[dns][dnssec]") {
    TempDir t("meridian-dnssec");
    std::string err, a, b;
    auto k1 = DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, false, &err);
    auto k2 = DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, false, &err);
    REQUIRE(k1->write(t.path, &a, &err));
    REQUIRE(k2->write(t.path, &b, &err));
    // Halves of two different keys.
    std::filesystem::copy_file(b + ".private", t.path + "/mixed.private");
    std::filesystem::copy_file(a + ".key", t.path + "/mixed.key");
    CHECK_FALSE(DnssecKey::load(t.path + "/mixed.private", &err));
    CHECK(err.find("not the same key") != std::string::npos);
    CHECK_FALSE(DnssecKey::load(t.path + "/missing.private", &err));
    CHECK(err.find("missing.key: cannot open") != std::string::npos);
    { std::ofstream(t.path + "/rsa.key") << "example.test. 3600 IN DNSKEY 256 3 8 AwEAAc3w\n"; }
    CHECK_FALSE(DnssecKey::load(t.path + "/rsa.key", &err));
    CHECK(err.find("algorithm 8 is not supported") != std::string::npos);
    { std::ofstream(t.path + "/junk.key") << "not a record at all\n"; }
    CHECK_FALSE(DnssecKey::load(t.path + "/junk.key", &err));
    CHECK(err.find("junk.key:") != std::string::npos);
    DnssecAlgorithm alg;
    CHECK(dns::parse_dnssec_algorithm("ED25519", &alg));
    CHECK(alg == DnssecAlgorithm::ed25519);
    CHECK_FALSE(dns::parse_dnssec_algorithm("rsasha256", &alg));
}
