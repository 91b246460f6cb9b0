// The classic NSEC chain (RFC 4034 §4, RFC 4035 §2.3) of a zone signed with `denial = "nsec"`: every authoritative
// name, in canonical order, owns an NSEC naming the next one. What NSD and Knot serve from a pre-signed zone: every
// negative answer — NXDOMAIN at any name, NODATA at an empty non-terminal, the proof beside a wildcard answer — is
// made of NSECs signed at load, so no query is signed as it is answered, at the price of a chain anyone can walk
// (the zone's names are public). Compact denial (compact_denial.h) is the private alternative.
//
// The chain keeps each name's canonical sort key, so finding the NSEC that covers a name is a binary search over
// byte strings (memcmp), with the key of the name looked up built on the stack: no allocation on the query path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dns {

// The longest canonical key of a wire name (255 bytes): each byte may be escaped into two, plus a separator a label.
inline constexpr size_t kMaxCanonicalKey = 2 * 255 + 128;

// A byte string whose memcmp order is the RFC 4034 §6.1 canonical order of lower-case wire names: the labels from
// the rightmost, each followed by a 0x00 separator, with bytes 0x00 and 0x01 escaped as 0x01 0x01 and 0x01 0x02 so
// that the separator sorts below every byte (a label that is a prefix of another sorts first). Returns its length.
size_t canonical_key(std::string_view wire, uint8_t* out) noexcept;

class NsecChain {
  public:
    // Adds a name (lower-case wire) that owns an NSEC: node index `node` of the zone. Before seal().
    void add(std::string_view wire, uint32_t node);
    // Sorts the chain; after it, next_of() and cover() may be called.
    void seal();

    bool empty() const noexcept { return nodes_.empty(); }
    size_t size() const noexcept { return nodes_.size(); }
    // The node index of the chain's i-th name, in canonical order.
    uint32_t node_at(size_t i) const noexcept { return nodes_[i]; }
    // The position in the chain of the last name canonically before `wire` (the owner of the NSEC that covers a
    // name the chain does not hold), or of the name itself when it is in the chain. The apex sorts first in its
    // zone, so every name of the zone has one.
    size_t floor(std::string_view wire) const noexcept;

  private:
    std::vector<std::string> keys_;
    std::vector<uint32_t> nodes_;
};

} // namespace dns
