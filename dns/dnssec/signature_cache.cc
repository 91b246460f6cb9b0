#include "dns/dnssec/signature_cache.h"

#include <cstring>

namespace dns {

namespace {
// FNV-1a, 64 bits: the key bytes are short and the table is per thread; a collision costs a miss (the owner, type,
// TTL and zone are compared), and two record sets of one owner colliding costs a wrong signature only with a 64-bit
// collision of their bytes.
uint64_t fnv(uint64_t h, std::string_view s) noexcept {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}
} // namespace

uint64_t SignatureCache::key_hash(std::string_view owner, uint16_t type, uint32_t ttl,
                                  std::string_view records) noexcept {
    uint64_t h = fnv(14695981039346656037ull, owner);
    h = (h ^ type) * 1099511628211ull;
    h = (h ^ ttl) * 1099511628211ull;
    return fnv(h, records);
}

const SignatureCache::Slot* SignatureCache::match(uint64_t signing_id, std::string_view owner, uint16_t type,
                                                  uint32_t ttl, uint64_t h) const noexcept {
    if (!slots_) return nullptr;
    const Slot& s = slots_[h % kSlots];
    if (s.signing_id != signing_id || s.records_hash != h || s.type != type || s.ttl != ttl ||
        s.owner_len != owner.size() || std::memcmp(s.owner, owner.data(), owner.size()) != 0)
        return nullptr;
    return &s;
}

std::string_view SignatureCache::find(uint64_t signing_id, std::string_view owner, uint16_t type, uint32_t ttl,
                                      std::string_view records, uint64_t now_s) const noexcept {
    const Slot* s = match(signing_id, owner, type, ttl, key_hash(owner, type, ttl, records));
    if (!s || now_s < s->made_s || now_s - s->made_s >= kReuseSeconds) return {};
    return {reinterpret_cast<const char*>(s->sigs), s->sigs_len};
}

void SignatureCache::store(uint64_t signing_id, std::string_view owner, uint16_t type, uint32_t ttl,
                           std::string_view records, std::string_view sigs, uint64_t now_s) {
    if (signing_id == 0 || owner.size() > kMaxOwner || sigs.size() > kMaxSigs) return;
    if (!slots_) slots_ = std::make_unique<Slot[]>(kSlots);
    uint64_t h = key_hash(owner, type, ttl, records);
    Slot& s = slots_[h % kSlots];
    s.signing_id = signing_id;
    s.records_hash = h;
    s.made_s = now_s;
    s.ttl = ttl;
    s.type = type;
    s.owner_len = static_cast<uint8_t>(owner.size());
    std::memcpy(s.owner, owner.data(), owner.size());
    s.sigs_len = static_cast<uint16_t>(sigs.size());
    std::memcpy(s.sigs, sigs.data(), sigs.size());
}

} // namespace dns
