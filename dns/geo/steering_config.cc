// Parsing of [geo], [[edge]], [[pool]], [[steer]]. Every problem is reported at its key; parsing goes on so
// --check lists them all.
#include "dns/geo/steering_config.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cctype>
#include <functional>
#include <map>
#include <memory>

#include "dns/geo/steering.h"
#include "shared/config/config.h"

namespace dns::geo {

const char* policy_name(PolicyType t) {
    switch (t) {
    case PolicyType::simple:
        return "simple";
    case PolicyType::weighted:
        return "weighted";
    case PolicyType::failover:
        return "failover";
    case PolicyType::geolocation:
        return "geolocation";
    case PolicyType::geoproximity:
        return "geoproximity";
    case PolicyType::latency:
        return "latency";
    case PolicyType::ip_based:
        return "ip_based";
    case PolicyType::multivalue:
        return "multivalue";
    }
    return "?";
}

bool policy_uses_location(PolicyType t) {
    return t == PolicyType::geolocation || t == PolicyType::geoproximity || t == PolicyType::latency ||
           t == PolicyType::ip_based;
}

bool name_to_wire(const std::string& name, std::vector<uint8_t>* wire, std::string* canonical, std::string* err) {
    wire->clear();
    std::string n;
    for (char c : name)
        n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n.empty()) {
        *err = "empty name";
        return false;
    }
    if (n.back() != '.') n += '.';
    if (n == ".") {
        wire->push_back(0);
        *canonical = n;
        return true;
    }
    size_t start = 0;
    while (start < n.size()) {
        size_t dot = n.find('.', start);
        size_t len = dot - start;
        if (len == 0 || len > 63) {
            *err = "'" + name + "' has an empty or longer than 63 bytes label";
            return false;
        }
        wire->push_back(static_cast<uint8_t>(len));
        wire->insert(wire->end(), n.begin() + static_cast<long>(start), n.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    wire->push_back(0);
    if (wire->size() > 255) {
        *err = "'" + name + "' is longer than 255 bytes";
        return false;
    }
    *canonical = n;
    return true;
}

bool name_in_zone(std::span<const uint8_t> name, std::span<const uint8_t> apex) noexcept {
    if (apex.size() > name.size()) return false;
    // Walk name's labels until the remaining suffix has apex's length, then compare bytes.
    size_t pos = 0;
    while (name.size() - pos > apex.size()) {
        if (name[pos] == 0) return false;
        pos += 1 + name[pos];
    }
    if (name.size() - pos != apex.size()) return false;
    for (size_t i = 0; i < apex.size(); ++i)
        if (name[pos + i] != apex[i]) return false;
    return true;
}

namespace {

struct Parser {
    shared::ConfigSection& root;
    SteeringConfig cfg;
    std::map<std::string, MemberRef> names; // edges and pools share one namespace

    void parse_health(shared::ConfigSection& e, EdgeConfig& edge) {
        auto hs = e.table("health");
        if (!hs) return;
        HealthCheckConfig& h = edge.health;
        std::string type = hs->get_enum("type", "http", {"none", "tcp", "http", "https"});
        h.type = type == "none"    ? HealthCheckConfig::Type::none
                 : type == "tcp"   ? HealthCheckConfig::Type::tcp
                 : type == "https" ? HealthCheckConfig::Type::https
                                   : HealthCheckConfig::Type::http;
        char buf[INET6_ADDRSTRLEN];
        std::string def_addr = edge.has_v4   ? inet_ntop(AF_INET, edge.v4, buf, sizeof buf)
                               : edge.has_v6 ? inet_ntop(AF_INET6, edge.v6, buf, sizeof buf)
                                             : "";
        h.address = hs->get_string("address", def_addr);
        uint8_t tmp[16];
        if (h.type != HealthCheckConfig::Type::none && inet_pton(AF_INET, h.address.c_str(), tmp) != 1 &&
            inet_pton(AF_INET6, h.address.c_str(), tmp) != 1)
            hs->error("address", "expected an IP address to check, got '" + h.address + "'");
        int def_port = h.type == HealthCheckConfig::Type::https ? 443 : 80;
        h.port = static_cast<uint16_t>(hs->get_int("port", def_port, 1, 65535));
        h.path = hs->get_string("path", "/");
        if (h.path.empty() || h.path[0] != '/') hs->error("path", "must start with '/'");
        h.host = hs->get_string("host", h.address);
        h.interval_ms = hs->get_duration_ms("interval", 30000);
        h.timeout_ms = hs->get_duration_ms("timeout", std::min<uint64_t>(5000, h.interval_ms));
        if (h.interval_ms < 100) hs->error("interval", "must be at least 100ms");
        if (h.timeout_ms == 0 || h.timeout_ms > h.interval_ms) hs->error("timeout", "must be > 0 and <= interval");
        h.failure_threshold = static_cast<unsigned>(hs->get_int("failure_threshold", 3, 1, 10));
        h.success_threshold = static_cast<unsigned>(hs->get_int("success_threshold", 3, 1, 10));
        h.status_min = static_cast<int>(hs->get_int("status_min", 200, 100, 599));
        h.status_max = static_cast<int>(hs->get_int("status_max", 399, 100, 599));
        if (h.status_max < h.status_min) hs->error("status_max", "must be >= status_min");
        h.body_contains = hs->get_string("body_contains", "");
        h.verify_tls = hs->get_bool("verify_tls", true);
        hs->finish();
    }

    void parse_edges() {
        auto secs = root.array_of_tables("edge");
        for (auto& e : secs) {
            EdgeConfig edge;
            edge.name = e.require_string("name");
            if (auto v4 = e.opt_string("ipv4")) {
                if (inet_pton(AF_INET, v4->c_str(), edge.v4) == 1)
                    edge.has_v4 = true;
                else
                    e.error("ipv4", "expected an IPv4 address, got '" + *v4 + "'");
            }
            if (auto v6 = e.opt_string("ipv6")) {
                if (inet_pton(AF_INET6, v6->c_str(), edge.v6) == 1)
                    edge.has_v6 = true;
                else
                    e.error("ipv6", "expected an IPv6 address, got '" + *v6 + "'");
            }
            if (!e.has("ipv4") && !e.has("ipv6")) e.error("ipv4", "an edge needs ipv4 and/or ipv6");
            bool has_lat = e.has("latitude"), has_lon = e.has("longitude");
            edge.latitude = e.get_double("latitude", 0, -90, 90);
            edge.longitude = e.get_double("longitude", 0, -180, 180);
            if (has_lat != has_lon) e.error(has_lat ? "longitude" : "latitude", "latitude and longitude go together");
            edge.has_coords = has_lat && has_lon;
            edge.continent = e.get_string("continent", "");
            edge.country = e.get_string("country", "");
            edge.subdivision = e.get_string("subdivision", "");
            edge.weight = static_cast<int>(e.get_int("weight", 1, 0, 255));
            edge.bias = static_cast<int>(e.get_int("bias", 0, -99, 99));
            parse_health(e, edge);
            e.finish();
            if (edge.name.empty()) continue;
            MemberRef ref{false, static_cast<uint32_t>(cfg.edges.size())};
            if (!names.emplace(edge.name, ref).second) {
                e.error("name", "edge '" + edge.name + "' is defined twice");
                continue;
            }
            cfg.edges.push_back(std::move(edge));
        }
    }

    // Reads the policy keys of a [[pool]] or [[steer]]; members resolved against `names`.
    PolicyConfig parse_policy(shared::ConfigSection& s) {
        PolicyConfig p;
        std::string type = s.get_enum(
            "policy", "simple",
            {"simple", "weighted", "failover", "geolocation", "geoproximity", "latency", "ip_based", "multivalue"});
        for (int t = 0; t <= static_cast<int>(PolicyType::multivalue); ++t)
            if (type == policy_name(static_cast<PolicyType>(t))) p.type = static_cast<PolicyType>(t);
        std::vector<std::string> member_names;
        if (s.has("members")) {
            member_names = s.get_string_list("members", {});
        } else {
            for (auto& e : cfg.edges)
                member_names.push_back(e.name);
        }
        std::string def = s.get_string("default", "");
        if (!def.empty() && std::find(member_names.begin(), member_names.end(), def) == member_names.end())
            member_names.push_back(def);
        std::map<std::string, int> index;
        for (auto& m : member_names) {
            auto it = names.find(m);
            if (it == names.end()) {
                s.error("members", "'" + m + "' is neither an [[edge]] nor a [[pool]]");
                continue;
            }
            if (!index.emplace(m, static_cast<int>(p.members.size())).second) {
                s.error("members", "'" + m + "' is listed twice");
                continue;
            }
            p.members.push_back(it->second);
            if (p.type == PolicyType::multivalue || p.type == PolicyType::simple) {
                if (it->second.is_pool)
                    s.error("members",
                            std::string(policy_name(p.type)) + " members must be edges, '" + m + "' is a pool");
            }
        }
        if (member_names.empty()) s.error("members", "a policy needs at least one member");
        if (p.members.size() > 250) s.error("members", "at most 250 members");
        std::vector<std::string> resolved(p.members.size());
        for (auto& [n, i] : index)
            resolved[static_cast<size_t>(i)] = n;
        if (!def.empty()) {
            auto it = index.find(def);
            if (it != index.end()) p.default_member = it->second;
        }
        for (size_t i = 0; i < p.members.size(); ++i) {
            const MemberRef& r = p.members[i];
            p.weights.push_back(r.is_pool ? cfg.pools[r.index].weight : cfg.edges[r.index].weight);
            p.biases.push_back(r.is_pool ? cfg.pools[r.index].bias : cfg.edges[r.index].bias);
        }
        if (auto w = s.table("weights")) {
            for (size_t i = 0; i < p.members.size(); ++i)
                p.weights[i] = static_cast<int>(w->get_int(resolved[i], p.weights[i], 0, 255));
            w->finish();
        }
        if (auto b = s.table("bias")) {
            for (size_t i = 0; i < p.members.size(); ++i)
                p.biases[i] = static_cast<int>(b->get_int(resolved[i], p.biases[i], -99, 99));
            b->finish();
        }
        p.locations.resize(p.members.size());
        if (auto l = s.table("locations")) {
            for (size_t i = 0; i < p.members.size(); ++i) {
                p.locations[i] = l->get_string_list(resolved[i], {});
                for (auto& code : p.locations[i]) {
                    bool ok = (code.rfind("continent:", 0) == 0 && code.size() == 12) || code.size() == 2 ||
                              (code.size() >= 4 && code[2] == '-');
                    if (!ok)
                        l->error(resolved[i], "'" + code +
                                                  "' is not a location code (\"continent:EU\", country \"DE\" or "
                                                  "subdivision \"DE-HE\")");
                }
            }
            l->finish();
        } else if (p.type == PolicyType::geolocation) {
            s.error("locations", "geolocation needs `locations = { <member> = [codes...] }`");
        }
        p.cidr_names.resize(p.members.size());
        if (auto c = s.table("cidr")) {
            for (size_t i = 0; i < p.members.size(); ++i)
                p.cidr_names[i] = c->get_string_list(resolved[i], {});
            c->finish();
        } else if (p.type == PolicyType::ip_based) {
            s.error("cidr", "ip_based needs `cidr = { <member> = [CIDR location names...] }`");
        }
        for (auto& row : s.array_of_tables("latency")) {
            LatencyRow lr;
            lr.from = row.get_string_list("from", {});
            if (lr.from.empty()) row.error("from", "a latency row needs `from = [location codes]`");
            for (size_t i = 0; i < p.members.size(); ++i)
                lr.ms.push_back(row.get_int(resolved[i], -1, 0, 3600000));
            row.finish();
            p.latency.push_back(std::move(lr));
        }
        if (p.type == PolicyType::latency && p.latency.empty())
            s.error("latency", "latency needs [[...latency]] rows: from = [codes], <member> = <ms>");
        if (p.type == PolicyType::geoproximity) {
            for (size_t i = 0; i < p.members.size(); ++i) {
                const MemberRef& r = p.members[i];
                if (!r.is_pool && !cfg.edges[r.index].has_coords)
                    s.error("members", "geoproximity member '" + resolved[i] + "' has no latitude/longitude");
            }
        }
        if (p.type == PolicyType::failover && p.members.size() < 2)
            s.warning("members", "failover with a single member has nothing to fail over to");
        return p;
    }

    void parse_pools() {
        auto secs = root.array_of_tables("pool");
        std::vector<bool> ok(secs.size(), false);
        // Names first, so pools may refer to pools defined later.
        for (size_t i = 0; i < secs.size(); ++i) {
            PoolConfig pool;
            pool.name = secs[i].require_string("name");
            bool has_lat = secs[i].has("latitude"), has_lon = secs[i].has("longitude");
            pool.latitude = secs[i].get_double("latitude", 0, -90, 90);
            pool.longitude = secs[i].get_double("longitude", 0, -180, 180);
            pool.has_coords = has_lat && has_lon;
            if (has_lat != has_lon) secs[i].error("latitude", "latitude and longitude go together");
            pool.weight = static_cast<int>(secs[i].get_int("weight", 1, 0, 255));
            pool.bias = static_cast<int>(secs[i].get_int("bias", 0, -99, 99));
            if (!pool.name.empty() && names.emplace(pool.name, MemberRef{true, static_cast<uint32_t>(i)}).second)
                ok[i] = true;
            else if (!pool.name.empty())
                secs[i].error("name", "'" + pool.name + "' is already an edge or pool name");
            cfg.pools.push_back(std::move(pool));
        }
        for (size_t i = 0; i < secs.size(); ++i) {
            cfg.pools[i].policy = parse_policy(secs[i]);
            secs[i].finish();
        }
        // Cycles would make evaluation recurse forever.
        std::vector<int> state(cfg.pools.size(), 0);
        std::function<bool(size_t)> cyclic = [&](size_t i) {
            if (state[i] == 1) return true;
            if (state[i] == 2) return false;
            state[i] = 1;
            for (auto& m : cfg.pools[i].policy.members)
                if (m.is_pool && cyclic(m.index)) return true;
            state[i] = 2;
            return false;
        };
        for (size_t i = 0; i < cfg.pools.size(); ++i) {
            std::fill(state.begin(), state.end(), 0);
            if (cyclic(i)) secs[i].error("members", "pool '" + cfg.pools[i].name + "' contains itself");
        }
        // A pool without coordinates sits where its first member sits (geoproximity).
        for (size_t i = 0; i < cfg.pools.size(); ++i) {
            PoolConfig& p = cfg.pools[i];
            MemberRef cur{true, static_cast<uint32_t>(i)};
            for (int hops = 0; !p.has_coords && hops < 64; ++hops) {
                const PoolConfig& q = cfg.pools[cur.index];
                if (q.has_coords) {
                    p.has_coords = true;
                    p.latitude = q.latitude;
                    p.longitude = q.longitude;
                    break;
                }
                if (q.policy.members.empty()) break;
                cur = q.policy.members[0];
                if (!cur.is_pool) {
                    const EdgeConfig& e = cfg.edges[cur.index];
                    if (e.has_coords) {
                        p.has_coords = true;
                        p.latitude = e.latitude;
                        p.longitude = e.longitude;
                    }
                    break;
                }
            }
        }
    }

    void parse_steers() {
        std::map<std::pair<std::string, uint16_t>, bool> seen;
        for (auto& s : root.array_of_tables("steer")) {
            std::string name = s.require_string("name");
            std::vector<std::string> types = s.get_string_list("type", {"A"});
            // A duration like every other time key ("60s", "1m", or 60); DNS TTLs are whole seconds ≤ 2^31 - 1
            // (RFC 2181 §8).
            uint64_t ttl_ms = s.get_duration_ms("ttl", 60000);
            if (ttl_ms % 1000 != 0 || ttl_ms / 1000 > 2147483647) {
                s.error("ttl", "a DNS TTL is whole seconds, at most 2147483647s (68 years)");
                ttl_ms = 60000;
            }
            uint32_t ttl = static_cast<uint32_t>(ttl_ms / 1000);
            PolicyConfig policy = parse_policy(s);
            if (policy.type == PolicyType::geoproximity) {
                for (auto& m : policy.members)
                    if (m.is_pool && !cfg.pools[m.index].has_coords)
                        s.error("members",
                                "geoproximity member pool '" + cfg.pools[m.index].name + "' has no latitude/longitude");
            }
            s.finish();
            if (name.empty()) continue;
            std::vector<uint8_t> wire;
            std::string canonical, err;
            if (!name_to_wire(name, &wire, &canonical, &err)) {
                s.error("name", err);
                continue;
            }
            for (auto& t : types) {
                uint16_t qtype;
                if (t == "A" || t == "a")
                    qtype = 1;
                else if (t == "AAAA" || t == "aaaa")
                    qtype = 28;
                else {
                    s.error("type", "steered types are A and AAAA, got '" + t + "'");
                    continue;
                }
                if (!seen.emplace(std::make_pair(canonical, qtype), true).second) {
                    s.error("name", canonical + " " + t + " is steered twice");
                    continue;
                }
                bool any_addr = false;
                std::function<bool(const PolicyConfig&, int)> has_addr = [&](const PolicyConfig& pc, int depth) {
                    if (depth > 64) return false;
                    for (auto& m : pc.members) {
                        if (m.is_pool ? has_addr(cfg.pools[m.index].policy, depth + 1)
                                      : (qtype == 1 ? cfg.edges[m.index].has_v4 : cfg.edges[m.index].has_v6))
                            return true;
                    }
                    return false;
                };
                any_addr = has_addr(policy, 0);
                if (!any_addr)
                    s.error("type",
                            canonical + " " + t + ": no member has an " + (qtype == 1 ? "ipv4" : "ipv6") + " address");
                SteerConfig sc;
                sc.name = canonical;
                sc.wire = wire;
                sc.qtype = qtype;
                sc.ttl = ttl;
                sc.policy = policy;
                cfg.steers.push_back(std::move(sc));
            }
        }
    }
};

} // namespace

std::shared_ptr<const SteeringConfig> parse_steering_config(shared::ConfigSection& root) {
    Parser p{root, {}, {}};
    if (auto geo = root.table("geo")) {
        p.cfg.database = geo->get_path("database", "");
        p.cfg.cidr_file = geo->get_path("cidr_file", "");
        geo->finish();
    }
    p.parse_edges();
    p.parse_pools();
    p.parse_steers();
    return std::make_shared<const SteeringConfig>(std::move(p.cfg));
}

} // namespace dns::geo
