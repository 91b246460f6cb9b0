// Zone transfer answers, produced one message at a time so a server can stream them with backpressure: AXFR
// (RFC 5936: SOA, every other record, SOA again) and IXFR (RFC 1995): the SOA alone when the client is current,
// the differences kept in the zone's history (dns/zone/zone_history.h) when the client's serial is one of its
// versions, and otherwise the whole zone, AXFR-style (§4). RRsets larger than a message are split across messages
// (RFC 5936 §2.2 lets one RRset span messages). Access control and framing are the server's; no I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dns/zone/zone_db.h"

namespace dns {

class WireWriter;

enum class TransferKind : uint8_t {
    axfr,
    ixfr_current,     // the client's serial is ours (or newer): our SOA alone
    ixfr_incremental, // differences from the client's serial
    ixfr_full,        // no history from the client's serial: the whole zone
};

const char* transfer_kind_name(TransferKind k) noexcept;

class ZoneTransfer {
  public:
    // `query` parsed OK (question at [12, question_end)); `ixfr` when it asked for IXFR, with `client_serial` the
    // serial of the SOA in its authority section (none: answered like AXFR). Holds `zone` until destroyed.
    ZoneTransfer(std::shared_ptr<const Zone> zone, const uint8_t* query, size_t question_end, bool ixfr,
                 std::optional<uint32_t> client_serial);

    // Writes the next message (header, question, records) into buf, at most `cap` bytes. Returns its length, or 0
    // when the stream is over (done()) or a single record cannot fit in `cap` (failed()).
    size_t next(uint8_t* buf, size_t cap) noexcept;
    bool done() const noexcept { return state_ == State::done; }
    bool failed() const noexcept { return failed_; }
    TransferKind kind() const noexcept { return kind_; }
    const Zone& zone() const noexcept { return *zone_; }
    size_t messages() const noexcept { return messages_; }
    size_t records() const noexcept { return records_; }

  private:
    enum class State : uint8_t {
        first_soa,
        nodes,
        diff_old_soa,
        diff_removed,
        diff_new_soa,
        diff_added,
        last_soa,
        done
    };
    struct Item {
        std::string_view owner;
        uint16_t type;
        uint32_t ttl;
        const uint8_t* rdata;
        uint16_t len;
    };
    // The record at the cursor outside the nodes (the SOAs, the differences); false when done.
    bool current(Item* it) noexcept;
    void advance() noexcept;
    void skip_to_valid() noexcept;        // moves the cursor off the end of a difference's records
    void prefetch_ahead() const noexcept; // asks the cache for the nodes a few places ahead of the cursor
    // Writes the nodes' records from the cursor on, walking nodes, RRsets and records directly (the cursor
    // functions above re-derive the record from the cursor twice per record: most of a large transfer's cost
    // besides the names). False when the message is full (or, with `*an` still 0, the stream failed); true when
    // the nodes are done (the closing SOA is next).
    bool write_nodes(WireWriter& w, uint16_t* an) noexcept;

    std::shared_ptr<const Zone> zone_;
    std::string question_; // header and question of the query
    TransferKind kind_ = TransferKind::axfr;
    State state_ = State::first_soa;
    // AXFR cursor: node in transfer_order, RRset in it, byte offset of the record in its rdata.
    size_t node_ = 0, set_ = 0, off_ = 0;
    // The node's i-th RRset in a transfer: its own, then its chain NSEC; null past the last.
    const RRset* set_at(const Node* n, size_t i) const noexcept;
    // IXFR cursor: difference and record in it.
    size_t diff_ = 0, rec_ = 0;
    size_t messages_ = 0, records_ = 0;
    bool failed_ = false;
};

} // namespace dns
