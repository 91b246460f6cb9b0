#include "dns/zone/zone_db.h"

#include <bit>
#include <cstring>

#include "dns/wire/dns_constants.h"

namespace dns {

uint64_t name_hash(std::string_view wire) noexcept {
    const char* p = wire.data();
    size_t n = wire.size(), i = 0;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        std::memcpy(&v, p + i, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    uint64_t v = 0;
    std::memcpy(&v, p + i, n - i);
    h = (h ^ v) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

void NameIndex::place(uint64_t hash, uint32_t idx) noexcept {
    size_t i = hash & mask_;
    while (slots_[i].node != kEmpty)
        i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<uint32_t>(hash >> 32), idx};
}

void NameIndex::insert(const std::vector<Node>& nodes, uint32_t idx) {
    // Half full at most: a miss (NXDOMAIN walks) ends at an empty slot after a probe or two.
    if ((used_ + 1) * 2 > slots_.size()) {
        size_t cap = std::bit_ceil(std::max<size_t>(16, nodes.capacity() * 2));
        while ((used_ + 1) * 2 > cap)
            cap *= 2;
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
        for (uint32_t k = 0; k < idx; k++)
            place(name_hash(nodes[k].name), k);
    }
    place(name_hash(nodes[idx].name), idx);
    used_ = idx + 1;
}

Node& Zone::node(std::string_view name) {
    if (Node* n = find(name)) return *n;
    finalized_ = false;
    Node& n = store_.emplace_back();
    n.name = std::string(name);
    index_.insert(store_, static_cast<uint32_t>(store_.size() - 1));
    return store_.back();
}

Node& Zone::ensure_node(std::string_view name) {
    if (find(name)) return node(name);
    size_t pos = 0;
    while (name.size() - pos > apex.size()) {
        pos += 1 + static_cast<uint8_t>(name[pos]);
        auto anc = name.substr(pos);
        if (anc.size() <= apex.size()) break;
        node(anc);
    }
    return node(name);
}

void Zone::finalize() {
    if (finalized_) return;
    store_.shrink_to_fit();
    plain = true;
    for (Node& node : store_) {
        if (node.delegation || node.find(rrtype::DNAME) ||
            (node.name.size() > 1 && node.name[0] == 1 && node.name[1] == '*'))
            plain = false;
        bool direct = !node.delegation && !node.find(rrtype::CNAME);
        // A cut or a DNAME strictly between the apex and this name takes precedence over the name's own data
        // (RFC 1034 §4.3.2 step 3b, RFC 6672 §3.2).
        std::string_view n(node.name);
        size_t pos = 0;
        while (direct && n.size() - pos > apex.size()) {
            pos += 1 + static_cast<uint8_t>(n[pos]);
            std::string_view anc = n.substr(pos);
            if (anc.size() <= apex.size()) break;
            const Node* a = find(anc);
            if (a && (a->delegation || a->find(rrtype::DNAME))) direct = false;
        }
        node.direct = direct;
    }
    // Nodes may have moved since the loader looked: every pointer into them is taken anew.
    apex_node = find(apex);
    soa = apex_node ? apex_node->find(rrtype::SOA) : nullptr;
    transfer_order.clear();
    if (apex_node) transfer_order.push_back(apex_node);
    for (const Node& node : store_)
        // Any order (RFC 5936 §2.2). A steered name transfers no data, but owns an NSEC in a chain-signed zone.
        if (&node != apex_node && (!node.empty() || node.steer != kNotSteered)) transfer_order.push_back(&node);
    finalized_ = true;
}

void ZoneDb::add(std::shared_ptr<Zone> z) {
    if (!z->finalized()) z->finalize();
    add(std::shared_ptr<const Zone>(std::move(z)));
}

void ZoneDb::add(std::shared_ptr<const Zone> z) {
    auto [it, inserted] = zones_.insert_or_assign(z->apex, std::move(z));
    // Thousands of zones: insert into the table while it stays at most half full, rebuild when it grows or when a
    // zone was replaced (its slot points to the old one).
    if (!inserted || zones_.size() * 2 > apex_slots_.size()) return reindex();
    uint64_t h = name_hash(it->first);
    size_t i = h & apex_mask_;
    while (apex_slots_[i].zone)
        i = (i + 1) & apex_mask_;
    apex_slots_[i] = ApexSlot{h, it->second.get()};
    min_apex_len_ = std::min(min_apex_len_, it->first.size());
}

void ZoneDb::reindex() {
    size_t cap = std::bit_ceil(std::max<size_t>(8, zones_.size() * 4));
    apex_slots_.assign(cap, ApexSlot{});
    apex_mask_ = cap - 1;
    min_apex_len_ = SIZE_MAX;
    for (const auto& [apex, zone] : zones_) {
        uint64_t h = name_hash(apex);
        size_t i = h & apex_mask_;
        while (apex_slots_[i].zone)
            i = (i + 1) & apex_mask_;
        apex_slots_[i] = ApexSlot{h, zone.get()};
        min_apex_len_ = std::min(min_apex_len_, apex.size());
    }
}

} // namespace dns
