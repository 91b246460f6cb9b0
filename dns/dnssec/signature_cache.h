// RRSIGs made on the query path, kept per answering thread for reuse: the compact-denial NSEC of a name that does not
// exist and the RRsets a wildcard answers for a name are signed when first asked for, and a resolver population asks
// the same such names again and again (typos, probes, AAAA/HTTPS lookups of names that have only A), so the next ask
// copies the signature instead of computing one (~30 µs of ECDSA).
//
// Direct-mapped over a fixed array allocated on first use (a slot per key hash; a newer key takes the slot), so its
// memory is bounded (kSlots × sizeof(Slot), about 2.6 MiB per answering thread) and a lookup is one slot: no lock, no
// allocation. An entry is keyed by the zone's signing (Zone::signing_id: a reload or a re-signing starts afresh),
// owner, type, TTL and the records' bytes, and is reused for at most kReuseSeconds, so what it hands out keeps almost
// all of its validity.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace dns {

class SignatureCache {
  public:
    static constexpr size_t kSlots = 4096;
    static constexpr uint32_t kReuseSeconds = 3600;
    static constexpr size_t kMaxSigs = 400; // one RRSIG RDATA with its length: 20 + signer (≤ 255) + 64 + 2
    static constexpr size_t kMaxOwner = 255;

    // The RRSIGs ([u16 length][rdata]) stored for this RRset, or empty.
    std::string_view find(uint64_t signing_id, std::string_view owner, uint16_t type, uint32_t ttl,
                          std::string_view records, uint64_t now_s) const noexcept;
    void store(uint64_t signing_id, std::string_view owner, uint16_t type, uint32_t ttl, std::string_view records,
               std::string_view sigs, uint64_t now_s);

  private:
    struct Slot {
        uint64_t signing_id = 0; // 0 = empty
        uint64_t records_hash = 0;
        uint64_t made_s = 0;
        uint32_t ttl = 0;
        uint16_t type = 0;
        uint16_t sigs_len = 0;
        uint8_t owner_len = 0;
        uint8_t owner[kMaxOwner];
        uint8_t sigs[kMaxSigs];
    };
    static uint64_t key_hash(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view records) noexcept;
    const Slot* match(uint64_t signing_id, std::string_view owner, uint16_t type, uint32_t ttl,
                      uint64_t h) const noexcept;
    std::unique_ptr<Slot[]> slots_;
};

} // namespace dns
