#include "dns/dnssec/dnssec_key.h"

#include <ldns/ldns.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace dns {

namespace {

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string fqdn(std::string_view zone) {
    std::string z = lower(std::string(zone));
    if (z.empty() || z.back() != '.') z.push_back('.');
    return z;
}

// ldns's presentation text of `rr` (one line, its newline removed).
std::string rr_text(const ldns_rr* rr) {
    char* s = ldns_rr2str(rr);
    if (!s) return {};
    std::string out(s);
    std::free(s);
    // ldns appends a comment to DNSKEY and DS text (";{id = 810 (zsk), size = 256b}"); the record ends before it.
    if (size_t c = out.find(" ;"); c != std::string::npos) out.resize(c);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\t'))
        out.pop_back();
    return out;
}

std::string stem_of(const std::string& path) {
    for (const char* ext : {".private", ".key"}) {
        size_t n = std::strlen(ext);
        if (path.size() > n && path.compare(path.size() - n, n, ext) == 0) return path.substr(0, path.size() - n);
    }
    return path;
}

} // namespace

bool parse_dnssec_algorithm(std::string_view s, DnssecAlgorithm* out) {
    std::string l = lower(std::string(s));
    if (l == "ecdsap256sha256" || l == "13" || l == "ecdsa")
        *out = DnssecAlgorithm::ecdsa_p256_sha256;
    else if (l == "ed25519" || l == "15")
        *out = DnssecAlgorithm::ed25519;
    else
        return false;
    return true;
}

const char* dnssec_algorithm_name(DnssecAlgorithm a) {
    return a == DnssecAlgorithm::ed25519 ? "ED25519" : "ECDSAP256SHA256";
}

DnssecKey::~DnssecKey() {
    if (dnskey_) ldns_rr_free(dnskey_);
    if (key_) ldns_key_deep_free(key_);
}

bool DnssecKey::finish(std::string* err) {
    ldns_rdf* owner = nullptr;
    if (ldns_str2rdf_dname(&owner, zone_.c_str()) != LDNS_STATUS_OK) {
        *err = "not a zone name: " + zone_;
        return false;
    }
    ldns_key_set_pubkey_owner(key_, owner);
    ldns_key_set_flags(key_, flags_);
    dnskey_ = ldns_key2rr(key_);
    if (!dnskey_) {
        *err = "cannot make the DNSKEY record of the key";
        return false;
    }
    tag_ = ldns_calc_keytag(dnskey_);
    ldns_key_set_keytag(key_, tag_);
    return true;
}

std::unique_ptr<DnssecKey> DnssecKey::generate(std::string_view zone, DnssecAlgorithm alg, bool ksk, std::string* err) {
    std::unique_ptr<DnssecKey> k(new DnssecKey);
    k->zone_ = fqdn(zone);
    k->alg_ = alg;
    k->flags_ = ksk ? 257 : 256;
    k->key_ = ldns_key_new_frm_algorithm(
        alg == DnssecAlgorithm::ed25519 ? LDNS_SIGN_ED25519 : LDNS_SIGN_ECDSAP256SHA256, 256);
    if (!k->key_) {
        *err = std::string("cannot generate a ") + dnssec_algorithm_name(alg) + " key";
        return nullptr;
    }
    if (!k->finish(err)) return nullptr;
    return k;
}

std::unique_ptr<DnssecKey> DnssecKey::load(const std::string& path, std::string* err) {
    const std::string stem = stem_of(path);
    const std::string pub = stem + ".key", priv = stem + ".private";
    std::unique_ptr<DnssecKey> k(new DnssecKey);

    FILE* f = std::fopen(pub.c_str(), "r");
    if (!f) {
        *err = pub + ": cannot open";
        return nullptr;
    }
    ldns_rr* rr = nullptr;
    int line = 0;
    ldns_status st = LDNS_STATUS_OK;
    // Comment lines (dnssec-keygen writes some) come back as LDNS_STATUS_SYNTAX_EMPTY.
    do {
        if (rr) ldns_rr_free(rr);
        rr = nullptr;
        st = ldns_rr_new_frm_fp_l(&rr, f, nullptr, nullptr, nullptr, &line);
    } while (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL || st == LDNS_STATUS_SYNTAX_ORIGIN);
    std::fclose(f);
    if (st != LDNS_STATUS_OK || !rr || ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY || ldns_rr_rd_count(rr) != 4) {
        *err = pub + ":" + std::to_string(line) + ": not a DNSKEY record" +
               (st != LDNS_STATUS_OK ? std::string(" (") + ldns_get_errorstr_by_id(st) + ")" : std::string());
        if (rr) ldns_rr_free(rr);
        return nullptr;
    }
    char* owner = ldns_rdf2str(ldns_rr_owner(rr));
    k->zone_ = fqdn(owner ? owner : "");
    std::free(owner);
    k->flags_ = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
    uint8_t alg = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
    if (alg != 13 && alg != 15) {
        *err = pub + ": algorithm " + std::to_string(alg) + " is not supported (13 ECDSAP256SHA256, 15 ED25519)";
        ldns_rr_free(rr);
        return nullptr;
    }
    k->alg_ = static_cast<DnssecAlgorithm>(alg);
    if (k->flags_ != 256 && k->flags_ != 257) {
        *err = pub + ": flags " + std::to_string(k->flags_) + " (a zone key has 256, or 257 for a KSK)";
        ldns_rr_free(rr);
        return nullptr;
    }

    f = std::fopen(priv.c_str(), "r");
    if (!f) {
        *err = priv + ": cannot open";
        ldns_rr_free(rr);
        return nullptr;
    }
    line = 0;
    st = ldns_key_new_frm_fp_l(&k->key_, f, &line);
    std::fclose(f);
    if (st != LDNS_STATUS_OK || !k->key_) {
        *err = priv + ":" + std::to_string(line) + ": " + ldns_get_errorstr_by_id(st);
        ldns_rr_free(rr);
        return nullptr;
    }
    if (static_cast<uint8_t>(ldns_key_algorithm(k->key_)) != alg) {
        *err = priv + ": its algorithm differs from " + pub + "'s";
        ldns_rr_free(rr);
        return nullptr;
    }
    if (!k->finish(err)) {
        ldns_rr_free(rr);
        return nullptr;
    }
    // The two files must be halves of one key: the public key derived from the private one is the .key file's.
    bool same = ldns_rdf_compare(ldns_rr_rdf(rr, 3), ldns_rr_rdf(k->dnskey_, 3)) == 0;
    ldns_rr_free(rr);
    if (!same) {
        *err = priv + " and " + pub + " are not the same key";
        return nullptr;
    }
    return k;
}

std::string DnssecKey::file_stem() const {
    char tag[8];
    std::snprintf(tag, sizeof tag, "%05u", static_cast<unsigned>(tag_));
    return "K" + zone_ + "+" + (alg_ == DnssecAlgorithm::ed25519 ? "015" : "013") + "+" + tag;
}

bool DnssecKey::write(const std::string& dir, std::string* stem, std::string* err) const {
    *stem = (dir.empty() ? std::string(".") : dir) + "/" + file_stem();
    char* priv = ldns_key2str(key_);
    if (!priv) {
        *err = "cannot format the private key";
        return false;
    }
    std::string priv_text(priv);
    std::free(priv);
    std::string pub_text = std::string("; This is a ") + (ksk() ? "key-signing" : "zone-signing") + " key, keyid " +
                           std::to_string(tag_) + ", for " + zone_ + "\n" + dnskey_text(3600) + "\n";
    {
        std::ofstream out(*stem + ".key", std::ios::trunc);
        out << pub_text;
        if (!out) {
            *err = *stem + ".key: cannot write";
            return false;
        }
    }
    // The private half is created unreadable by others before any byte of it is written.
    std::string path = *stem + ".private";
    FILE* f = std::fopen(path.c_str(), "wx");
    if (!f && errno == EEXIST) {
        *err = path + ": exists (not overwritten)";
        return false;
    }
    if (!f) {
        *err = path + ": cannot create";
        return false;
    }
    fchmod(fileno(f), 0600);
    bool ok = std::fputs(priv_text.c_str(), f) >= 0;
    ok = std::fclose(f) == 0 && ok;
    if (!ok) *err = path + ": cannot write";
    return ok;
}

namespace {
// The text of `rr` (consumed) with `ttl` and, when not 0, its type changed to `type`.
std::string text_as(ldns_rr* rr, uint32_t ttl, ldns_rr_type type) {
    if (!rr) return {};
    ldns_rr_set_ttl(rr, ttl);
    if (type) ldns_rr_set_type(rr, type);
    std::string s = rr_text(rr);
    ldns_rr_free(rr);
    return s;
}
ldns_hash hash_of(uint8_t digest) {
    return digest == 4 ? LDNS_SHA384 : LDNS_SHA256;
}
} // namespace

std::string DnssecKey::dnskey_text(uint32_t ttl) const {
    return text_as(ldns_rr_clone(dnskey_), ttl, static_cast<ldns_rr_type>(0));
}
std::string DnssecKey::cdnskey_text(uint32_t ttl) const {
    return text_as(ldns_rr_clone(dnskey_), ttl, LDNS_RR_TYPE_CDNSKEY);
}
std::string DnssecKey::ds_text(uint8_t digest, uint32_t ttl) const {
    return text_as(ldns_key_rr2ds(dnskey_, hash_of(digest)), ttl, static_cast<ldns_rr_type>(0));
}
std::string DnssecKey::cds_text(uint8_t digest, uint32_t ttl) const {
    return text_as(ldns_key_rr2ds(dnskey_, hash_of(digest)), ttl, LDNS_RR_TYPE_CDS);
}

} // namespace dns
