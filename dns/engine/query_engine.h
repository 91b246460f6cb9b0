// The authoritative answer logic as a pure function: query bytes in, response bytes out. No sockets, no clock,
// no heap allocation, no lock, so the UDP and TCP servers, the tests and the fuzzer all drive the same code.
//
// Rules implemented (issue 4): RFC 1034 §4.3.2 lookup with in-zone CNAME chasing (bounded), RFC 4592 wildcards
// with the closest-encloser rule and empty non-terminals, referrals (NS + glue, AA clear), RFC 2308 negative
// answers (SOA TTL = min(TTL, MINIMUM)), RFC 2181 §9 truncation (TC when the answer or authority does not fit;
// additional records are dropped silently), RFC 6891 EDNS (BADVERS, buffer size, DO echoed, unknown options not
// echoed), RFC 5001 NSID, RFC 7871 ECS echo, RFC 8482 minimal ANY (one RRset), CHAOS TXT identity names,
// REFUSED outside our zones, NOTIMP for other opcodes, FORMERR for malformed queries (both with OPT for an EDNS
// query), QR=1 dropped, CD cleared (RFC 4035 §3.1.6). Issue 12: RFC 8945 TSIG on every signed query (rejections
// NOTAUTH with the TSIG error; accepted queries get signed answers).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/engine/steering_hook.h"
#include "dns/wire/tsig.h"
#include "dns/zone/zone_db.h"

namespace dns {

class SignatureCache;

struct EngineConfig {
    std::string chaos_id;             // id.server / hostname.bind answer; "" = REFUSED
    std::string chaos_hostname;       // hostname.bind; falls back to chaos_id when ""
    std::string chaos_version;        // version.bind / version.server; "" = REFUSED
    std::string nsid;                 // RFC 5001 payload (raw bytes); "" = not sent
    uint16_t edns_buffer_size = 1232; // our UDP payload size (advertised, and the cap on answers)
    const SteeringHook* steering = nullptr;
    std::vector<TsigKey> tsig_keys; // RFC 8945: signed queries are checked against these, and answered signed
    bool signed_zones = false;      // some zone is DNSSEC-signed: DO=1 answers may be signed now (QueryContext::now_s)
};

struct QueryContext {
    bool tcp = false;
    const sockaddr* client = nullptr;
    unsigned worker = 0;
    uint64_t now_s = 0;    // Unix time, for TSIG and online DNSSEC signatures (only such queries read it)
    bool force_tc = false; // answer with TC set and no records (rate limiting's slip), OPT and TSIG kept
    // The answering thread's cache of signatures made per query (DNSSEC); null = sign every time.
    SignatureCache* signatures = nullptr;
    // Explain (dns/explain): the steering decision is recorded here; null when answering queries.
    geo::AnswerTrace* steering_trace = nullptr;
};

enum class AnswerKind : uint8_t {
    answered, // out holds the response
    dropped,  // send nothing
    transfer, // AXFR/IXFR over TCP: the server streams the zone (info.zone says which; rcode REFUSED → answered)
};

struct AnswerInfo {
    AnswerKind kind = AnswerKind::answered;
    uint16_t rcode = 0; // including extended (BADVERS = 16)
    uint16_t qtype = 0;
    bool truncated = false;
    const Zone* zone = nullptr;
    size_t question_end = 0; // end of the question in the query (0 when it did not parse)
    bool tsig = false;       // the query carries a TSIG record
    // A TSIG the engine verified (the answer is signed; a transfer's messages are signed with TsigSession), or
    // the TSIG error it answered (NOTAUTH: BADSIG, BADKEY, BADTIME, BADTRUNC).
    const TsigKey* tsig_key = nullptr;
    size_t tsig_offset = 0;
    uint16_t tsig_error = 0;
    // Rate limiting's name for this answer when it is not the query name (lower-case wire): the zone apex for
    // NXDOMAIN, the delegation for a referral.
    std::string_view imputed_name;
};

// Answers one query. Returns the response length (0 = nothing to send; see info->kind). `out_cap` bounds the
// response; UDP answers are further bounded by the client's EDNS size (512 without EDNS) and config.edns_buffer_size.
size_t answer_query(const ZoneDb& db, const EngineConfig& config, const QueryContext& ctx, const uint8_t* query,
                    size_t query_len, uint8_t* out, size_t out_cap, AnswerInfo* info) noexcept;

// Memory hints for a batch of queries: a server calls prefetch_answer on every query of a batch, then
// prefetch_answer_record on each, then answers them, so the pre-rendered answers' cache misses overlap instead of
// stalling one query at a time. Pure hints: skipping them changes nothing but speed.
struct AnswerPrefetch {
    const AnswerTable* table = nullptr; // the zone's table this query will read (DO=1 on a signed zone: its own)
    uint64_t hash = 0;
};
void prefetch_answer(const ZoneDb& db, const uint8_t* query, size_t len, AnswerPrefetch* p) noexcept;
void prefetch_answer_record(const AnswerPrefetch& p) noexcept;

// For AXFR: writes the response header and question of `query` (already parsed OK) into out; returns its length,
// or 0 when it does not fit.
size_t write_response_header(const uint8_t* query, size_t question_end, uint8_t* out, size_t out_cap) noexcept;

} // namespace dns
