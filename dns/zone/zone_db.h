// The compiled, immutable zone database the query engine reads. Built once per (re)load by dns/zone/zone_loader.h,
// then shared read-only by every worker (through a shared_ptr swapped on reload), so lookups take no lock.
//
// Each (owner, type) RRset keeps its RDATA in wire form, and — once dns/engine/answer_compiler.h has run — the
// zone's AnswerTable holds the complete answer of each exact-match query as packet bytes ready to follow the question.
// Nodes live in one array and are found through NameIndex, a flat open-addressing table of (hash tag, index) keyed by
// the lower-case wire name: one probe into one array, where a std::unordered_map walks bucket → node → key string, a
// cache miss each, and spends two allocations per name. Every ancestor of an owner up to the apex exists as a node, so
// an empty non-terminal is a node without RRsets (RFC 4592 §2.2.2).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/dnssec/nsec_chain.h"
#include "dns/wire/dns_name.h"
#include "dns/zone/answer_table.h"
#include "dns/zone/zone_history.h"

namespace dns {

class ZoneSigner;

struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// A fast 64-bit hash of a lower-case wire name (8 bytes per step). Not keyed: lookups compare the name after a hash
// match, so a crafted collision costs a probe, never a wrong answer.
uint64_t name_hash(std::string_view wire) noexcept;

struct RRset {
    uint16_t type = 0;
    uint32_t ttl = 0;
    uint16_t count = 0;
    // `count` records, each [u16 rdlength][rdata] with names uncompressed.
    std::string rdata;
    // In a signed zone (dns/dnssec/zone_signer.h): the RRSIGs covering this RRset, in the same form; else empty.
    std::string sigs;
    uint16_t sig_count = 0;

    // Calls fn(const uint8_t* rdata, uint16_t len) for each record.
    template <class Fn> void for_each(Fn&& fn) const noexcept { for_each_in(rdata, fn); }
    // The same over records in this form held elsewhere (RRSIGs, a record built per query).
    template <class Fn> static void for_each_in(std::string_view records, Fn&& fn) noexcept {
        size_t pos = 0;
        const auto* p = reinterpret_cast<const uint8_t*>(records.data());
        while (pos + 2 <= records.size()) {
            uint16_t len = static_cast<uint16_t>((p[pos] << 8) | p[pos + 1]);
            fn(p + pos + 2, len);
            pos += 2 + len;
        }
    }
};

inline constexpr uint32_t kNotSteered = 0xFFFFFFFFu;
inline constexpr uint8_t kSteersA = 1, kSteersAaaa = 2;

struct Node {
    std::string name; // lower-case wire
    std::vector<RRset> rrsets;
    bool delegation = false; // NS at a non-apex name: a zone cut
    // Index of this name in the steering set (dns/geo) when its A/AAAA answers are steered; kNotSteered otherwise.
    uint32_t steer = kNotSteered;
    uint8_t steered_types = 0; // kSteersA | kSteersAaaa: what the steering answers here (a signed zone's NSEC lists it)
    // Set by Zone::finalize(): an exact match on this name is answered from its own RRsets (no zone cut or DNAME at
    // or above it below the apex, no CNAME), so the engine may skip the walk down from the apex.
    bool direct = false;

    const RRset* find(uint16_t type) const noexcept {
        for (const auto& s : rrsets)
            if (s.type == type) return &s;
        return nullptr;
    }
    bool empty() const noexcept { return rrsets.empty(); }
};

// Lookup table over a zone's node array: open addressing, at most half full. A slot is 8 bytes (a 32-bit hash tag
// and the node's index), so a million names cost 16 MiB of table. Readers may share it once the zone is built.
class NameIndex {
  public:
    // Adds node `idx` of `nodes` (growing the table when it gets half full).
    void insert(const std::vector<Node>& nodes, uint32_t idx);
    const Node* find(const std::vector<Node>& nodes, std::string_view name, uint64_t hash) const noexcept {
        if (slots_.empty()) return nullptr;
        uint32_t tag = static_cast<uint32_t>(hash >> 32);
        for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.node == kEmpty) return nullptr;
            if (s.tag == tag && nodes[s.node].name == name) return &nodes[s.node];
        }
    }
    void clear() noexcept {
        slots_ = {};
        mask_ = 0;
        used_ = 0;
    }

  private:
    void place(uint64_t hash, uint32_t idx) noexcept;
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
    struct Slot {
        uint32_t tag = 0;
        uint32_t node = kEmpty;
    };
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t used_ = 0;
};

class Zone {
  public:
    std::string apex;      // lower-case wire
    std::string apex_text; // "example.test."
    std::string file;
    const Node* apex_node = nullptr;
    const RRset* soa = nullptr;
    uint32_t serial = 0;
    uint32_t negative_ttl = 0; // min(SOA TTL, SOA MINIMUM), RFC 2308 §3
    size_t record_count = 0;
    std::vector<const Node*> transfer_order; // apex first, then every node with data or steering (AXFR)
    // Pre-rendered exact-match answers (dns/engine/answer_compiler.h); empty until compiled.
    AnswerTable answers;
    // Set by finalize(): no wildcard, no zone cut, no DNAME, so a name below the apex that is not a node is
    // NXDOMAIN without the closest-encloser walk.
    bool plain = false;
    // Differences from the previous versions (IXFR, dns/zone/zone_history.h); null when none are kept.
    std::shared_ptr<const ZoneHistory> history;

    // DNSSEC (dns/dnssec/zone_signer.h); all empty for an unsigned zone. Answers to DO=1 queries come from
    // signed_answers (the same names and types as `answers`, with their RRSIGs); denial[i] is the signed NSEC of
    // node_list()[i]: its compact-denial NSEC, or with `denial = "nsec"` its NSEC in the zone's chain (nsec_chain:
    // then empty for empty non-terminals, which own none). Empty below a zone cut. resign_at: when the signatures
    // need renewing.
    std::shared_ptr<const ZoneSigner> signer;
    AnswerTable signed_answers;
    std::vector<RRset> denial;
    NsecChain nsec_chain; // empty unless the zone is signed with an NSEC chain
    uint64_t resign_at = 0;
    uint64_t signing_id = 0; // unique per signing (query-path signatures cached per thread are keyed by it)
    const RRset* denial_of(const Node& n) const noexcept {
        size_t i = static_cast<size_t>(&n - store_.data());
        return i < denial.size() && denial[i].count ? &denial[i] : nullptr;
    }

    const Node* find(std::string_view name) const noexcept { return index_.find(store_, name, name_hash(name)); }
    const Node* find(std::string_view name, uint64_t hash) const noexcept { return index_.find(store_, name, hash); }
    Node* find(std::string_view name) noexcept { return const_cast<Node*>(index_.find(store_, name, name_hash(name))); }
    // While building: the node for `name`, created (without ancestors) when missing. Adding a node may move the
    // others (one array): references from before are invalid after.
    Node& node(std::string_view name);
    // Before the zone is shared: the node for `name` (inside the zone), created with its empty non-terminal
    // ancestors when missing (steered names may have no static data). Reopens a finalized zone.
    Node& ensure_node(std::string_view name);
    void reserve_nodes(size_t n) { store_.reserve(n); }
    // Every node, in the order they were added (the apex included).
    const std::vector<Node>& node_list() const noexcept { return store_; }
    std::vector<Node>& node_list() noexcept { return store_; }

    // After the last node is added (ZoneDb::add calls it when needed): the nodes' `direct` flags, apex_node, soa
    // and transfer_order, which point into the node array. Idempotent.
    void finalize();
    bool finalized() const noexcept { return finalized_; }

  private:
    std::vector<Node> store_;
    NameIndex index_;
    bool finalized_ = false;
};

// Many zones; the one with the longest apex that is a suffix of the query name answers.
class ZoneDb {
  public:
    // A zone still being built is finalized here; a shared (const) zone must be finalized already (a zone kept
    // from the previous load on reload is).
    void add(std::shared_ptr<Zone> z);
    void add(std::shared_ptr<const Zone> z);
    // The zone for `name` (longest match); *skip receives how many leading labels of name lie above the apex.
    // With `full_hash`, also name_hash(name) — computed on the way (the longest suffix is the name), so a caller
    // looking the name up inside the zone does not hash it again.
    const Zone* find_zone(const NameBuf& name, unsigned* skip, uint64_t* full_hash = nullptr) const noexcept {
        if (full_hash) *full_hash = name_hash(name.view());
        // Shortest apex first would find a parent zone before its child; longest first is the rule. Only suffixes at
        // least as long as the shortest apex can match, and most servers hold few zones: one probe each.
        for (unsigned i = 0; i <= name.labels; i++) {
            std::string_view suffix = name.suffix(i);
            if (suffix.size() < min_apex_len_) break;
            uint64_t h = i == 0 && full_hash ? *full_hash : name_hash(suffix);
            for (size_t j = h & apex_mask_; !apex_slots_.empty(); j = (j + 1) & apex_mask_) {
                const ApexSlot& s = apex_slots_[j];
                if (!s.zone) break;
                if (s.hash == h && s.zone->apex == suffix) {
                    *skip = i;
                    return s.zone;
                }
            }
        }
        return nullptr;
    }
    std::shared_ptr<const Zone> get(std::string_view apex) const {
        auto it = zones_.find(apex);
        return it == zones_.end() ? nullptr : it->second;
    }
    const auto& zones() const noexcept { return zones_; }

  private:
    void reindex();
    struct ApexSlot {
        uint64_t hash = 0;
        const Zone* zone = nullptr;
    };
    std::unordered_map<std::string, std::shared_ptr<const Zone>, NameHash, std::equal_to<>> zones_;
    std::vector<ApexSlot> apex_slots_;
    size_t apex_mask_ = 0;
    size_t min_apex_len_ = 0;
};

} // namespace dns
