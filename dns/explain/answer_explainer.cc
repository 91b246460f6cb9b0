#include "dns/explain/answer_explainer.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dns/geo/steering.h"
#include "dns/wire/dns_constants.h"
#include "shared/json/json_value.h"

namespace dns {

namespace {

bool parse_ip(std::string_view text, int* family, uint8_t addr[16]) {
    std::string s(text);
    std::memset(addr, 0, 16);
    if (inet_pton(AF_INET, s.c_str(), addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), addr) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

void put16(std::vector<uint8_t>& b, unsigned v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

// The query a resolver would send: RD clear, EDNS (4096), the ECS option when given.
bool build_query(const ExplainQuery& q, std::vector<uint8_t>* out, std::string* err) {
    ldns_rdf* dname = nullptr;
    if (ldns_str2rdf_dname(&dname, q.name.c_str()) != LDNS_STATUS_OK || !dname) {
        *err = "not a domain name: " + q.name;
        return false;
    }
    std::vector<uint8_t>& b = *out;
    b = {0x4d, 0x52, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    b.insert(b.end(), ldns_rdf_data(dname), ldns_rdf_data(dname) + ldns_rdf_size(dname));
    ldns_rdf_deep_free(dname);
    put16(b, q.qtype);
    put16(b, rrclass::IN);
    b.push_back(0); // OPT: root owner
    put16(b, rrtype::OPT);
    put16(b, 4096);
    put16(b, 0);
    put16(b, 0);
    if (q.has_ecs) {
        unsigned len = (q.ecs_source + 7u) / 8u;
        put16(b, 8 + len);
        put16(b, edns_option::CLIENT_SUBNET);
        put16(b, 4 + len);
        put16(b, q.ecs_family);
        b.push_back(q.ecs_source);
        b.push_back(0);
        b.insert(b.end(), q.ecs_address, q.ecs_address + len);
    } else {
        put16(b, 0);
    }
    return true;
}

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.pop_back();
    return s;
}

// Reads rcode, AA, the answer records and the ECS scope of the engine's response.
void read_response(const uint8_t* wire, size_t len, Explanation* e) {
    ldns_pkt* pkt = nullptr;
    if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK || !pkt) {
        e->rcode = "unparsable response";
        return;
    }
    uint16_t rc = ldns_pkt_get_rcode(pkt);
    rc = static_cast<uint16_t>(rc | (static_cast<uint16_t>(ldns_pkt_edns_extended_rcode(pkt)) << 4));
    e->rcode = rcode_label(rc);
    e->authoritative = ldns_pkt_aa(pkt);
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); ++i) {
        ldns_rr* rr = ldns_rr_list_rr(an, i);
        if (char* s = ldns_rr2str(rr)) {
            e->answer_records.push_back(trim(s));
            free(s);
        }
        ldns_rr_type t = ldns_rr_get_type(rr);
        if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && ldns_rr_rd_count(rr) == 1)
            if (char* s = ldns_rdf2str(ldns_rr_rdf(rr, 0))) {
                e->answer_addresses.push_back(trim(s));
                free(s);
            }
    }
    // The OPT's options: code, length, data (RFC 6891 §6.1.2); ECS scope is the fourth byte (RFC 7871 §6).
    if (ldns_rdf* opts = ldns_pkt_edns_data(pkt)) {
        const uint8_t* p = ldns_rdf_data(opts);
        size_t n = ldns_rdf_size(opts), pos = 0;
        while (pos + 4 <= n) {
            unsigned code = (p[pos] << 8) | p[pos + 1], olen = (p[pos + 2] << 8) | p[pos + 3];
            if (pos + 4 + olen > n) break;
            if (code == edns_option::CLIENT_SUBNET && olen >= 4) e->ecs_scope = p[pos + 4 + 3];
            pos += 4 + olen;
        }
    }
    ldns_pkt_free(pkt);
}

std::string client_text(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
    return buf;
}

std::string ecs_text(const ExplainQuery& q) {
    if (!q.has_ecs) return "";
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(q.ecs_family == 1 ? AF_INET : AF_INET6, q.ecs_address, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(q.ecs_source);
}

std::string km_text(double km) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f km", km);
    return buf;
}

std::string percent(double p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", p * 100);
    return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (auto& s : v)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

} // namespace

bool parse_explain_query(std::string_view name, std::string_view type, std::string_view client, std::string_view ecs,
                         ExplainQuery* out, std::string* err) {
    ExplainQuery q;
    if (name.empty()) {
        *err = "a NAME to explain is needed";
        return false;
    }
    q.name = std::string(name);
    std::string t(type.empty() ? "A" : type);
    for (char& c : t)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ldns_rr_type rt = ldns_get_rr_type_by_name(t.c_str());
    if (rt == 0) {
        *err = "unknown record type: " + t;
        return false;
    }
    q.qtype = static_cast<uint16_t>(rt);
    q.type_text = t;
    int family = 0;
    uint8_t addr[16];
    if (!parse_ip(client, &family, addr)) {
        *err = "client: not an IP address: " + std::string(client);
        return false;
    }
    if (family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&q.client);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, addr, 4);
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&q.client);
        sin6->sin6_family = AF_INET6;
        std::memcpy(sin6->sin6_addr.s6_addr, addr, 16);
    }
    if (!ecs.empty()) {
        size_t slash = ecs.find('/');
        std::string_view ip = ecs.substr(0, slash);
        if (!parse_ip(ip, &family, q.ecs_address)) {
            *err = "ecs: not an address/prefix: " + std::string(ecs);
            return false;
        }
        unsigned max = family == AF_INET ? 32 : 128, len = max;
        if (slash != std::string_view::npos) {
            std::string digits(ecs.substr(slash + 1));
            char* end = nullptr;
            unsigned long v = std::strtoul(digits.c_str(), &end, 10);
            if (digits.empty() || *end || v > max) {
                *err = "ecs: bad prefix length: " + std::string(ecs);
                return false;
            }
            len = static_cast<unsigned>(v);
        }
        for (unsigned b = len; b < max; ++b) // RFC 7871 §6: address bits past SOURCE PREFIX-LENGTH are zero
            q.ecs_address[b >> 3] &= static_cast<uint8_t>(~(0x80u >> (b & 7)));
        q.has_ecs = true;
        q.ecs_family = family == AF_INET ? 1 : 2;
        q.ecs_source = static_cast<uint8_t>(len);
    }
    *out = std::move(q);
    return true;
}

Explanation explain_query(const ZoneDb& db, const EngineConfig& engine, const geo::Steering* steering,
                          const ExplainQuery& q, bool health_live) {
    Explanation e;
    e.query = q;
    e.health_live = health_live;
    std::vector<uint8_t> query;
    std::string err;
    if (!build_query(q, &query, &err)) {
        e.rcode = err;
        return e;
    }
    geo::AnswerTrace trace;
    QueryContext ctx;
    ctx.tcp = true;
    ctx.client = reinterpret_cast<const sockaddr*>(&q.client);
    ctx.steering_trace = &trace;
    std::vector<uint8_t> out(65535);
    AnswerInfo info;
    size_t n = answer_query(db, engine, ctx, query.data(), query.size(), out.data(), out.size(), &info);
    e.answered = info.kind == AnswerKind::answered && n > 0;
    if (info.zone) e.zone = info.zone->apex_text;
    if (!e.answered) {
        e.rcode = "dropped";
        return e;
    }
    read_response(out.data(), n, &e);
    if (trace.traced && steering) {
        e.steered = true;
        e.steering = steering->explain(trace);
    }
    return e;
}

std::string explanation_text(const Explanation& e) {
    const ExplainQuery& q = e.query;
    std::string o;
    o += "query:     " + q.name + " " + q.type_text + " from " + client_text(q.client);
    o += q.has_ecs ? " with ECS " + ecs_text(q) + "\n" : " (no ECS: located by the resolver's address)\n";
    o += "response:  " + e.rcode + (e.authoritative ? " (authoritative)" : "") +
         (e.zone.empty() ? "" : ", zone " + e.zone) + "\n";
    if (e.answer_records.empty()) o += "answer:    (none)\n";
    for (const auto& rr : e.answer_records)
        o += "answer:    " + rr + "\n";
    o += "ecs scope: " +
         (e.ecs_scope < 0 ? std::string("(no ECS option in the response)") : std::to_string(e.ecs_scope)) + "\n";
    if (!e.steered) {
        o += "steering:  not steered (answered from the zone's records)\n";
        return o;
    }
    const geo::SteeringExplanation& s = e.steering;
    o += "\nsteering:  " + s.name + " " + s.qtype + ", policy " + s.policy + ", TTL " + std::to_string(s.ttl) + "\n";
    o += "health:    " +
         std::string(e.health_live ? "live (the running daemon's checks)"
                                   : "every edge taken as healthy (no checks run; ask the running "
                                     "daemon's /_meridian/explain for live health)") +
         "\n";
    if (s.uses_location) {
        o += "location:  looked up " + s.looked_up + (s.capped ? " (source prefix cut for privacy)" : "") + " in " +
             (s.database.empty() ? std::string("no database") : s.database) +
             (s.cidr_file.empty() ? "" : " + CIDR file " + s.cidr_file) + "\n";
        if (s.location_known) {
            const geo::Location& l = s.location;
            std::string where = l.continent.empty() ? "?" : l.continent;
            if (!l.country.empty()) where += "/" + l.country;
            if (!l.subdivision.empty()) where += "/" + l.subdivision;
            o += "           found network " + s.location_network + ": " + where;
            if (l.has_coords) o += " at " + number(l.latitude) + "," + number(l.longitude);
            if (!l.cidr_name.empty()) o += ", CIDR location " + l.cidr_name;
            o += "\n";
        } else {
            o += "           not in the location data (unknown location: default rules apply)\n";
        }
        o += "           answer decided by " + s.class_network + " (clients there: " + join(s.class_labels) + ")\n";
    } else {
        o += "location:  not used by this policy\n";
    }
    o += "policy tree:\n";
    for (const auto& p : s.walk) {
        std::string indent(2 + 2 * p.depth, ' ');
        o += indent + p.owner + ": " + p.policy + (p.rule.empty() ? "" : ", " + p.rule) +
             (p.fail_open_pass ? " [fail-open pass: every edge taken as healthy]" : "") + "\n";
        for (const auto& c : p.candidates) {
            o += indent + "  - " + (c.is_pool ? "pool " : "edge ") + c.name + ": " + c.outcome;
            std::vector<std::string> facts;
            if (c.rank >= 0) facts.push_back("rank " + std::to_string(c.rank + 1));
            if (!c.is_pool) {
                if (!c.has_address) facts.push_back("no " + s.qtype + " address");
                facts.push_back(!c.has_check ? "no health check" : c.healthy ? "healthy" : "UNHEALTHY");
            }
            if (c.weight >= 0) facts.push_back("weight " + std::to_string(c.weight));
            if (c.distance_km >= 0)
                facts.push_back("distance " + km_text(c.distance_km) + ", bias " + std::to_string(c.bias) + " -> " +
                                km_text(c.biased_km));
            if (c.latency_ms >= 0) facts.push_back("latency " + std::to_string(c.latency_ms) + " ms");
            if (c.latency_ms == -1) facts.push_back("latency not measured");
            if (!facts.empty()) o += " (" + join(facts) + ")";
            o += "\n";
        }
    }
    if (s.nodata) o += "decision:  NODATA (no rule matches this client and there is no default)\n";
    for (const auto& opt : s.options)
        o += std::string(opt.chosen ? "chosen:    " : "option:    ") + percent(opt.probability) + " " +
             join(opt.edges) +
             (opt.edges.size() > opt.window ? " (" + std::to_string(opt.window) + " per answer, rotating)"
              : opt.edges.size() > 1        ? " (rotating)"
                                            : "") +
             "\n";
    if (!s.answer.empty()) o += "answered:  " + join(s.answer) + "\n";
    o += "scope:     " + std::to_string(s.scope) +
         (s.uses_location ? " (the answer holds for " + s.class_network + ")" : " (location not used)") + "\n";
    o += "fail-open: " +
         std::string(s.failed_open ? "YES: no candidate was healthy, answered as if all were (Route53 behaviour)"
                                   : "no") +
         "\n";
    return o;
}

std::string explanation_json(const Explanation& e) {
    using shared::json_quote;
    using shared::json_string_array;
    const ExplainQuery& q = e.query;
    std::string o = "{";
    o += "\"query\":{\"name\":" + json_quote(q.name) + ",\"type\":" + json_quote(q.type_text) +
         ",\"client\":" + json_quote(client_text(q.client)) +
         ",\"ecs\":" + (q.has_ecs ? json_quote(ecs_text(q)) : "null") + "}";
    o += ",\"response\":{\"rcode\":" + json_quote(e.rcode) +
         ",\"authoritative\":" + (e.authoritative ? "true" : "false") + ",\"zone\":" + json_quote(e.zone) +
         ",\"answer\":" + json_string_array(e.answer_records) +
         ",\"addresses\":" + json_string_array(e.answer_addresses) +
         ",\"ecs_scope\":" + (e.ecs_scope < 0 ? std::string("null") : std::to_string(e.ecs_scope)) + "}";
    o += ",\"steered\":" + std::string(e.steered ? "true" : "false");
    if (e.steered) {
        const geo::SteeringExplanation& s = e.steering;
        o += ",\"steering\":{\"name\":" + json_quote(s.name) + ",\"type\":" + json_quote(s.qtype) +
             ",\"ttl\":" + std::to_string(s.ttl) + ",\"policy\":" + json_quote(s.policy) +
             ",\"health\":" + json_quote(e.health_live ? "live" : "assumed healthy") +
             ",\"uses_location\":" + (s.uses_location ? "true" : "false");
        o += ",\"location\":{\"database\":" + json_quote(s.database) + ",\"cidr_file\":" + json_quote(s.cidr_file) +
             ",\"looked_up\":" + json_quote(s.looked_up) + ",\"capped\":" + (s.capped ? "true" : "false") +
             ",\"known\":" + (s.location_known ? "true" : "false") + ",\"network\":" + json_quote(s.location_network) +
             ",\"continent\":" + json_quote(s.location.continent) + ",\"country\":" + json_quote(s.location.country) +
             ",\"subdivision\":" + json_quote(s.location.subdivision) +
             ",\"cidr_location\":" + json_quote(s.location.cidr_name);
        if (s.location.has_coords)
            o += ",\"latitude\":" + number(s.location.latitude) + ",\"longitude\":" + number(s.location.longitude);
        o +=
            ",\"decided_by\":" + json_quote(s.class_network) + ",\"labels\":" + json_string_array(s.class_labels) + "}";
        o += ",\"policy_tree\":[";
        for (size_t i = 0; i < s.walk.size(); ++i) {
            const auto& p = s.walk[i];
            o += std::string(i ? "," : "") + "{\"depth\":" + std::to_string(p.depth) +
                 ",\"owner\":" + json_quote(p.owner) + ",\"policy\":" + json_quote(p.policy) +
                 ",\"rule\":" + json_quote(p.rule) + ",\"fail_open_pass\":" + (p.fail_open_pass ? "true" : "false") +
                 ",\"candidates\":[";
            for (size_t k = 0; k < p.candidates.size(); ++k) {
                const auto& c = p.candidates[k];
                o += std::string(k ? "," : "") + "{\"name\":" + json_quote(c.name) +
                     ",\"kind\":" + (c.is_pool ? "\"pool\"" : "\"edge\"") + ",\"outcome\":" + json_quote(c.outcome);
                if (!c.is_pool)
                    o += ",\"has_address\":" + std::string(c.has_address ? "true" : "false") +
                         ",\"health_check\":" + (c.has_check ? "true" : "false") +
                         ",\"healthy\":" + (c.healthy ? "true" : "false");
                if (c.rank >= 0) o += ",\"rank\":" + std::to_string(c.rank + 1);
                if (c.weight >= 0) o += ",\"weight\":" + std::to_string(c.weight);
                if (c.distance_km >= 0)
                    o += ",\"distance_km\":" + number(c.distance_km) + ",\"bias\":" + std::to_string(c.bias) +
                         ",\"biased_km\":" + number(c.biased_km);
                if (c.latency_ms >= -1)
                    o += ",\"latency_ms\":" + (c.latency_ms < 0 ? std::string("null") : std::to_string(c.latency_ms));
                o += "}";
            }
            o += "]}";
        }
        o += "],\"options\":[";
        for (size_t i = 0; i < s.options.size(); ++i) {
            const auto& opt = s.options[i];
            o += std::string(i ? "," : "") + "{\"probability\":" + number(opt.probability) +
                 ",\"edges\":" + json_string_array(opt.edges) + ",\"per_answer\":" + std::to_string(opt.window) +
                 ",\"chosen\":" + (opt.chosen ? "true" : "false") + "}";
        }
        o += "],\"answered\":" + json_string_array(s.answer) + ",\"scope\":" + std::to_string(s.scope) +
             ",\"nodata\":" + (s.nodata ? "true" : "false") + ",\"failed_open\":" + (s.failed_open ? "true" : "false") +
             "}";
    }
    o += "}\n";
    return o;
}

} // namespace dns
