#include "dns/server/tsig_session.h"

#include <ldns/ldns.h>

#include <cstring>

#include "dns/wire/dns_name.h"

namespace dns {

namespace {
// The MAC field of a packet's TSIG RR (RFC 8945 §4.2: algorithm, time, fudge, MAC size+MAC ...); ldns keeps the
// MAC as rdf 3.
ldns_rdf* tsig_mac(const ldns_pkt* p) {
    ldns_rr* t = ldns_pkt_tsig(p);
    if (!t || ldns_rr_rd_count(t) < 4) return nullptr;
    return ldns_rdf_clone(ldns_rr_rdf(t, 3));
}
} // namespace

std::unique_ptr<TsigSession> TsigSession::verify(const uint8_t* query, size_t len,
                                                 const std::vector<TsigKeyConfig>& keys, std::string* err) {
    ldns_pkt* pkt = nullptr;
    if (ldns_wire2pkt(&pkt, query, len) != LDNS_STATUS_OK) {
        *err = "unparsable request";
        return nullptr;
    }
    ldns_rr* t = ldns_pkt_tsig(pkt);
    if (!t) {
        ldns_pkt_free(pkt);
        *err = "no TSIG record";
        return nullptr;
    }
    char* owner = ldns_rdf2str(ldns_rr_owner(t));
    std::string name = owner ? owner : "";
    free(owner);
    auto want = name_from_text(name);
    for (const auto& k : keys) {
        auto have = name_from_text(k.name);
        if (!want || !have || *want != *have) continue;
        if (!ldns_pkt_tsig_verify(pkt, query, len, k.name.c_str(), k.secret.c_str(), nullptr)) {
            ldns_pkt_free(pkt);
            *err = "bad TSIG signature for key " + k.name;
            return nullptr;
        }
        auto s = std::unique_ptr<TsigSession>(new TsigSession);
        s->key_name_ = k.name;
        s->secret_ = k.secret;
        s->mac_ = tsig_mac(pkt);
        ldns_pkt_free(pkt);
        return s;
    }
    ldns_pkt_free(pkt);
    *err = "unknown TSIG key " + name;
    return nullptr;
}

TsigSession::~TsigSession() {
    if (mac_) ldns_rdf_deep_free(mac_);
}

std::vector<uint8_t> TsigSession::sign(const uint8_t* msg, size_t len) {
    ldns_pkt* pkt = nullptr;
    if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK) return {};
    // RFC 8945 §5.3.1: messages after the first are signed with the timers only, chained to the previous MAC.
    ldns_status st = ldns_pkt_tsig_sign_next(pkt, key_name_.c_str(), secret_.c_str(), 300, "hmac-sha256.", mac_,
                                             first_ ? 0 : 1);
    std::vector<uint8_t> out;
    if (st == LDNS_STATUS_OK) {
        uint8_t* wire = nullptr;
        size_t wlen = 0;
        if (ldns_pkt2wire(&wire, pkt, &wlen) == LDNS_STATUS_OK) {
            out.assign(wire, wire + wlen);
            free(wire);
            if (mac_) ldns_rdf_deep_free(mac_);
            mac_ = tsig_mac(pkt);
            first_ = false;
        }
    }
    ldns_pkt_free(pkt);
    return out;
}

} // namespace dns
