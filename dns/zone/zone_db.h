// The compiled, immutable zone database the query engine reads. Built once per (re)load by dns/zone/zone_loader.h,
// then shared read-only by every worker (through a shared_ptr swapped on reload), so lookups take no lock.
//
// Each (owner, type) RRset keeps its RDATA pre-rendered in wire form; names are keyed in lower-case wire form and
// looked up with std::string_view (heterogeneous lookup: no allocation per query). Every ancestor of an owner up to
// the apex exists as a node, so an empty non-terminal is a node without RRsets (RFC 4592 §2.2.2).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/wire/dns_name.h"

namespace dns {

struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct RRset {
    uint16_t type = 0;
    uint32_t ttl = 0;
    uint16_t count = 0;
    // `count` records, each [u16 rdlength][rdata] with names uncompressed.
    std::string rdata;

    // Calls fn(const uint8_t* rdata, uint16_t len) for each record.
    template <class Fn> void for_each(Fn&& fn) const noexcept {
        size_t pos = 0;
        const auto* p = reinterpret_cast<const uint8_t*>(rdata.data());
        while (pos + 2 <= rdata.size()) {
            uint16_t len = static_cast<uint16_t>((p[pos] << 8) | p[pos + 1]);
            fn(p + pos + 2, len);
            pos += 2 + len;
        }
    }
};

inline constexpr uint32_t kNotSteered = 0xFFFFFFFFu;

struct Node {
    std::string name; // lower-case wire
    std::vector<RRset> rrsets;
    bool delegation = false; // NS at a non-apex name: a zone cut
    // Index of this name in the steering set (dns/geo) when its A/AAAA answers are steered; kNotSteered otherwise.
    uint32_t steer = kNotSteered;

    const RRset* find(uint16_t type) const noexcept {
        for (const auto& s : rrsets)
            if (s.type == type) return &s;
        return nullptr;
    }
    bool empty() const noexcept { return rrsets.empty(); }
};

class Zone {
public:
    std::string apex;      // lower-case wire
    std::string apex_text; // "example.test."
    std::string file;
    std::unordered_map<std::string, Node, NameHash, std::equal_to<>> nodes;
    const Node* apex_node = nullptr;
    const RRset* soa = nullptr;
    uint32_t serial = 0;
    uint32_t negative_ttl = 0; // min(SOA TTL, SOA MINIMUM), RFC 2308 §3
    size_t record_count = 0;
    std::vector<const Node*> transfer_order; // apex first, then every node with data (AXFR)

    const Node* find(std::string_view name) const noexcept {
        auto it = nodes.find(name);
        return it == nodes.end() ? nullptr : &it->second;
    }
    // Before the zone is shared: the node for `name` (inside the zone), created with its empty non-terminal
    // ancestors when missing (steered names may have no static data).
    Node& ensure_node(std::string_view name) {
        auto it = nodes.find(name);
        if (it != nodes.end()) return it->second;
        size_t pos = 0;
        while (name.size() - pos > apex.size()) {
            pos += 1 + static_cast<uint8_t>(name[pos]);
            auto anc = name.substr(pos);
            if (anc.size() <= apex.size()) break;
            if (nodes.find(anc) == nodes.end()) nodes[std::string(anc)].name = std::string(anc);
        }
        Node& n = nodes[std::string(name)];
        n.name = std::string(name);
        return n;
    }
};

// Many zones; the one with the longest apex that is a suffix of the query name answers.
class ZoneDb {
public:
    void add(std::shared_ptr<const Zone> z) { zones_[z->apex] = std::move(z); }
    // The zone for `name` (longest match); *skip receives how many leading labels of name lie above the apex.
    const Zone* find_zone(const NameBuf& name, unsigned* skip) const noexcept {
        for (unsigned i = 0; i <= name.labels; i++) {
            auto it = zones_.find(name.suffix(i));
            if (it != zones_.end()) {
                *skip = i;
                return it->second.get();
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
    std::unordered_map<std::string, std::shared_ptr<const Zone>, NameHash, std::equal_to<>> zones_;
};

} // namespace dns
