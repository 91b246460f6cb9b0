#include "dns/server/tsig_session.h"

namespace dns {

std::unique_ptr<TsigSession> TsigSession::for_request(const uint8_t* request, size_t len, const AnswerInfo& info,
                                                      uint64_t now_s) {
    if (!info.tsig_key || !info.tsig_offset) return nullptr;
    std::unique_ptr<TsigSession> s(new TsigSession);
    s->key_ = *info.tsig_key;
    // Checked again against the session's own copy of the key: the signer keeps a pointer to it.
    TsigCheck c = tsig_check_request(request, len, info.tsig_offset, std::span<const TsigKey>(&s->key_, 1), now_s);
    if (c.status != TsigCheck::Status::ok) return nullptr;
    s->signer_ = TsigSigner(c);
    return s;
}

} // namespace dns
