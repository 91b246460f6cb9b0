#include "dns/geo/location_db.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "shared/config/config.h"

namespace dns::geo {

std::string Location::key() const {
    std::string k;
    if (has_coords) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.6f,%.6f", latitude, longitude);
        k = buf;
    }
    k += '|' + continent + '|' + country + '|' + subdivision + '|' + cidr_name;
    return k;
}

LocationDb::LocationDb() { locations_.push_back(Location{}); ids_.emplace(Location{}.key(), kUnknownLocation); }

LocationId LocationDb::intern(const Location& l) {
    auto [it, inserted] = ids_.emplace(l.key(), static_cast<LocationId>(locations_.size()));
    if (inserted) locations_.push_back(l);
    return it->second;
}

namespace {

std::string entry_string(MMDB_entry_s* entry, const char* const* path) {
    MMDB_entry_data_s d{};
    if (MMDB_aget_value(entry, &d, path) != MMDB_SUCCESS || !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING)
        return {};
    return std::string(d.utf8_string, d.data_size);
}

bool entry_double(MMDB_entry_s* entry, const char* const* path, double* out) {
    MMDB_entry_data_s d{};
    if (MMDB_aget_value(entry, &d, path) != MMDB_SUCCESS || !d.has_data) return false;
    if (d.type == MMDB_DATA_TYPE_DOUBLE) {
        *out = d.double_value;
        return true;
    }
    if (d.type == MMDB_DATA_TYPE_FLOAT) {
        *out = d.float_value;
        return true;
    }
    return false;
}

// Walks the MaxMind search tree, building our tree bottom-up so equal sibling leaves merge as they are made.
class MmdbWalker {
public:
    MmdbWalker(MMDB_s* db, LocationDb* locs) : db_(db), locs_(locs) {}

    LocationId location_of(MMDB_entry_s entry) {
        auto it = by_offset_.find(entry.offset);
        if (it != by_offset_.end()) return it->second;
        Location l;
        static const char* const kLat[] = {"location", "latitude", nullptr};
        static const char* const kLon[] = {"location", "longitude", nullptr};
        static const char* const kCont[] = {"continent", "code", nullptr};
        static const char* const kCountry[] = {"country", "iso_code", nullptr};
        static const char* const kSub[] = {"subdivisions", "0", "iso_code", nullptr};
        double lat = 0, lon = 0;
        if (entry_double(&entry, kLat, &lat) && entry_double(&entry, kLon, &lon)) {
            l.has_coords = true;
            l.latitude = lat;
            l.longitude = lon;
        }
        l.continent = entry_string(&entry, kCont);
        l.country = entry_string(&entry, kCountry);
        std::string sub = entry_string(&entry, kSub);
        if (!sub.empty() && !l.country.empty()) l.subdivision = l.country + "-" + sub;
        LocationId id = locs_->intern(l);
        by_offset_.emplace(entry.offset, id);
        return id;
    }

    // Returns a ref in `out`; `skip_node` (the IPv4 subtree inside an IPv6 database) reads as unknown, since
    // IPv4-mapped and 6to4 aliases of it are looked up as IPv4.
    uint32_t walk(RadixTree& out, uint32_t node, unsigned depth, unsigned max_depth, uint32_t skip_node) {
        if (node == skip_node || depth >= max_depth) return out.make_leaf(kUnknownLocation);
        MMDB_search_node_s sn{};
        if (MMDB_read_node(db_, node, &sn) != MMDB_SUCCESS) {
            error_ = true;
            return out.make_leaf(kUnknownLocation);
        }
        uint32_t l = child(out, sn.left_record_type, sn.left_record, sn.left_record_entry, depth, max_depth, skip_node);
        uint32_t r =
            child(out, sn.right_record_type, sn.right_record, sn.right_record_entry, depth, max_depth, skip_node);
        return out.make_node(l, r);
    }

    bool error() const { return error_; }

private:
    uint32_t child(RadixTree& out, uint8_t type, uint64_t record, MMDB_entry_s entry, unsigned depth,
                   unsigned max_depth, uint32_t skip_node) {
        switch (type) {
        case MMDB_RECORD_TYPE_SEARCH_NODE:
            return walk(out, static_cast<uint32_t>(record), depth + 1, max_depth, skip_node);
        case MMDB_RECORD_TYPE_DATA:
            return out.make_leaf(location_of(entry));
        case MMDB_RECORD_TYPE_EMPTY:
            return out.make_leaf(kUnknownLocation);
        default:
            error_ = true;
            return out.make_leaf(kUnknownLocation);
        }
    }

    MMDB_s* db_;
    LocationDb* locs_;
    std::unordered_map<uint32_t, LocationId> by_offset_;
    bool error_ = false;
};

} // namespace

bool LocationDb::load_mmdb(const std::string& path, std::string* err) {
    MMDB_s db{};
    int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db);
    if (rc != MMDB_SUCCESS) {
        *err = path + ": cannot open MaxMind DB: " + MMDB_strerror(rc);
        return false;
    }
    MmdbWalker walker(&db, this);
    uint32_t nodes = db.metadata.node_count;
    if (db.metadata.ip_version == 4) {
        v4_ = RadixTree();
        v4_.set_root(walker.walk(v4_, 0, 0, 32, UINT32_MAX));
        v6_ = RadixTree();
    } else {
        // The IPv4 subtree is ::/96.
        uint32_t node = 0;
        for (int i = 0; i < 96 && node < nodes; ++i) {
            MMDB_search_node_s sn{};
            if (MMDB_read_node(&db, node, &sn) != MMDB_SUCCESS) break;
            node = sn.left_record_type == MMDB_RECORD_TYPE_SEARCH_NODE ? static_cast<uint32_t>(sn.left_record)
                                                                        : nodes;
        }
        v4_ = RadixTree();
        if (node < nodes)
            v4_.set_root(walker.walk(v4_, node, 0, 32, UINT32_MAX));
        v6_ = RadixTree();
        v6_.set_root(walker.walk(v6_, 0, 0, 128, node < nodes ? node : UINT32_MAX));
    }
    MMDB_close(&db);
    if (walker.error()) {
        *err = path + ": corrupt MaxMind DB search tree";
        return false;
    }
    return true;
}

bool parse_cidr(const std::string& s, int* family, uint8_t addr[16], unsigned* len, std::string* err) {
    auto slash = s.find('/');
    std::string ip = s.substr(0, slash);
    std::memset(addr, 0, 16);
    unsigned max;
    if (inet_pton(AF_INET, ip.c_str(), addr) == 1) {
        *family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, ip.c_str(), addr) == 1) {
        *family = AF_INET6;
        max = 128;
    } else {
        *err = "'" + s + "' is not an IP prefix like 192.0.2.0/24 or 2001:db8::/32";
        return false;
    }
    if (slash == std::string::npos) {
        *len = max;
        return true;
    }
    std::string l = s.substr(slash + 1);
    if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos || std::stoul(l) > max) {
        *err = "'" + s + "': prefix length must be 0.." + std::to_string(max);
        return false;
    }
    *len = static_cast<unsigned>(std::stoul(l));
    for (unsigned bit = *len; bit < max; ++bit) {
        if (addr[bit >> 3] & (0x80u >> (bit & 7))) {
            *err = "'" + s + "': address has bits set past the prefix length";
            return false;
        }
    }
    return true;
}

bool LocationDb::load_cidr_file(const std::string& path, shared::ConfigDiagnostics& diags) {
    std::ifstream in(path);
    if (!in) {
        diags.error_at(path, 0, "cannot open CIDR collection file: " + std::string(strerror(errno)));
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return load_cidr_text(ss.str(), path, diags);
}

bool LocationDb::load_cidr_text(const std::string& text, const std::string& file, shared::ConfigDiagnostics& diags) {
    struct Entry {
        int family;
        uint8_t addr[16];
        unsigned len;
        Location over; // attributes to set; has_coords / non-empty strings mark what is set
        std::string name;
    };
    std::vector<Entry> entries;
    std::map<std::string, int> seen; // "family/prefix" → line, to report duplicates
    bool ok = true;
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (auto h = line.find('#'); h != std::string::npos) line.resize(h);
        std::istringstream ls(line);
        std::string cidr, name;
        if (!(ls >> cidr)) continue;
        if (!(ls >> name)) {
            diags.error_at(file, lineno, "expected '<prefix> <location-name> [key=value...]'");
            ok = false;
            continue;
        }
        Entry e{};
        std::string err;
        if (!parse_cidr(cidr, &e.family, e.addr, &e.len, &err)) {
            diags.error_at(file, lineno, err);
            ok = false;
            continue;
        }
        e.name = name;
        std::string kv;
        bool has_lat = false, has_lon = false, bad = false;
        while (ls >> kv) {
            auto eq = kv.find('=');
            std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
            if (eq == std::string::npos || v.empty()) {
                diags.error_at(file, lineno, "expected key=value, got '" + kv + "'");
                bad = true;
                continue;
            }
            if (k == "lat" || k == "lon") {
                char* end = nullptr;
                double d = strtod(v.c_str(), &end);
                double lim = k == "lat" ? 90 : 180;
                (k == "lat" ? has_lat : has_lon) = true;
                if (*end || d < -lim || d > lim) {
                    diags.error_at(file, lineno, k + " must be a number in -" + std::to_string(int(lim)) + ".." +
                                                     std::to_string(int(lim)) + ", got '" + v + "'");
                    bad = true;
                    continue;
                }
                (k == "lat" ? e.over.latitude : e.over.longitude) = d;
            } else if (k == "continent") {
                e.over.continent = v;
            } else if (k == "country") {
                e.over.country = v;
            } else if (k == "subdivision") {
                e.over.subdivision = v;
            } else {
                diags.error_at(file, lineno,
                               "unknown attribute '" + k + "' (expected lat, lon, continent, country, subdivision)");
                bad = true;
            }
        }
        if (has_lat != has_lon) {
            diags.error_at(file, lineno, "lat and lon must be given together");
            bad = true;
        }
        e.over.has_coords = has_lat && has_lon;
        std::string key = std::to_string(e.family) + cidr;
        if (auto [it, ins] = seen.emplace(key, lineno); !ins) {
            diags.error_at(file, lineno, "prefix " + cidr + " already listed on line " + std::to_string(it->second));
            bad = true;
        }
        if (bad) {
            ok = false;
            continue;
        }
        entries.push_back(e);
    }
    if (!ok) return false;
    // Shorter prefixes first, so more specific entries override them.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.len < b.len; });
    for (const Entry& e : entries) {
        auto apply = [&](uint32_t old) -> uint32_t {
            Location l = locations_[old];
            l.cidr_name = e.name;
            if (e.over.has_coords) {
                l.has_coords = true;
                l.latitude = e.over.latitude;
                l.longitude = e.over.longitude;
            }
            if (!e.over.continent.empty()) l.continent = e.over.continent;
            if (!e.over.country.empty()) l.country = e.over.country;
            if (!e.over.subdivision.empty()) l.subdivision = e.over.subdivision;
            return intern(l);
        };
        (e.family == AF_INET ? v4_ : v6_).overlay(e.addr, e.len, apply);
    }
    v4_ = v4_.mapped([](uint32_t v) { return v; });
    v6_ = v6_.mapped([](uint32_t v) { return v; });
    return true;
}

LocationId LocationDb::lookup(int family, const uint8_t* addr) const {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET) return v4_.lookup(addr, 32).value;
    if (std::memcmp(addr, kMapped, 12) == 0) return v4_.lookup(addr + 12, 32).value;
    return v6_.lookup(addr, 128).value;
}

} // namespace dns::geo
