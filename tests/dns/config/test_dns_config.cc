// dns/config/dns_config.h: keys, defaults and located errors.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dns/config/address_acl.h"
#include "dns/config/dns_config.h"
#include "dns/dnssec/dnssec_key.h"

using namespace dns;

namespace {
std::string write_temp(const std::string& text) {
    char path[] = "/tmp/meridian-dnsconf-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path) << text;
    return path;
}
bool has(const shared::ConfigDiagnostics& d, const std::string& needle) {
    return d.to_string().find(needle) != std::string::npos;
}
} // namespace

TEST_CASE("dns config: every key read, defaults", "[dns][config]") {
    auto p = write_temp(R"(workers = 2
listen = ["127.0.0.1:5300", "[::1]:5300"]
nsid = "ns1"
notify = ["192.0.2.53", "[2001:db8::53]:5353"]
[[zone]]
name = "Example.Test"
file = "zones/example.test.zone"
[chaos]
id = "a"
version = "b"
hostname = "c"
[limits]
tcp_idle_timeout = "3s"
max_tcp_connections = 10
edns_buffer_size = 1400
udp_receive_buffer = "8MiB"
[axfr]
allow = ["192.0.2.0/24", "::1"]
[[tsig_key]]
name = "k"
secret = "c2VjcmV0"
[query_log]
file = "q.log"
sample = 10
[rrl]
enabled = true
responses_per_second = 5
slip = 3
ipv4_prefix = 16
ipv6_prefix = 48
table_size = 1000
)");
    shared::ConfigDiagnostics d;
    DnsConfig c;
    REQUIRE(parse_dns_config(p, d, &c));
    INFO(d.to_string());
    CHECK(d.all().empty());
    CHECK(c.common.workers == 2);
    CHECK(c.common.listen.size() == 2);
    REQUIRE(c.zones.size() == 1);
    CHECK(c.zones[0].name == "Example.Test.");
    CHECK(c.zones[0].file.find("/zones/example.test.zone") != std::string::npos);
    CHECK(c.chaos_hostname == "c");
    CHECK(c.nsid == "ns1");
    CHECK(c.tcp_idle_timeout_ms == 3000);
    CHECK(c.max_tcp_connections == 10);
    CHECK(c.edns_buffer_size == 1400);
    CHECK(c.udp_receive_buffer == 8u << 20);
    CHECK(c.notify.size() == 2);
    CHECK(c.notify[0].port() == 53);
    CHECK(c.notify[1].port() == 5353);
    REQUIRE(c.tsig_keys.size() == 1);
    CHECK(c.tsig_keys[0].name == "k.");
    CHECK(c.tsig_keys[0].algorithm == "hmac-sha256");
    CHECK(c.query_log_sample == 10);
    CHECK(c.rrl.enabled);
    CHECK(c.rrl.slip == 3);
    CHECK(c.rrl.ipv6_prefix == 48);
    CHECK(c.rrl.table_size == 1000);
    unlink(p.c_str());

    auto minimal = write_temp("[[zone]]\nname = \"a.test.\"\nfile = \"a.zone\"\n");
    shared::ConfigDiagnostics d2;
    DnsConfig m;
    REQUIRE(parse_dns_config(minimal, d2, &m));
    CHECK(m.edns_buffer_size == 1232);
    CHECK(m.udp_receive_buffer == 4u << 20);
    CHECK(m.tcp_idle_timeout_ms == 10000);
    CHECK(m.max_tcp_connections == 1000);
    CHECK_FALSE(m.rrl.enabled);
    CHECK(m.axfr_allow.empty());
    unlink(minimal.c_str());
}

TEST_CASE("dns config: errors name file:line and key", "[dns][config]") {
    auto p = write_temp(R"([[zone]]
name = "bad..name"
[axfr]
allow = ["300.1.1.1/8", "10.0.0.0/33"]
[limits]
edns_buffer_size = 100
udp_receive_buffer = "lots"
[[tsig_key]]
name = "k"
secret = "not base64!"
algorithm = "hmac-sha3"
[rrl]
slip = 99
bogus = 1
)");
    shared::ConfigDiagnostics d;
    DnsConfig c;
    CHECK_FALSE(parse_dns_config(p, d, &c));
    INFO(d.to_string());
    CHECK(has(d, ":2:"));
    CHECK(has(d, "is not a valid domain name"));
    CHECK(has(d, "zone[0].file"));
    CHECK(has(d, "\"300.1.1.1/8\" is not an IP address"));
    CHECK(has(d, "prefix length over 32"));
    CHECK(has(d, ":6:"));
    CHECK(has(d, "limits.edns_buffer_size"));
    CHECK(has(d, "limits.udp_receive_buffer"));
    CHECK(has(d, "tsig_key[0].secret: the secret is not base64"));
    CHECK(has(d, "tsig_key[0].algorithm"));
    CHECK(has(d, "rrl.slip"));
    CHECK(has(d, "rrl.bogus"));
    unlink(p.c_str());

    auto none = write_temp("workers = 1\n");
    shared::ConfigDiagnostics d2;
    DnsConfig c2;
    CHECK_FALSE(parse_dns_config(none, d2, &c2));
    CHECK(has(d2, "at least one [[zone]]"));
    unlink(none.c_str());
}

TEST_CASE("address ACL matches prefixes and IPv4-mapped clients", "[dns][config]") {
    AddressAcl acl;
    std::string err;
    acl.add(*parse_cidr("192.0.2.0/25", &err));
    acl.add(*parse_cidr("2001:db8::/32", &err));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.100", &a.sin_addr);
    CHECK(acl.allows(reinterpret_cast<sockaddr*>(&a)));
    inet_pton(AF_INET, "192.0.2.200", &a.sin_addr);
    CHECK_FALSE(acl.allows(reinterpret_cast<sockaddr*>(&a)));
    sockaddr_in6 b{};
    b.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1::5", &b.sin6_addr);
    CHECK(acl.allows(reinterpret_cast<sockaddr*>(&b)));
    inet_pton(AF_INET6, "::ffff:192.0.2.1", &b.sin6_addr);
    CHECK(acl.allows(reinterpret_cast<sockaddr*>(&b)));
    inet_pton(AF_INET6, "2001:db9::1", &b.sin6_addr);
    CHECK_FALSE(acl.allows(reinterpret_cast<sockaddr*>(&b)));
    CHECK_FALSE(parse_cidr("1.2.3.4/", &err));
    CHECK_FALSE(parse_cidr("::1/129", &err));
}

TEST_CASE("dns config: TSIG keys with each algorithm, min_mac_size, duplicates", "[dns][config][tsig]") {
    auto p = write_temp(R"([[zone]]
name = "a.test."
file = "a.zone"
[[tsig_key]]
name = "md5-key"
algorithm = "hmac-md5"
secret = "c2VjcmV0"
[[tsig_key]]
name = "short"
algorithm = "hmac-sha512"
secret = "c2VjcmV0"
min_mac_size = 32
)");
    shared::ConfigDiagnostics d;
    DnsConfig c;
    REQUIRE(parse_dns_config(p, d, &c));
    REQUIRE(c.tsig_keys.size() == 2);
    CHECK(c.tsig_keys[0].algorithm == "hmac-md5");
    CHECK(c.tsig_keys[1].min_mac_size == 32);
    unlink(p.c_str());

    auto bad = write_temp(R"([[zone]]
name = "a.test."
file = "a.zone"
[[tsig_key]]
name = "k"
algorithm = "hmac-sha256"
secret = "c2VjcmV0"
min_mac_size = 8
[[tsig_key]]
name = "K."
secret = "c2VjcmV0"
)");
    shared::ConfigDiagnostics d2;
    CHECK_FALSE(parse_dns_config(bad, d2, &c));
    INFO(d2.to_string());
    CHECK(has(d2, "tsig_key[0].min_mac_size: min_mac_size for hmac-sha256 must be between 16 and 32"));
    CHECK(has(d2, "tsig_key[1].name: TSIG key K. is configured twice"));
    unlink(bad.c_str());
}

TEST_CASE("dns config: TCP limits and transfer keys, defaults and errors", "[dns][config][xfr]") {
    auto p = write_temp(R"([[zone]]
name = "example.test."
file = "x.zone"
[limits]
tcp_query_timeout = "2s"
tcp_write_timeout = "3s"
max_tcp_connections_per_address = 7
[axfr]
ixfr_history = 4
transfer_timeout = "90s"
)");
    shared::ConfigDiagnostics d;
    DnsConfig c;
    parse_dns_config(p, d, &c); // the zone file does not exist: only the keys matter here
    CHECK(c.tcp_query_timeout_ms == 2000);
    CHECK(c.tcp_write_timeout_ms == 3000);
    CHECK(c.max_tcp_connections_per_address == 7);
    CHECK(c.ixfr_history == 4);
    CHECK(c.transfer_timeout_ms == 90000);
    unlink(p.c_str());

    auto q = write_temp("[[zone]]\nname = \"example.test.\"\nfile = \"x.zone\"\n");
    shared::ConfigDiagnostics d2;
    DnsConfig m;
    parse_dns_config(q, d2, &m);
    CHECK(m.tcp_query_timeout_ms == 5000);
    CHECK(m.tcp_write_timeout_ms == 10000);
    CHECK(m.max_tcp_connections_per_address == 64);
    CHECK(m.ixfr_history == 16);
    CHECK(m.transfer_timeout_ms == 60000);
    unlink(q.c_str());

    auto bad = write_temp(R"([[zone]]
name = "example.test."
file = "x.zone"
[limits]
tcp_query_timeout = "0s"
tcp_write_timeout = "0s"
[axfr]
transfer_timeout = "0s"
ixfr_history = -1
)");
    shared::ConfigDiagnostics d3;
    DnsConfig b;
    CHECK_FALSE(parse_dns_config(bad, d3, &b));
    CHECK(has(d3, "tcp_query_timeout"));
    CHECK(has(d3, "tcp_write_timeout"));
    CHECK(has(d3, "transfer_timeout"));
    CHECK(has(d3, "ixfr_history"));
    unlink(bad.c_str());
}

TEST_CASE("dns config: notify_key must name a configured TSIG key", "[dns][config][tsig]") {
    auto p = write_temp(R"(notify = ["127.0.0.1"]
notify_key = "missing"
[[zone]]
name = "a.test."
file = "a.zone"
[[tsig_key]]
name = "present."
secret = "c2VjcmV0"
)");
    shared::ConfigDiagnostics d;
    DnsConfig c;
    CHECK_FALSE(parse_dns_config(p, d, &c));
    CHECK(has(d, "notify_key: no [[tsig_key]] named \"missing\""));
    unlink(p.c_str());
    auto ok = write_temp(R"(notify = ["127.0.0.1"]
notify_key = "Present"
[[zone]]
name = "a.test."
file = "a.zone"
[[tsig_key]]
name = "present."
secret = "c2VjcmV0"
)");
    shared::ConfigDiagnostics d2;
    CHECK(parse_dns_config(ok, d2, &c));
    CHECK(c.notify_key == "Present");
    unlink(ok.c_str());
}

TEST_CASE("dns config: [zone.dnssec] keys and signature timing, defaults and errors", "[dns][config][dnssec]") {
    std::string err, ksk_stem, zsk_stem, other_stem;
    char dir[] = "/tmp/meridian-dnsconf-keys-XXXXXX";
    REQUIRE(mkdtemp(dir));
    auto ksk = DnssecKey::generate("example.test", DnssecAlgorithm::ecdsa_p256_sha256, true, &err);
    auto zsk = DnssecKey::generate("example.test", DnssecAlgorithm::ed25519, false, &err);
    auto other = DnssecKey::generate("other.test", DnssecAlgorithm::ecdsa_p256_sha256, true, &err);
    REQUIRE(ksk->write(dir, &ksk_stem, &err));
    REQUIRE(zsk->write(dir, &zsk_stem, &err));
    REQUIRE(other->write(dir, &other_stem, &err));
    std::string zone = "[[zone]]\nname = \"example.test.\"\nfile = \"x.zone\"\n[zone.dnssec]\n";

    auto p = write_temp(zone + "ksk = \"" + ksk_stem + "\"\nzsk = \"" + zsk_stem +
                        ".private\"\nsignature_validity = \"30d\"\nsignature_refresh = \"10d\"\n"
                        "dnskey_ttl = \"2h\"\npublish_cds = false\ndenial = \"nsec\"\n");
    shared::ConfigDiagnostics d;
    DnsConfig c;
    parse_dns_config(p, d, &c);
    REQUIRE(c.zones.size() == 1);
    REQUIRE(c.zones[0].dnssec.ksk);
    REQUIRE(c.zones[0].dnssec.zsk);
    CHECK(c.zones[0].dnssec.ksk->key_tag() == ksk->key_tag());
    CHECK(c.zones[0].dnssec.zsk->algorithm() == DnssecAlgorithm::ed25519);
    CHECK(c.zones[0].dnssec.policy.validity_s == 30 * 86400);
    CHECK(c.zones[0].dnssec.policy.refresh_s == 10 * 86400);
    CHECK(c.zones[0].dnssec.policy.dnskey_ttl == 7200);
    CHECK_FALSE(c.zones[0].dnssec.policy.publish_cds);
    CHECK(c.zones[0].dnssec.policy.denial == DenialMode::nsec);
    unlink(p.c_str());

    auto defaults = write_temp(zone + "ksk = \"" + ksk_stem + ".key\"\n");
    shared::ConfigDiagnostics d2;
    DnsConfig m;
    parse_dns_config(defaults, d2, &m);
    CHECK_FALSE(has(d2, "dnssec"));
    CHECK_FALSE(m.zones[0].dnssec.zsk); // the KSK signs everything
    CHECK(m.zones[0].dnssec.policy.validity_s == 14 * 86400);
    CHECK(m.zones[0].dnssec.policy.refresh_s == 7 * 86400);
    CHECK(m.zones[0].dnssec.policy.publish_cds);
    CHECK(m.zones[0].dnssec.policy.denial == DenialMode::compact);
    unlink(defaults.c_str());

    struct Bad {
        std::string body, key, words;
    } bad[] = {
        {"zsk = \"" + zsk_stem + "\"\n", "ksk", "missing required key"},
        {"ksk = \"" + zsk_stem + "\"\n", "ksk", "not 257"},
        {"ksk = \"" + other_stem + "\"\n", "ksk", "for zone other.test."},
        {"ksk = \"" + std::string(dir) + "/Knope\"\n", "ksk", "cannot open"},
        {"ksk = \"" + ksk_stem + "\"\nsignature_validity = \"1h\"\n", "signature_validity", "2h to 366d"},
        {"ksk = \"" + ksk_stem + "\"\nsignature_refresh = \"14d\"\n", "signature_refresh", "shorter than"},
        {"ksk = \"" + ksk_stem + "\"\nsalt = \"ab\"\n", "salt", "unknown key"},
        {"ksk = \"" + ksk_stem + "\"\ndenial = \"nsec3\"\n", "denial", "nsec"},
    };
    for (const auto& b : bad) {
        auto path = write_temp(zone + b.body);
        shared::ConfigDiagnostics db;
        DnsConfig x;
        INFO(b.body);
        CHECK_FALSE(parse_dns_config(path, db, &x));
        INFO(db.to_string());
        CHECK(has(db, b.key));
        CHECK(has(db, b.words));
        unlink(path.c_str());
    }
    std::filesystem::remove_all(dir);
}
