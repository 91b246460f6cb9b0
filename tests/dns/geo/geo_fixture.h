// Test helpers: build a Steering from TOML text, with files (CIDR collections, the test .mmdb) in a temp dir.
#pragma once

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "dns/geo/steering.h"
#include "dns/geo/steering_config.h"
#include "shared/config/config.h"
#include "tests/support/temp_dir.h"

namespace geo_test {

using test_support::TempDir;

// Runs conf/examples/geo/make_cities_mmdb.pl into dir; returns the .mmdb path ("" on failure).
inline std::string make_test_mmdb(const TempDir& dir) {
    std::string out = dir.path + "/cities.mmdb";
    std::string cmd = "perl '" MERIDIAN_SRC "/conf/examples/geo/make_cities_mmdb.pl' '" + out + "'";
    return std::system(cmd.c_str()) == 0 ? out : "";
}

struct Built {
    std::shared_ptr<const dns::geo::SteeringConfig> config;
    std::unique_ptr<dns::geo::Steering> steering;
    shared::ConfigDiagnostics diags;
};

// Parses `toml` as if it were <dir>/dns.toml; steering is null when there were errors (see diags).
inline std::unique_ptr<Built> build(const TempDir& dir, const std::string& toml, unsigned workers = 1) {
    auto b = std::make_unique<Built>();
    auto file = shared::ConfigFile::parse(toml, dir.path + "/dns.toml", b->diags);
    if (!file) return b;
    auto root = file->root();
    b->config = dns::geo::parse_steering_config(root);
    root.finish();
    if (!b->diags.ok()) return b;
    b->steering = dns::geo::Steering::build(*b->config, workers, b->diags);
    if (!b->diags.ok()) b->steering.reset();
    return b;
}

inline std::vector<uint8_t> wire(const std::string& name) {
    std::vector<uint8_t> w;
    std::string canon, err;
    dns::geo::name_to_wire(name, &w, &canon, &err);
    return w;
}

inline dns::geo::ClientLocation client(const std::string& ip, int prefix = -1) {
    dns::geo::ClientLocation c;
    if (inet_pton(AF_INET, ip.c_str(), c.addr) == 1) {
        c.family = AF_INET;
        c.source_prefix = static_cast<uint8_t>(prefix < 0 ? 32 : prefix);
    } else {
        inet_pton(AF_INET6, ip.c_str(), c.addr);
        c.family = AF_INET6;
        c.source_prefix = static_cast<uint8_t>(prefix < 0 ? 128 : prefix);
    }
    return c;
}

// The addresses in an answer, in order ("192.0.2.10", ...).
inline std::vector<std::string> addresses(const dns::geo::Answer& a) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (unsigned i = 0; i < a.rr_count; ++i) {
        const uint8_t* rr = a.records.data() + pos;
        uint16_t type = static_cast<uint16_t>(rr[2] << 8 | rr[3]);
        uint16_t rdlen = static_cast<uint16_t>(rr[10] << 8 | rr[11]);
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(type == 1 ? AF_INET : AF_INET6, rr + 12, buf, sizeof buf);
        out.emplace_back(buf);
        pos += 12 + rdlen;
    }
    return out;
}

inline std::string first(const dns::geo::Answer& a) {
    auto v = addresses(a);
    return v.empty() ? "" : v[0];
}

} // namespace geo_test
