// TSIG (RFC 8945, hmac-sha256) for zone transfers, done with ldns: verifies a request against the configured keys,
// then signs each message of the answer stream (the first with the request's MAC, the next ones chained to the
// previous MAC). Transfers are rare, so this path may allocate; the query hot path never comes here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/config/dns_config.h"

struct ldns_struct_rdf;

namespace dns {

class TsigSession {
public:
    // The request's TSIG verified with one of `keys` (matched by name): a session, or nullptr with *err set.
    static std::unique_ptr<TsigSession> verify(const uint8_t* query, size_t len, const std::vector<TsigKeyConfig>& keys,
                                               std::string* err);
    ~TsigSession();
    TsigSession(const TsigSession&) = delete;
    TsigSession& operator=(const TsigSession&) = delete;

    // The signed form of one response message; empty on failure.
    std::vector<uint8_t> sign(const uint8_t* msg, size_t len);
    const std::string& key_name() const { return key_name_; }

private:
    TsigSession() = default;
    std::string key_name_;
    std::string secret_;
    ldns_struct_rdf* mac_ = nullptr; // the MAC the next message chains to
    bool first_ = true;
};

} // namespace dns
