// meridian-dns's configuration: the common keys (shared/config/common_config.h) plus zones, CHAOS identity, NSID,
// limits, AXFR access, NOTIFY targets, query log and response rate limiting. See conf/README.md, "meridian-dns".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dns/config/address_acl.h"
#include "dns/dnssec/zone_signer.h"
#include "dns/server/rate_limiter.h"
#include "shared/config/common_config.h"
#include "shared/config/config.h"
#include "shared/net/address.h"

namespace dns {

// [zone.dnssec]: sign the zone online (dns/dnssec/zone_signer.h). The keys are loaded while the config is read, so
// a missing or mismatched key file is a config error naming the key.
struct ZoneDnssecConfig {
    std::shared_ptr<const DnssecKey> ksk; // null = the zone is not signed
    std::shared_ptr<const DnssecKey> zsk; // null = the KSK signs everything
    ZoneSigningPolicy policy;
};

struct ZoneConfig {
    std::string name; // "example.test." (as written, made absolute)
    std::string file; // resolved against the config file's folder
    ZoneDnssecConfig dnssec;
};

struct TsigKeyConfig {
    std::string name;          // key name, e.g. "transfer-key."
    std::string algorithm;     // "hmac-sha256" (see dns/wire/tsig.h for the others)
    std::string secret;        // base64
    uint16_t min_mac_size = 0; // shortest truncated MAC accepted (RFC 8945 §5.2.4); 0 = the full length only
};

struct DnsConfig {
    shared::CommonConfig common;
    std::vector<ZoneConfig> zones;
    std::string chaos_id, chaos_version, chaos_hostname;
    std::string nsid;
    uint64_t tcp_idle_timeout_ms = 10000;
    uint32_t max_tcp_connections = 1000;           // per worker
    uint32_t max_tcp_connections_per_address = 64; // whole process; 0 = no limit
    uint64_t tcp_query_timeout_ms = 5000;
    uint64_t tcp_write_timeout_ms = 10000;
    uint64_t transfer_timeout_ms = 60000;
    uint32_t ixfr_history = 16; // zone versions whose differences are kept for IXFR; 0 = none
    uint16_t edns_buffer_size = 1232;
    uint64_t udp_receive_buffer = 4u << 20; // SO_RCVBUF(FORCE) of every UDP listening socket; 0 = kernel default
    AddressAcl axfr_allow;
    std::vector<std::string> axfr_allow_text;
    std::vector<TsigKeyConfig> tsig_keys;
    std::vector<shared::SocketAddress> notify;
    std::string notify_key;        // name of a [[tsig_key]] that signs NOTIFY; "" = unsigned
    std::string query_log_file;    // "" = off
    uint32_t query_log_sample = 1; // log one query in N
    RrlConfig rrl;
};

// Parses the config file into *out. Every problem goes to diags (file:line:column: key: message). `extra` reads
// the keys other modules own (dns/geo's steering keys) before unknown keys are reported.
bool parse_dns_config(const std::string& path, shared::ConfigDiagnostics& diags, DnsConfig* out,
                      const std::function<void(shared::ConfigSection&)>& extra = {});

} // namespace dns
