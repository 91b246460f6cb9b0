// A zone's recent changes, for IXFR (RFC 1995): on each reload that raises the SOA serial, the difference between
// the previous version and the new one is computed once (records removed, records added) and kept with the new
// zone, together with the older differences, up to a configured number of versions. Immutable once the zone is
// shared; readers on any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dns {

class Zone;

// One record: owner (lower-case wire), type, TTL and uncompressed RDATA.
struct DiffRecord {
    std::string owner;
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::string rdata;
};

// The change from serial `from` to serial `to`: the old and new SOA records, then what was removed and added
// (a changed TTL is a removal and an addition, as in RFC 1995 §2).
struct ZoneDiff {
    uint32_t from = 0, to = 0;
    DiffRecord old_soa, new_soa;
    std::vector<DiffRecord> removed, added;
    size_t records() const noexcept { return removed.size() + added.size() + 2; }
};

struct ZoneHistory {
    // Consecutive differences, oldest first: diffs[i].to == diffs[i+1].from, and the last one ends at the serial of
    // the zone that holds this history.
    std::vector<std::shared_ptr<const ZoneDiff>> diffs;
    // Index of the difference starting at `serial`, or diffs.size() when none does.
    size_t find_from(uint32_t serial) const noexcept;
};

// The difference between two versions of one zone (both finalized or being built; only their node data is read).
std::shared_ptr<const ZoneDiff> diff_zones(const Zone& from, const Zone& to);

// True when both versions hold the same records (owner, type, TTL, RDATA; the SOA included). `skip_dnssec` leaves
// out what a signer adds (DNSKEY, CDS, CDNSKEY, NSEC, NSEC3, NSEC3PARAM, RRSIG), to compare a zone file just loaded
// with the signed version it replaces. Finds "same serial, other contents" on reload.
bool same_records(const Zone& a, const Zone& b, bool skip_dnssec);

// The history `to` keeps after a reload from `from`: from's history plus the new difference, the oldest dropped
// beyond `max_versions` (0 = no history) or while the kept records outnumber twice the zone's own (so the history
// never costs much more than the zone; an older client then gets the whole zone, which is smaller anyway). A serial
// that did not increase (RFC 1982) keeps from's history when the contents are the same, and starts none otherwise (an
// IXFR from an older serial would then be wrong).
std::shared_ptr<const ZoneHistory> next_history(const Zone& from, const Zone& to, size_t max_versions);

} // namespace dns
