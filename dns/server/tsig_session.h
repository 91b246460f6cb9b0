// The TSIG signing state of one answer stream (RFC 8945 §5.3.1): a zone transfer's messages, each signed, the first
// covering the request's MAC and each later one the previous message's MAC. The engine has already checked the
// request's TSIG (key, algorithm, MAC, time) and answered every rejection itself (NOTAUTH with BADKEY, BADSIG,
// BADTIME or BADTRUNC); a transfer reaches the server only with a verified TSIG (AnswerInfo::tsig_key) or none.
//
// The session owns a copy of the key, so a reload that replaces the settings mid-transfer does not pull the key
// from under it. One thread; not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dns/engine/query_engine.h"
#include "dns/wire/tsig.h"

namespace dns {

class TsigSession {
  public:
    // The session for the answers to `request` (len bytes), which the engine accepted as signed: `info` is what
    // answer_query reported for it (info.tsig_key set). nullptr when the request is not signed (or no longer
    // verifies: a reload replaced the key in between).
    static std::unique_ptr<TsigSession> for_request(const uint8_t* request, size_t len, const AnswerInfo& info,
                                                    uint64_t now_s);
    TsigSession(const TsigSession&) = delete;
    TsigSession& operator=(const TsigSession&) = delete;

    // The most bytes sign() adds to a message: build each message at most this much short of its limit.
    size_t reserve() const noexcept { return signer_.reserve(); }
    // Signs the complete message msg[0, len) in place (cap bytes of room): appends the TSIG record and adds it to
    // ARCOUNT. Call it for every message of the stream, in the order they are sent. Returns the new length, or 0
    // when the record does not fit (the message is unchanged). No allocation.
    size_t sign(uint8_t* msg, size_t len, size_t cap, uint64_t now_s) noexcept {
        return signer_.sign(msg, len, cap, now_s);
    }
    const std::string& key_name() const noexcept { return key_.text_name; }

  private:
    TsigSession() = default;
    TsigKey key_;
    TsigSigner signer_;
};

} // namespace dns
