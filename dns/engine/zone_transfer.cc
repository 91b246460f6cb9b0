#include "dns/engine/zone_transfer.h"

#include "dns/engine/query_engine.h"
#include "dns/engine/rr_writer.h"
#include "dns/wire/dns_constants.h"

namespace dns {

const char* transfer_kind_name(TransferKind k) noexcept {
    switch (k) {
    case TransferKind::axfr:
        return "AXFR";
    case TransferKind::ixfr_current:
        return "IXFR (up to date)";
    case TransferKind::ixfr_incremental:
        return "IXFR (incremental)";
    case TransferKind::ixfr_full:
        return "IXFR (full zone)";
    }
    return "?";
}

ZoneTransfer::ZoneTransfer(std::shared_ptr<const Zone> zone, const uint8_t* query, size_t question_end, bool ixfr,
                           std::optional<uint32_t> client_serial)
    : zone_(std::move(zone)), question_(reinterpret_cast<const char*>(query), question_end) {
    if (ixfr && client_serial) {
        uint32_t ours = zone_->serial, theirs = *client_serial;
        // RFC 1995 §2: the same or a newer serial than ours gets our SOA alone.
        if (theirs == ours || static_cast<int32_t>(theirs - ours) > 0) {
            kind_ = TransferKind::ixfr_current;
        } else if (zone_->history && zone_->history->find_from(theirs) < zone_->history->diffs.size()) {
            kind_ = TransferKind::ixfr_incremental;
            diff_ = zone_->history->find_from(theirs);
            // Changes larger than the zone itself: the whole zone is the shorter answer (RFC 1995 §4 allows it).
            size_t changes = 0;
            for (size_t i = diff_; i < zone_->history->diffs.size(); i++)
                changes += zone_->history->diffs[i]->records();
            if (changes > zone_->record_count + 1) kind_ = TransferKind::ixfr_full;
        } else {
            kind_ = TransferKind::ixfr_full;
        }
    }
}

const RRset* ZoneTransfer::set_at(const Node* n, size_t i) const noexcept {
    if (i < n->rrsets.size()) return &n->rrsets[i];
    // A chain-signed zone's NSECs travel with it, so a secondary can serve its denials (compact ones are made per
    // query: a secondary makes its own).
    if (i == n->rrsets.size() && !zone_->nsec_chain.empty()) return zone_->denial_of(*n);
    return nullptr;
}

void ZoneTransfer::prefetch_ahead() const noexcept {
    // A transfer walks every node once, and each record's owner, RRset array and (past the short-string buffer)
    // RDATA live in blocks of their own: without a hint each is a cache miss in a zone larger than the cache. Two
    // stages, so a node's RRset array has arrived by the time its RDATA pointers are read.
    const auto& order = zone_->transfer_order;
    constexpr size_t kFar = 16, kNear = 8;
    if (node_ + kFar < order.size()) {
        const Node* far = order[node_ + kFar];
        __builtin_prefetch(far->name.data());
        __builtin_prefetch(far->rrsets.data());
    }
    if (node_ + kNear < order.size()) {
        for (const RRset& set : order[node_ + kNear]->rrsets)
            __builtin_prefetch(set.rdata.data());
    }
}

void ZoneTransfer::skip_to_valid() noexcept {
    if (state_ != State::diff_removed && state_ != State::diff_added) return;
    const ZoneDiff& d = *zone_->history->diffs[diff_];
    const auto& v = state_ == State::diff_removed ? d.removed : d.added;
    if (rec_ < v.size()) return;
    rec_ = 0;
    if (state_ == State::diff_removed) {
        state_ = State::diff_new_soa;
        return;
    }
    diff_++;
    state_ = diff_ < zone_->history->diffs.size() ? State::diff_old_soa : State::last_soa;
}

bool ZoneTransfer::current(Item* it) noexcept {
    auto from_record = [&](const DiffRecord& r) {
        *it = {r.owner, r.type, r.ttl, reinterpret_cast<const uint8_t*>(r.rdata.data()),
               static_cast<uint16_t>(r.rdata.size())};
    };
    switch (state_) {
    case State::first_soa:
    case State::last_soa: {
        const RRset& soa = *zone_->soa;
        const auto* p = reinterpret_cast<const uint8_t*>(soa.rdata.data());
        *it = {zone_->apex, rrtype::SOA, soa.ttl, p + 2, static_cast<uint16_t>((p[0] << 8) | p[1])};
        return true;
    }
    case State::diff_old_soa:
        from_record(zone_->history->diffs[diff_]->old_soa);
        return true;
    case State::diff_new_soa:
        from_record(zone_->history->diffs[diff_]->new_soa);
        return true;
    case State::diff_removed:
        from_record(zone_->history->diffs[diff_]->removed[rec_]);
        return true;
    case State::diff_added:
        from_record(zone_->history->diffs[diff_]->added[rec_]);
        return true;
    case State::nodes: // write_nodes' own
    case State::done:
        return false;
    }
    return false;
}

void ZoneTransfer::advance() noexcept {
    switch (state_) {
    case State::first_soa:
        if (kind_ == TransferKind::ixfr_current)
            state_ = State::done;
        else if (kind_ == TransferKind::ixfr_incremental)
            state_ = State::diff_old_soa;
        else
            state_ = State::nodes;
        break;
    case State::diff_old_soa:
        state_ = State::diff_removed;
        rec_ = 0;
        break;
    case State::diff_new_soa:
        state_ = State::diff_added;
        rec_ = 0;
        break;
    case State::diff_removed:
    case State::diff_added:
        rec_++;
        break;
    case State::nodes: // write_nodes moves its own cursor
        return;
    case State::last_soa:
    case State::done:
        state_ = State::done;
        return;
    }
    skip_to_valid();
}

bool ZoneTransfer::write_nodes(WireWriter& w, uint16_t* an) noexcept {
    const auto& order = zone_->transfer_order;
    while (node_ < order.size()) {
        const Node* n = order[node_];
        const std::string_view owner = n->name;
        for (const RRset* set; (set = set_at(n, set_)) != nullptr; set_++, off_ = 0) {
            // The SOA record opens and closes the transfer on its own; its RRSIGs come with the other records.
            if (n == zone_->apex_node && set->type == rrtype::SOA && off_ < set->rdata.size()) off_ = set->rdata.size();
            const auto* rdata = reinterpret_cast<const uint8_t*>(set->rdata.data());
            const auto* sigs = reinterpret_cast<const uint8_t*>(set->sigs.data());
            const size_t rdata_end = set->rdata.size(), end = rdata_end + set->sigs.size();
            // Offsets past the records walk the set's RRSIGs (a signed zone).
            while (off_ + 2 <= end) {
                const bool sig = off_ >= rdata_end;
                const uint8_t* p = sig ? sigs + (off_ - rdata_end) : rdata + off_;
                const auto len = static_cast<uint16_t>((p[0] << 8) | p[1]);
                if (*an == 0xFFFF) return false;
                if (!write_record(w, owner, sig ? rrtype::RRSIG : set->type, set->ttl, p + 2, len)) {
                    if (*an == 0) failed_ = true; // one record larger than a whole message
                    return false;
                }
                ++*an;
                records_++;
                off_ += 2u + len;
            }
        }
        node_++;
        set_ = 0;
        off_ = 0;
        prefetch_ahead();
    }
    state_ = State::last_soa;
    return true;
}

size_t ZoneTransfer::next(uint8_t* buf, size_t cap) noexcept {
    if (failed_ || state_ == State::done) return 0;
    if (state_ == State::diff_removed || state_ == State::diff_added) skip_to_valid();
    const auto* q = reinterpret_cast<const uint8_t*>(question_.data());
    if (!write_response_header(q, question_.size(), buf, cap)) {
        failed_ = true;
        return 0;
    }
    WireWriter w(buf, cap);
    w.bytes(q, question_.size());
    write_response_header(q, question_.size(), buf, cap); // flags and counts, in place
    w.add_target(kHeaderSize);
    uint16_t an = 0;
    Item it;
    for (;;) {
        if (state_ == State::nodes && !write_nodes(w, &an)) {
            if (failed_) return 0;
            break;
        }
        if (an == 0xFFFF || !current(&it)) break;
        if (!write_record(w, it.owner, it.type, it.ttl, it.rdata, it.len)) {
            if (an == 0) {
                failed_ = true; // one record larger than a whole message
                return 0;
            }
            break;
        }
        an++;
        records_++;
        advance();
    }
    w.patch_u16(6, an);
    messages_++;
    return w.pos();
}

} // namespace dns
