#include "dns/config/dns_config.h"

#include "dns/wire/dns_name.h"
#include "dns/wire/tsig.h"

namespace dns {

namespace {

std::shared_ptr<const DnssecKey> load_key(shared::ConfigSection& d, const char* key, const ZoneConfig& zc) {
    std::string path = d.get_path(key, "");
    if (path.empty()) return nullptr;
    std::string err;
    std::shared_ptr<const DnssecKey> k = DnssecKey::load(path, &err);
    if (!k) {
        d.error(key, err);
        return nullptr;
    }
    auto want = name_from_text(zc.name);
    if (want && to_lower(name_from_text(k->zone()).value_or("")) != to_lower(*want)) {
        d.error(key, "the key is for zone " + k->zone() + ", not " + zc.name);
        return nullptr;
    }
    return k;
}

void parse_zone_dnssec(shared::ConfigSection& d, ZoneConfig& zc) {
    ZoneDnssecConfig& c = zc.dnssec;
    c.ksk = load_key(d, "ksk", zc);
    c.zsk = load_key(d, "zsk", zc);
    if (!d.has("ksk"))
        d.error("ksk", "missing required key (the key-signing key's file, e.g. from 'meridian-dns keygen')");
    if (c.ksk && !c.ksk->ksk())
        d.error("ksk", "the key has flags " + std::to_string(c.ksk->flags()) + ", not 257 (a key-signing key)");
    if (c.zsk && c.ksk && c.zsk->key_tag() == c.ksk->key_tag() && c.zsk->algorithm() == c.ksk->algorithm())
        c.zsk = nullptr; // the same key named twice: a combined signing key
    const uint64_t day = 86400000;
    uint64_t validity = d.get_duration_ms("signature_validity", 14 * day);
    uint64_t refresh = d.get_duration_ms("signature_refresh", 7 * day);
    if (validity < 2 * 3600000 || validity > 366 * day)
        d.error("signature_validity", "must be from 2h to 366d");
    else if (refresh < 3600000 || refresh >= validity)
        d.error("signature_refresh", "must be at least 1h and shorter than signature_validity");
    c.policy.validity_s = static_cast<uint32_t>(validity / 1000);
    c.policy.refresh_s = static_cast<uint32_t>(refresh / 1000);
    c.policy.dnskey_ttl = static_cast<uint32_t>(d.get_duration_ms("dnskey_ttl", 3600000) / 1000);
    c.policy.publish_cds = d.get_bool("publish_cds", true);
    c.policy.denial =
        d.get_enum("denial", "compact", {"compact", "nsec"}) == "nsec" ? DenialMode::nsec : DenialMode::compact;
    d.finish();
}

} // namespace

bool parse_dns_config(const std::string& path, shared::ConfigDiagnostics& diags, DnsConfig* out,
                      const std::function<void(shared::ConfigSection&)>& extra) {
    *out = DnsConfig{};
    auto file = shared::ConfigFile::load(path, diags);
    if (!file) return false;
    auto root = file->root();
    DnsConfig& c = *out;
    c.common = shared::parse_common_config(root, {"127.0.0.1:5300"});

    for (auto& z : root.array_of_tables("zone")) {
        ZoneConfig zc;
        zc.name = z.require_string("name");
        zc.file = z.get_path("file", "");
        if (!zc.name.empty()) {
            if (zc.name.back() != '.') zc.name += '.';
            if (!name_from_text(zc.name)) z.error("name", "\"" + zc.name + "\" is not a valid domain name");
            for (const auto& other : c.zones)
                if (to_lower(*name_from_text(other.name)) == to_lower(name_from_text(zc.name).value_or("")))
                    z.error("name", "zone " + zc.name + " is configured twice");
        }
        if (zc.file.empty()) z.error("file", "missing required key");
        if (auto d = z.table("dnssec")) parse_zone_dnssec(*d, zc);
        z.finish();
        c.zones.push_back(std::move(zc));
    }
    if (c.zones.empty()) root.error("zone", "at least one [[zone]] with name and file is required");

    if (auto ch = root.table("chaos")) {
        c.chaos_id = ch->get_string("id", "");
        c.chaos_version = ch->get_string("version", "");
        c.chaos_hostname = ch->get_string("hostname", "");
        ch->finish();
    }
    c.nsid = root.get_string("nsid", "");
    if (c.nsid.size() > 512) root.error("nsid", "longer than 512 bytes");

    if (auto l = root.table("limits")) {
        c.tcp_idle_timeout_ms = l->get_duration_ms("tcp_idle_timeout", 10000);
        if (c.tcp_idle_timeout_ms == 0) l->error("tcp_idle_timeout", "must be more than 0");
        c.max_tcp_connections = static_cast<uint32_t>(l->get_int("max_tcp_connections", 1000, 1, 1000000));
        c.max_tcp_connections_per_address =
            static_cast<uint32_t>(l->get_int("max_tcp_connections_per_address", 64, 0, 1000000));
        c.tcp_query_timeout_ms = l->get_duration_ms("tcp_query_timeout", 5000);
        if (c.tcp_query_timeout_ms == 0) l->error("tcp_query_timeout", "must be more than 0");
        c.tcp_write_timeout_ms = l->get_duration_ms("tcp_write_timeout", 10000);
        if (c.tcp_write_timeout_ms == 0) l->error("tcp_write_timeout", "must be more than 0");
        c.edns_buffer_size = static_cast<uint16_t>(l->get_int("edns_buffer_size", 1232, 512, 4096));
        c.udp_receive_buffer = l->get_size("udp_receive_buffer", 4u << 20);
        if (c.udp_receive_buffer > (1u << 30)) l->error("udp_receive_buffer", "at most 1GiB");
        l->finish();
    }
    if (auto a = root.table("axfr")) {
        c.axfr_allow_text = a->get_string_list("allow", {});
        for (const auto& s : c.axfr_allow_text) {
            std::string err;
            auto cidr = parse_cidr(s, &err);
            if (!cidr)
                a->error("allow", err);
            else
                c.axfr_allow.add(*cidr);
        }
        c.transfer_timeout_ms = a->get_duration_ms("transfer_timeout", 60000);
        if (c.transfer_timeout_ms == 0) a->error("transfer_timeout", "must be more than 0");
        c.ixfr_history = static_cast<uint32_t>(a->get_int("ixfr_history", 16, 0, 10000));
        a->finish();
    }
    for (auto& k : root.array_of_tables("tsig_key")) {
        TsigKeyConfig t;
        t.name = k.require_string("name");
        if (!t.name.empty() && t.name.back() != '.') t.name += '.';
        // hmac-md5 only where a key says so: RFC 8945 §6 keeps it for old peers.
        t.algorithm = k.get_enum("algorithm", "hmac-sha256",
                                 {"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"});
        t.secret = k.require_string("secret");
        t.min_mac_size = static_cast<uint16_t>(k.get_int("min_mac_size", 0, 0, 64));
        std::string err;
        if (!t.name.empty() && !t.secret.empty() && !t.algorithm.empty()) {
            if (!make_tsig_key(t.name, t.algorithm, t.secret, t.min_mac_size, &err)) {
                const char* key = err.find("secret") != std::string::npos         ? "secret"
                                  : err.find("min_mac_size") != std::string::npos ? "min_mac_size"
                                  : err.find("key name") != std::string::npos     ? "name"
                                                                                  : "algorithm";
                k.error(key, err);
            }
            for (const auto& other : c.tsig_keys)
                if (to_lower(name_from_text(other.name).value_or("")) == to_lower(name_from_text(t.name).value_or("-")))
                    k.error("name", "TSIG key " + t.name + " is configured twice");
        }
        k.finish();
        c.tsig_keys.push_back(std::move(t));
    }
    for (const auto& n : root.get_string_list("notify", {})) {
        std::string err;
        auto a = shared::parse_socket_address(n.find(':') == std::string::npos ? n + ":53" : n, &err);
        if (!a)
            root.error("notify", "\"" + n + "\": " + err);
        else
            c.notify.push_back(*a);
    }
    c.notify_key = root.get_string("notify_key", "");
    if (!c.notify_key.empty()) {
        auto want = name_from_text(c.notify_key.back() == '.' ? c.notify_key : c.notify_key + ".");
        bool found = false;
        for (const auto& k : c.tsig_keys)
            if (want && to_lower(name_from_text(k.name).value_or("")) == to_lower(*want)) found = true;
        if (!found) root.error("notify_key", "no [[tsig_key]] named \"" + c.notify_key + "\"");
    }
    if (auto q = root.table("query_log")) {
        c.query_log_file = q->get_output_path("file", "");
        c.query_log_sample = static_cast<uint32_t>(q->get_int("sample", 1, 1, 1000000000));
        q->finish();
    }
    if (auto r = root.table("rrl")) {
        c.rrl.enabled = r->get_bool("enabled", false);
        c.rrl.responses_per_second = static_cast<uint32_t>(r->get_int("responses_per_second", 20, 1, 1000000));
        c.rrl.slip = static_cast<uint32_t>(r->get_int("slip", 2, 0, 10));
        c.rrl.ipv4_prefix = static_cast<uint8_t>(r->get_int("ipv4_prefix", 24, 8, 32));
        c.rrl.ipv6_prefix = static_cast<uint8_t>(r->get_int("ipv6_prefix", 56, 16, 128));
        c.rrl.table_size = static_cast<uint32_t>(r->get_int("table_size", 65536, 1, 16777216));
        r->finish();
    }
    if (extra) extra(root);
    root.finish();
    return diags.ok();
}

} // namespace dns
