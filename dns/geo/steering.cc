// Steering: load-time compilation of policies into per-steer radix trees (address → answer class) and the
// rendering of each class's answer for the current health state.
//
// An "answer class" is one way the location-dependent policies in a steer order their members (its "plan": one
// member order per location-dependent policy node). Every location in the database maps to a class; the trees
// map address bits to classes, with equal siblings merged, so a lookup stops at the shortest prefix that decides
// the answer. Rendering a class under a health state yields a few weighted options, each a run of ready RRs.
#include "dns/geo/steering.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "dns/geo/geo_distance.h"
#include "dns/geo/location_db.h"
#include "dns/geo/radix_tree.h"
#include "dns/geo/steering_config.h"
#include "shared/config/config.h"
#include "shared/log/log.h"

namespace dns::geo {

namespace {

constexpr unsigned kMultivalueMax = 8; // Route53 answers up to eight healthy records
constexpr uint64_t kRetireAfterMs = 60000;

struct RtChild {
    bool is_node = false; // else an edge
    uint32_t index = 0;   // node index in SteerRt::nodes, or edge index
    bool has_coords = false;
    double latitude = 0, longitude = 0;
};

struct RtNode {
    PolicyType type = PolicyType::simple;
    std::vector<RtChild> children;
    std::vector<int> weights, biases;
    int default_child = -1;
    int loc_slot = -1;
    std::map<std::string, int> code_to_child; // geolocation: first member listing a code wins
    std::map<std::string, int> cidr_to_child; // ip_based
    std::vector<LatencyRow> latency;
    std::string owner; // the pool's name ("" = the steer's own policy), for explanations
};

using Order = std::vector<uint8_t>;
using Plan = std::vector<Order>; // one order per location slot

struct SteerRt {
    const SteerConfig* cfg = nullptr;
    std::vector<RtNode> nodes; // root = 0
    unsigned loc_slots = 0;
    RadixTree v4, v6;
    std::vector<Plan> classes;
    // Where the clients of each class are, for logs (class_labels()): one label per rule placing locations in it.
    std::vector<std::vector<std::string>> class_labels;
    uint32_t base = 0; // first ClassAnswer in a Snapshot
};

struct Option {
    uint32_t threshold; // choose the first option with rnd <= threshold
    uint32_t offset;    // into Snapshot::bytes
    uint16_t count;     // distinct records (rotation modulus)
    uint16_t window;    // records answered
    uint16_t rr_size;
    // RRSIGs (a signed zone) in Snapshot::sig_bytes: one RRSIG record of sig_size bytes, or `count` of them (one
    // per rotation start) when the window shows a part of the records that depends on the start.
    uint32_t sig_offset = 0;
    uint16_t sig_size = 0;
    bool sig_per_start = false;
    uint32_t edges_at = 0; // the `count` edges of the records, in order, in Snapshot::option_edges
};

struct ClassAnswer {
    uint32_t first = 0;
    uint16_t n = 0;
    bool nodata = false;
    bool failed_open = false;
};

// A class answered without some of its candidates: they were unhealthy (the answer fell back to the next candidate),
// or every candidate was, and the answer failed open. What set_health() logs.
struct Degraded {
    uint32_t steer = 0, cls = 0;
    bool failed_open = false;
    std::vector<uint32_t> unhealthy; // edge indexes, in the order the policy tried them
    std::vector<uint32_t> answer;    // edges answered
};

struct Snapshot {
    std::vector<Degraded> degraded;
    std::vector<uint8_t> bytes;
    std::vector<uint8_t> sig_bytes;
    std::vector<Option> options;
    std::vector<uint32_t> option_edges; // Option::edges_at: which edge each record is (the per-edge counters)
    std::vector<ClassAnswer> answers;
    unsigned failing_open = 0;
    std::vector<uint8_t> steer_failing_open;
};

struct alignas(64) WorkerSlot {
    uint64_t rng = 0;
    std::atomic<uint64_t> answers{0};
    std::atomic<uint64_t> failed_open{0};
    // Answers naming each edge (a multivalue answer names several): edge e at by_edge[e / 8].n[e % 8]. Whole cache
    // lines of their own, so two workers' counters never share one.
    struct alignas(64) EdgeCounters {
        std::atomic<uint64_t> n[8]{};
    };
    std::unique_ptr<EdgeCounters[]> by_edge;
    void count_edge(uint32_t e) noexcept { by_edge[e / 8].n[e % 8].fetch_add(1, std::memory_order_relaxed); }
    uint64_t edge_count(size_t e) const noexcept { return by_edge[e / 8].n[e % 8].load(std::memory_order_relaxed); }
};

struct Outcome {
    double p = 1;
    std::vector<uint32_t> edges;
    bool rotate = false;
    unsigned window = 1;
};

struct Eval {
    std::vector<Outcome> outs; // empty = nothing available
    bool nodata = false;       // no rule matched (as opposed to: matched but unhealthy)
};

} // namespace

struct SteeringState {
    std::shared_ptr<const SteeringConfig> config_holder;
    const SteeringConfig* config = nullptr;
    std::vector<std::string> edge_names;
    std::vector<SteerRt> steers;
    uint32_t total_classes = 0;
    std::atomic<const Snapshot*> current{nullptr};
    std::unique_ptr<Snapshot> owned_current;
    std::vector<std::pair<uint64_t, std::unique_ptr<Snapshot>>> retired;
    std::unique_ptr<WorkerSlot[]> workers;
    unsigned worker_count = 1;
    HealthVector health;
    AnswerSigner signer; // DNSSEC (set_signer); empty = answers unsigned
    // The location data the trees were built from, kept so explain() can say where a client was found. Costs the
    // memory of the location tree (about what the per-steer trees take); dropping it would mean re-reading the
    // files per explanation, which could then disagree with the trees after the files changed.
    std::unique_ptr<LocationDb> db;
    // What the log last said per steered name, type and client location ("www.example.test. A|NA/US" → the
    // sentence): set_health() logs changes only. Carried over from the previous Steering on reload.
    std::map<std::string, std::string> logged;
};

namespace {

uint32_t add_node(const SteeringConfig& cfg, SteerRt& s, const PolicyConfig& pc, int depth, const std::string& owner) {
    uint32_t idx = static_cast<uint32_t>(s.nodes.size());
    s.nodes.emplace_back();
    {
        RtNode& n = s.nodes[idx];
        n.owner = owner;
        n.type = pc.type;
        n.weights = pc.weights;
        n.biases = pc.biases;
        n.default_child = pc.default_member;
        n.latency = pc.latency;
        if (policy_uses_location(pc.type)) n.loc_slot = static_cast<int>(s.loc_slots++);
        for (size_t i = 0; i < pc.members.size(); ++i) {
            for (auto& code : pc.locations.size() > i ? pc.locations[i] : std::vector<std::string>{})
                n.code_to_child.emplace(code, static_cast<int>(i));
            for (auto& name : pc.cidr_names.size() > i ? pc.cidr_names[i] : std::vector<std::string>{})
                n.cidr_to_child.emplace(name, static_cast<int>(i));
        }
    }
    std::vector<RtChild> children;
    for (const MemberRef& m : pc.members) {
        RtChild c;
        if (m.is_pool) {
            const PoolConfig& pool = cfg.pools[m.index];
            c.is_node = true;
            c.has_coords = pool.has_coords;
            c.latitude = pool.latitude;
            c.longitude = pool.longitude;
            c.index = depth < 32 ? add_node(cfg, s, pool.policy, depth + 1, pool.name) : 0;
        } else {
            const EdgeConfig& e = cfg.edges[m.index];
            c.index = m.index;
            c.has_coords = e.has_coords;
            c.latitude = e.latitude;
            c.longitude = e.longitude;
        }
        children.push_back(c);
    }
    s.nodes[idx].children = std::move(children);
    return idx;
}

Order default_order(const RtNode& n) {
    Order o;
    if (n.default_child >= 0) o.push_back(static_cast<uint8_t>(n.default_child));
    for (size_t i = 0; i < n.children.size(); ++i)
        if (static_cast<int>(i) != n.default_child) o.push_back(static_cast<uint8_t>(i));
    return o;
}

// What order_for() based a client's order on, for explanations.
struct OrderDetail {
    std::string rule;
    std::vector<double> km, biased_km; // geoproximity, per child (-1 = no coordinates)
    std::vector<int64_t> ms;           // latency, per child (-1 = not measured)
};

Order order_for(const RtNode& n, const Location& loc, OrderDetail* detail = nullptr) {
    Order o;
    auto push = [&](int c) {
        if (c >= 0 && std::find(o.begin(), o.end(), static_cast<uint8_t>(c)) == o.end())
            o.push_back(static_cast<uint8_t>(c));
    };
    auto code_child = [&](const std::string& code) {
        if (code.empty()) return -1;
        auto it = n.code_to_child.find(code);
        return it == n.code_to_child.end() ? -1 : it->second;
    };
    switch (n.type) {
    case PolicyType::geolocation:
        if (detail) {
            detail->rule = code_child(loc.subdivision) >= 0 ? "subdivision " + loc.subdivision
                           : code_child(loc.country) >= 0   ? "country " + loc.country
                           : !loc.continent.empty() && code_child("continent:" + loc.continent) >= 0
                               ? "continent " + loc.continent
                               : std::string("default (no rule for this location)");
        }
        // Most specific wins; the less specific matches follow as fallbacks when the first is unhealthy.
        push(code_child(loc.subdivision));
        push(code_child(loc.country));
        push(loc.continent.empty() ? -1 : code_child("continent:" + loc.continent));
        push(n.default_child);
        return o;
    case PolicyType::ip_based: {
        auto it = loc.cidr_name.empty() ? n.cidr_to_child.end() : n.cidr_to_child.find(loc.cidr_name);
        if (detail)
            detail->rule = it != n.cidr_to_child.end() ? "cidr location " + loc.cidr_name
                                                       : std::string("default (no CIDR location listed)");
        push(it == n.cidr_to_child.end() ? -1 : it->second);
        push(n.default_child);
        return o;
    }
    case PolicyType::geoproximity: {
        if (!loc.has_coords) {
            if (detail) detail->rule = "default (client location has no coordinates)";
            return default_order(n);
        }
        if (detail) detail->rule = "nearest by biased distance";
        std::vector<std::pair<double, int>> d;
        for (size_t i = 0; i < n.children.size(); ++i) {
            const RtChild& c = n.children[i];
            double km = c.has_coords ? great_circle_km(loc.latitude, loc.longitude, c.latitude, c.longitude) : 1e9;
            d.emplace_back(biased_distance_km(km, n.biases[i]), static_cast<int>(i));
            if (detail) {
                detail->km.push_back(c.has_coords ? km : -1);
                detail->biased_km.push_back(c.has_coords ? d.back().first : -1);
            }
        }
        std::stable_sort(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; });
        for (auto& [km, i] : d)
            push(i);
        return o;
    }
    case PolicyType::latency: {
        const LatencyRow* row = nullptr;
        std::string codes[] = {loc.subdivision, loc.country, loc.continent.empty() ? "" : "continent:" + loc.continent,
                               "*"};
        for (auto& code : codes) {
            if (code.empty() || row) continue;
            for (auto& r : n.latency)
                if (std::find(r.from.begin(), r.from.end(), code) != r.from.end()) {
                    row = &r;
                    break;
                }
        }
        if (!row) {
            if (detail) detail->rule = "default (no latency row for this location)";
            return default_order(n);
        }
        if (detail) {
            std::string from;
            for (auto& f : row->from)
                from += (from.empty() ? "" : ", ") + f;
            detail->rule = "lowest latency, row from " + from;
            detail->ms = row->ms;
        }
        std::vector<std::pair<int64_t, int>> d;
        for (size_t i = 0; i < n.children.size(); ++i)
            d.emplace_back(row->ms[i] < 0 ? INT64_MAX : row->ms[i], static_cast<int>(i));
        std::stable_sort(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; });
        for (auto& [ms, i] : d)
            push(i);
        return o;
    }
    default:
        return o;
    }
}

void collect_plan(const SteerRt& s, const Location& loc, Plan& plan) {
    plan.assign(s.loc_slots, {});
    for (const RtNode& n : s.nodes)
        if (n.loc_slot >= 0) plan[static_cast<size_t>(n.loc_slot)] = order_for(n, loc);
}

struct Evaluator {
    const SteeringConfig& cfg;
    const SteerRt& s;
    const Plan& plan;
    const HealthVector& health;
    bool all_healthy;
    std::vector<uint32_t>* unhealthy = nullptr; // collects the candidates skipped for their health
    // Explanations only (null when rendering): every node evaluated, with its candidates, and the client's location.
    std::vector<PolicyExplanation>* walk = nullptr;
    const Location* loc = nullptr;
    mutable unsigned depth = 0;

    bool edge_ok(uint32_t e) const {
        const EdgeConfig& ec = cfg.edges[e];
        bool addr = s.cfg->qtype == 1 ? ec.has_v4 : ec.has_v6;
        if (!addr) return false;
        if (all_healthy || health[e]) return true;
        if (unhealthy && std::find(unhealthy->begin(), unhealthy->end(), e) == unhealthy->end())
            unhealthy->push_back(e);
        return false;
    }

    Eval child(const RtChild& c) const {
        if (c.is_node) {
            ++depth;
            Eval r = node(c.index);
            --depth;
            return r;
        }
        Eval r;
        if (edge_ok(c.index)) r.outs.push_back(Outcome{1, {c.index}, false, 1});
        return r;
    }

    // Explanations: opens the node's entry (its candidates "not tried" until evaluated); returns its index in walk.
    size_t open_trace(const RtNode& n) const {
        PolicyExplanation pe;
        pe.depth = depth;
        pe.owner = n.owner.empty() ? s.cfg->name + (s.cfg->qtype == 1 ? " A" : " AAAA") : "pool " + n.owner;
        pe.policy = policy_name(n.type);
        pe.fail_open_pass = all_healthy;
        OrderDetail detail;
        const Order* order = nullptr;
        if (n.loc_slot >= 0) {
            order = &plan[static_cast<size_t>(n.loc_slot)];
            if (loc) order_for(n, *loc, &detail);
            pe.rule = detail.rule;
        }
        for (size_t i = 0; i < n.children.size(); ++i) {
            const RtChild& c = n.children[i];
            CandidateExplanation ce;
            ce.is_pool = c.is_node;
            if (c.is_node) {
                ce.name = s.nodes[c.index].owner;
            } else {
                const EdgeConfig& ec = cfg.edges[c.index];
                ce.name = ec.name;
                ce.has_address = s.cfg->qtype == 1 ? ec.has_v4 : ec.has_v6;
                ce.has_check = ec.health.type != HealthCheckConfig::Type::none;
                ce.healthy = health[c.index] != 0;
            }
            if (n.type == PolicyType::weighted) ce.weight = n.weights[i];
            if (n.type == PolicyType::geoproximity) {
                ce.bias = n.biases[i];
                if (i < detail.km.size()) {
                    ce.distance_km = detail.km[i];
                    ce.biased_km = detail.biased_km[i];
                }
            }
            if (n.type == PolicyType::latency) ce.latency_ms = i < detail.ms.size() ? detail.ms[i] : -1;
            ce.outcome = "not tried";
            if (order) {
                auto it = std::find(order->begin(), order->end(), static_cast<uint8_t>(i));
                if (it == order->end())
                    ce.outcome = "not ranked";
                else
                    ce.rank = static_cast<int>(it - order->begin());
            }
            pe.candidates.push_back(std::move(ce));
        }
        walk->push_back(std::move(pe));
        return walk->size() - 1;
    }
    void mark(size_t wi, size_t child, bool answered) const {
        if (walk) (*walk)[wi].candidates[child].outcome = answered ? "answered" : "unavailable";
    }

    Eval first_available(const RtNode& n, const Order& order, size_t wi) const {
        Eval r;
        bool all_nodata = !order.empty();
        for (uint8_t i : order) {
            Eval e = child(n.children[i]);
            mark(wi, i, !e.outs.empty());
            if (!e.outs.empty()) return e;
            all_nodata = all_nodata && e.nodata;
        }
        r.nodata = order.empty() || all_nodata;
        return r;
    }

    Eval node(uint32_t idx) const {
        const RtNode& n = s.nodes[idx];
        size_t wi = walk ? open_trace(n) : 0;
        switch (n.type) {
        case PolicyType::simple:
        case PolicyType::multivalue: {
            Eval r;
            Outcome o;
            for (size_t i = 0; i < n.children.size(); ++i) {
                const RtChild& c = n.children[i];
                bool ok = !c.is_node && edge_ok(c.index);
                if (ok) o.edges.push_back(c.index);
                mark(wi, i, ok);
            }
            if (o.edges.empty()) return r;
            o.rotate = o.edges.size() > 1;
            o.window = n.type == PolicyType::multivalue
                           ? std::min<unsigned>(kMultivalueMax, static_cast<unsigned>(o.edges.size()))
                           : static_cast<unsigned>(o.edges.size());
            r.outs.push_back(std::move(o));
            return r;
        }
        case PolicyType::failover: {
            Order o;
            for (size_t i = 0; i < n.children.size(); ++i)
                o.push_back(static_cast<uint8_t>(i));
            return first_available(n, o, wi);
        }
        case PolicyType::weighted: {
            // Route53: weight-0 members answer only when every non-zero member is unavailable; when only
            // weight-0 members remain, they share equally.
            std::vector<std::pair<double, Eval>> avail;
            for (int pass = 0; pass < 2 && avail.empty(); ++pass) {
                for (size_t i = 0; i < n.children.size(); ++i) {
                    if ((pass == 0) != (n.weights[i] > 0)) continue;
                    Eval e = child(n.children[i]);
                    mark(wi, i, !e.outs.empty());
                    if (!e.outs.empty()) avail.emplace_back(pass == 0 ? n.weights[i] : 1, std::move(e));
                }
            }
            Eval r;
            double total = 0;
            for (auto& [w, e] : avail)
                total += w;
            for (auto& [w, e] : avail)
                for (auto& o : e.outs) {
                    o.p *= w / total;
                    r.outs.push_back(std::move(o));
                }
            return r;
        }
        default:
            return first_available(n, plan[static_cast<size_t>(n.loc_slot)], wi);
        }
    }
};

void put16(std::vector<uint8_t>& b, unsigned v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

void put_rr(std::vector<uint8_t>& b, const SteerConfig& sc, const EdgeConfig& e) {
    b.push_back(0xC0); // owner: pointer to the question name at offset 12
    b.push_back(0x0C);
    put16(b, sc.qtype);
    put16(b, 1); // IN
    put16(b, sc.ttl >> 16);
    put16(b, sc.ttl & 0xffff);
    if (sc.qtype == 1) {
        put16(b, 4);
        b.insert(b.end(), e.v4, e.v4 + 4);
    } else {
        put16(b, 16);
        b.insert(b.end(), e.v6, e.v6 + 16);
    }
}

// Signs the `window` records at `rrs` (rendered RRs of `rr_size` bytes) and appends the RRSIG as a rendered RR
// (owner pointer first) to sig_bytes; returns its size, 0 when not signed.
uint16_t sign_window(const SteeringState& st, const SteerConfig& sc, const uint8_t* rrs, unsigned window,
                     uint16_t rr_size, std::vector<uint8_t>& sig_bytes) {
    std::string records, sigs;
    for (unsigned k = 0; k < window; ++k) {
        const uint8_t* rr = rrs + static_cast<size_t>(k) * rr_size;
        records.append(reinterpret_cast<const char*>(rr + 10), rr_size - 10u); // [u16 rdlength][rdata]
    }
    if (!st.signer(std::span<const uint8_t>(sc.wire.data(), sc.wire.size()), sc.qtype, sc.ttl, records, &sigs) ||
        sigs.size() < 2)
        return 0;
    size_t before = sig_bytes.size();
    size_t len = (static_cast<uint8_t>(sigs[0]) << 8) | static_cast<uint8_t>(sigs[1]);
    sig_bytes.push_back(0xC0);
    sig_bytes.push_back(0x0C);
    put16(sig_bytes, 46); // RRSIG
    put16(sig_bytes, 1);
    put16(sig_bytes, sc.ttl >> 16);
    put16(sig_bytes, sc.ttl & 0xffff);
    put16(sig_bytes, static_cast<unsigned>(len));
    sig_bytes.insert(sig_bytes.end(), sigs.begin() + 2, sigs.begin() + 2 + static_cast<long>(len));
    return static_cast<uint16_t>(sig_bytes.size() - before);
}

// One class's answer under the current health: the policy tree evaluated and, when nothing is available although a
// rule matched, evaluated again as if every edge were healthy. render() and Steering::explain() both come here, so an
// explanation walks exactly what rendered the answer. `walk`/`loc`: explanations only (null when rendering).
Eval evaluate_class(const SteeringState& st, const SteerRt& s, size_t ci, std::vector<uint32_t>* unhealthy,
                    bool* failed_open, std::vector<PolicyExplanation>* walk, const Location* loc) {
    Evaluator ev{*st.config, s, s.classes[ci], st.health, false, unhealthy, walk, loc};
    Eval r = ev.node(0);
    *failed_open = false;
    if (r.outs.empty() && !r.nodata) {
        // No candidate of this location is healthy (edges serving other locations may be: a geolocation
        // answer never crosses to another area's record): answer as if all were healthy, as Route53 does.
        ev.all_healthy = true;
        ev.unhealthy = nullptr;
        r = ev.node(0);
        *failed_open = !r.outs.empty();
    }
    return r;
}

// Merges outcomes that answer the same records (e.g. weighted pools that resolve to one edge): the options rendered.
std::vector<Outcome> merge_outcomes(const std::vector<Outcome>& outs) {
    std::vector<Outcome> merged;
    for (auto& o : outs) {
        auto it = std::find_if(merged.begin(), merged.end(),
                               [&](const Outcome& m) { return m.edges == o.edges && m.window == o.window; });
        if (it != merged.end())
            it->p += o.p;
        else
            merged.push_back(o);
    }
    return merged;
}

std::unique_ptr<Snapshot> render(const SteeringState& st) {
    auto snap = std::make_unique<Snapshot>();
    snap->answers.resize(st.total_classes);
    snap->steer_failing_open.assign(st.steers.size(), 0);
    for (size_t si = 0; si < st.steers.size(); ++si) {
        const SteerRt& s = st.steers[si];
        for (size_t ci = 0; ci < s.classes.size(); ++ci) {
            ClassAnswer& ca = snap->answers[s.base + ci];
            Degraded dg;
            Eval r = evaluate_class(st, s, ci, &dg.unhealthy, &ca.failed_open, nullptr, nullptr);
            if (ca.failed_open) snap->steer_failing_open[si] = 1;
            if (!dg.unhealthy.empty()) {
                dg.steer = static_cast<uint32_t>(si);
                dg.cls = static_cast<uint32_t>(ci);
                dg.failed_open = ca.failed_open;
                for (const Outcome& o : r.outs)
                    for (uint32_t e : o.edges)
                        if (std::find(dg.answer.begin(), dg.answer.end(), e) == dg.answer.end()) dg.answer.push_back(e);
                snap->degraded.push_back(std::move(dg));
            }
            if (r.outs.empty()) {
                ca.nodata = true;
                continue;
            }
            std::vector<Outcome> merged = merge_outcomes(r.outs);
            ca.first = static_cast<uint32_t>(snap->options.size());
            ca.n = static_cast<uint16_t>(merged.size());
            double cum = 0;
            for (size_t oi = 0; oi < merged.size(); ++oi) {
                const Outcome& o = merged[oi];
                cum += o.p;
                Option opt{};
                opt.threshold = oi + 1 == merged.size()
                                    ? UINT32_MAX
                                    : static_cast<uint32_t>(std::min(4294967295.0, cum * 4294967296.0));
                opt.offset = static_cast<uint32_t>(snap->bytes.size());
                opt.count = static_cast<uint16_t>(o.edges.size());
                opt.edges_at = static_cast<uint32_t>(snap->option_edges.size());
                snap->option_edges.insert(snap->option_edges.end(), o.edges.begin(), o.edges.end());
                opt.window = static_cast<uint16_t>(o.window);
                size_t before = snap->bytes.size();
                for (uint32_t e : o.edges)
                    put_rr(snap->bytes, *s.cfg, st.config->edges[e]);
                opt.rr_size = static_cast<uint16_t>((snap->bytes.size() - before) / o.edges.size());
                // Repeat the first window-1 records so every rotation is one contiguous run.
                if (o.rotate)
                    for (unsigned k = 0; k + 1 < o.window; ++k)
                        put_rr(snap->bytes, *s.cfg, st.config->edges[o.edges[k]]);
                if (st.signer) {
                    // The RRSIG covers the set, whatever its order: one for every start when the window shows all
                    // the records, else one per start (each shows another subset).
                    opt.sig_offset = static_cast<uint32_t>(snap->sig_bytes.size());
                    opt.sig_per_start = opt.window < opt.count;
                    unsigned starts = opt.sig_per_start ? opt.count : 1;
                    for (unsigned k = 0; k < starts; ++k) {
                        uint16_t size = sign_window(st, *s.cfg, snap->bytes.data() + opt.offset + k * opt.rr_size,
                                                    opt.window, opt.rr_size, snap->sig_bytes);
                        if (!size || (k && size != opt.sig_size)) { // not signed (or uneven): no RRSIGs at all
                            snap->sig_bytes.resize(opt.sig_offset);
                            opt.sig_size = 0;
                            break;
                        }
                        opt.sig_size = size;
                    }
                }
                snap->options.push_back(opt);
            }
        }
        snap->failing_open += snap->steer_failing_open[si];
    }
    return snap;
}

// Which rule of the location-based policies places a location: per geolocation node the level that matched (3
// subdivision, 2 country, 1 continent, 0 the default "*"), per ip_based node the CIDR location name or "*". Empty
// for policies without rules (geoproximity, latency).
struct RuleMatch {
    std::string key;    // identity, for grouping
    int geo_level = -1; // the first geolocation node's level, -1 = none
    std::string cidr;   // the first ip_based node's match, "" = none
};

RuleMatch rule_match(const SteerRt& s, const Location& loc) {
    RuleMatch m;
    for (const RtNode& n : s.nodes) {
        auto has = [&](const std::string& code) { return !code.empty() && n.code_to_child.count(code); };
        if (n.type == PolicyType::geolocation) {
            int level = has(loc.subdivision)                                            ? 3
                        : has(loc.country)                                              ? 2
                        : (!loc.continent.empty() && has("continent:" + loc.continent)) ? 1
                                                                                        : 0;
            m.key += "g" + std::to_string(level);
            if (m.geo_level < 0) m.geo_level = level;
        } else if (n.type == PolicyType::ip_based) {
            bool hit = !loc.cidr_name.empty() && n.cidr_to_child.count(loc.cidr_name);
            m.key += "c:" + (hit ? loc.cidr_name : std::string("*")) + ";";
            if (m.cidr.empty()) m.cidr = hit ? loc.cidr_name : "*";
        }
    }
    return m;
}

// Where the clients of each class are, for logs: one label per rule that places locations in the class (classes
// merge locations answered alike, e.g. a continent's rule and the default when both name one edge). A label says
// as much as the rule and the locations it covers share: "NA/US" (a country rule), "NA/US-CA", "EU" (a continent),
// "*" (the default), "cidr:office-eu"; for policies without rules, the area the class's locations share ("EU/DE") or
// the continents they span ("AS, OC, unknown").
std::vector<std::vector<std::string>> class_labels(const SteerRt& rt, const LocationDb& db,
                                                   const std::vector<uint32_t>& loc_class) {
    struct Acc {
        RuleMatch rule;
        bool any = false, mixed_country = false, mixed_sub = false;
        std::string country, subdivision;
        std::vector<std::string> continents; // distinct, "" = unknown
    };
    std::vector<std::vector<Acc>> acc(rt.classes.size());
    for (LocationId id = 0; id < db.size(); ++id) {
        const Location& l = db.location(id);
        RuleMatch m = rule_match(rt, l);
        auto& groups = acc[loc_class[id]];
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Acc& a) { return a.rule.key == m.key; });
        if (it == groups.end()) {
            groups.emplace_back();
            it = groups.end() - 1;
            it->rule = std::move(m);
        }
        Acc& a = *it;
        if (std::find(a.continents.begin(), a.continents.end(), l.continent) == a.continents.end())
            a.continents.push_back(l.continent);
        if (!a.any) {
            a.any = true;
            a.country = l.country;
            a.subdivision = l.subdivision;
            continue;
        }
        a.mixed_country |= a.country != l.country;
        a.mixed_sub |= a.subdivision != l.subdivision;
    }
    std::vector<std::vector<std::string>> out(rt.classes.size());
    for (size_t c = 0; c < acc.size(); ++c) {
        for (Acc& a : acc[c]) {
            std::string label;
            const std::string continent = a.continents.size() == 1 ? a.continents[0] : "";
            int level = a.rule.geo_level;
            if (level == 0 || (level < 0 && a.rule.cidr == "*")) {
                label = "*";
            } else if (level > 0 || a.rule.cidr.empty()) {
                // The area the locations share, down to the rule's level (a country rule: continent/country).
                int depth = level > 0 ? level : 3;
                if (!continent.empty()) {
                    label = continent;
                    if (depth >= 3 && !a.mixed_sub && !a.subdivision.empty())
                        label += "/" + a.subdivision;
                    else if (depth >= 2 && !a.mixed_country && !a.country.empty())
                        label += "/" + a.country;
                } else if (a.continents.size() > 1) {
                    std::sort(a.continents.begin(), a.continents.end(), [](const std::string& x, const std::string& y) {
                        return x.empty() != y.empty() ? y.empty() : x < y; // unknown last
                    });
                    for (size_t i = 0; i < a.continents.size() && i < 4; ++i)
                        label += (i ? ", " : "") + (a.continents[i].empty() ? std::string("unknown") : a.continents[i]);
                    if (a.continents.size() > 4) label += " and " + std::to_string(a.continents.size() - 4) + " more";
                } else {
                    label = "unknown";
                }
            }
            if (!a.rule.cidr.empty() && a.rule.cidr != "*")
                label = "cidr:" + a.rule.cidr + (label.empty() ? "" : " " + label);
            out[c].push_back(label.empty() ? "unknown" : label);
        }
        std::sort(out[c].begin(), out[c].end());
        out[c].erase(std::unique(out[c].begin(), out[c].end()), out[c].end());
    }
    return out;
}

uint32_t hash_name(std::span<const uint8_t> n) noexcept {
    uint32_t h = 2166136261u;
    for (uint8_t c : n)
        h = (h ^ c) * 16777619u;
    return h;
}

} // namespace

Steering::Steering() : state_(std::make_unique<SteeringState>()) {}
Steering::~Steering() = default;

std::unique_ptr<Steering> Steering::build(const SteeringConfig& config, unsigned workers,
                                          shared::ConfigDiagnostics& diags) {
    std::unique_ptr<Steering> st(new Steering());
    SteeringState& s = *st->state_;
    // Our own copy: the caller's config may go away once built (the trees and answers point into it).
    s.config_holder = std::make_shared<const SteeringConfig>(config);
    s.config = s.config_holder.get();
    for (auto& e : config.edges)
        s.edge_names.push_back(e.name);
    s.health.assign(config.edges.size(), 1);
    s.worker_count = std::max(1u, workers);
    s.workers = std::make_unique<WorkerSlot[]>(s.worker_count);
    for (unsigned i = 0; i < s.worker_count; ++i)
        s.workers[i].by_edge = std::make_unique<WorkerSlot::EdgeCounters[]>(s.edge_names.size() / 8 + 1);
    for (unsigned i = 0; i < s.worker_count; ++i)
        s.workers[i].rng = 0x9E3779B97F4A7C15ull * (i + 1) + 12345;

    bool uses_location = false;
    for (auto& sc : s.config->steers) {
        SteerRt rt;
        rt.cfg = &sc;
        add_node(*s.config, rt, sc.policy, 0, "");
        uses_location = uses_location || rt.loc_slots > 0;
        s.steers.push_back(std::move(rt));
    }

    LocationDb db;
    bool ok = true;
    if (uses_location) {
        if (!config.database.empty()) {
            std::string err;
            if (!db.load_mmdb(config.database, &err)) {
                diags.error_at(config.database, 0, err);
                ok = false;
            }
        }
        if (!config.cidr_file.empty() && !db.load_cidr_file(config.cidr_file, diags)) ok = false;
        if (config.database.empty() && config.cidr_file.empty())
            diags.warning_at("", 0,
                             "steering: location-based policies but no [geo] database or cidr_file: every "
                             "client is 'unknown' and gets the default");
    }
    if (!ok) return nullptr;

    uint32_t base = 0;
    for (SteerRt& rt : s.steers) {
        rt.base = base;
        if (rt.loc_slots == 0) {
            rt.classes.push_back({});
            rt.class_labels.push_back({"any"});
            rt.v4 = RadixTree(0);
            rt.v6 = RadixTree(0);
        } else {
            std::map<Plan, uint32_t> interned;
            std::vector<uint32_t> loc_class(db.size());
            Plan plan;
            for (LocationId id = 0; id < db.size(); ++id) {
                collect_plan(rt, db.location(id), plan);
                auto [it, ins] = interned.emplace(plan, static_cast<uint32_t>(rt.classes.size()));
                if (ins) rt.classes.push_back(plan);
                loc_class[id] = it->second;
            }
            rt.class_labels = class_labels(rt, db, loc_class);
            auto map = [&](uint32_t loc) { return loc_class[loc]; };
            rt.v4 = db.tree_v4().mapped(map);
            rt.v6 = db.tree_v6().mapped(map);
            rt.v4.index_first_byte();
            rt.v6.index_first_byte();
        }
        base += static_cast<uint32_t>(rt.classes.size());
    }
    s.total_classes = base;

    // Names: one SteeredName per owner, with its A and AAAA steers.
    for (size_t i = 0; i < config.steers.size(); ++i) {
        const SteerConfig& sc = config.steers[i];
        auto it = std::find_if(st->names_.begin(), st->names_.end(),
                               [&](const SteeredName& n) { return n.wire_ == sc.wire; });
        if (it == st->names_.end()) {
            st->names_.emplace_back();
            it = st->names_.end() - 1;
            it->wire_ = sc.wire;
            it->text_ = sc.name;
        }
        (sc.qtype == 1 ? it->a_ : it->aaaa_) = static_cast<int32_t>(i);
    }
    size_t cap = 4;
    while (cap < st->names_.size() * 2)
        cap *= 2;
    st->name_hash_.assign(cap, 0);
    for (size_t i = 0; i < st->names_.size(); ++i) {
        uint32_t h = hash_name(st->names_[i].wire_name()) & static_cast<uint32_t>(cap - 1);
        while (st->name_hash_[h])
            h = (h + 1) & static_cast<uint32_t>(cap - 1);
        st->name_hash_[h] = static_cast<uint32_t>(i + 1);
    }

    s.db = std::make_unique<LocationDb>(std::move(db));
    s.owned_current = render(s);
    s.current.store(s.owned_current.get(), std::memory_order_release);
    return st;
}

const SteeredName* Steering::find(std::span<const uint8_t> name) const noexcept {
    uint32_t mask = static_cast<uint32_t>(name_hash_.size() - 1);
    for (uint32_t h = hash_name(name) & mask;; h = (h + 1) & mask) {
        uint32_t v = name_hash_[h];
        if (!v) return nullptr;
        const SteeredName& n = names_[v - 1];
        if (n.wire_.size() == name.size() && std::memcmp(n.wire_.data(), name.data(), name.size()) == 0) return &n;
    }
}

Answer Steering::answer(const SteeredName& name, uint16_t qtype, const ClientLocation& where, unsigned worker,
                        AnswerTrace* trace) const noexcept {
    Answer a;
    int32_t idx = qtype == 1 ? name.a_ : qtype == 28 ? name.aaaa_ : -1;
    if (idx < 0) {
        a.nodata = true;
        return a;
    }
    const SteeringState& st = *state_;
    const SteerRt& s = st.steers[static_cast<size_t>(idx)];

    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t* addr = where.addr;
    unsigned source = where.source_prefix;
    bool v4 = where.family == AF_INET;
    unsigned bits_offset = 0;
    if (!v4 && source >= 96 && std::memcmp(addr, kMapped, 12) == 0) {
        v4 = true;
        addr += 12;
        source -= 96;
        bits_offset = 96;
    }
    unsigned cap = v4 ? 24 : 56; // RFC 7871 §11.1: do not use more than /24 and /56 of the client's address
    unsigned max = v4 ? 32 : 128;
    bool truncated = source > cap;
    unsigned used = std::min(std::min(source, cap), max);
    uint8_t masked[16] = {};
    std::memcpy(masked, addr, v4 ? 4 : 16);
    for (unsigned b = used; b < max; ++b)
        masked[b >> 3] &= static_cast<uint8_t>(~(0x80u >> (b & 7)));
    RadixTree::Hit hit = (v4 ? s.v4 : s.v6).lookup(masked, used);
    unsigned scope = hit.depth;
    if (truncated && scope > used) scope = used;
    if (s.loc_slots > 0 && bits_offset) scope += bits_offset;
    a.scope_prefix = static_cast<uint8_t>(s.loc_slots > 0 ? scope : 0);

    const Snapshot* snap = st.current.load(std::memory_order_acquire);
    const ClassAnswer& ca = snap->answers[s.base + hit.value];
    WorkerSlot& w = st.workers[worker % st.worker_count];
    if (trace) {
        // Explained, not served: the worker's PRNG and counters are not ours to touch from this thread.
        trace->traced = true;
        trace->steer = idx;
        trace->family = static_cast<uint8_t>(v4 ? AF_INET : AF_INET6);
        trace->used_bits = static_cast<uint8_t>(used);
        trace->capped = truncated;
        std::memcpy(trace->masked, masked, sizeof masked);
        trace->answer_class = hit.value;
        trace->depth = hit.depth;
        trace->scope = a.scope_prefix;
        trace->nodata = ca.nodata;
        trace->failed_open = ca.failed_open;
        trace->options = ca.n;
    } else {
        w.answers.fetch_add(1, std::memory_order_relaxed);
    }
    if (ca.nodata) {
        a.nodata = true;
        return a;
    }
    uint64_t& rng = trace ? trace->seed : w.rng;
    auto next = [&rng]() noexcept {
        // xorshift64*: per-worker state, so no sharing between threads
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return static_cast<uint32_t>((rng * 2685821657736338717ull) >> 32);
    };
    const Option* opt = &snap->options[ca.first];
    if (ca.n > 1) {
        uint32_t r = next();
        while (r > opt->threshold)
            ++opt;
    }
    unsigned start = opt->count > 1 ? next() % opt->count : 0;
    if (trace) {
        trace->option = static_cast<uint16_t>(opt - &snap->options[ca.first]);
        trace->start = static_cast<uint16_t>(start);
    } else {
        for (unsigned k = 0; k < opt->window; ++k)
            w.count_edge(snap->option_edges[opt->edges_at + (start + k) % opt->count]);
    }
    a.records = std::span<const uint8_t>(snap->bytes.data() + opt->offset + start * opt->rr_size,
                                         static_cast<size_t>(opt->window) * opt->rr_size);
    a.rr_count = opt->window;
    if (opt->sig_size) {
        a.sigs = std::span<const uint8_t>(snap->sig_bytes.data() + opt->sig_offset +
                                              (opt->sig_per_start ? start * opt->sig_size : 0u),
                                          opt->sig_size);
        a.sig_count = 1;
    }
    if (ca.failed_open) {
        a.failed_open = true;
        if (!trace) w.failed_open.fetch_add(1, std::memory_order_relaxed);
    }
    return a;
}

namespace {

// "198.51.100.0/24": the first `bits` of addr (network order; 4 bytes for AF_INET).
std::string network_text(int family, const uint8_t* addr, unsigned bits) {
    uint8_t a[16] = {};
    unsigned max = family == AF_INET ? 32 : 128;
    bits = std::min(bits, max);
    std::memcpy(a, addr, family == AF_INET ? 4 : 16);
    for (unsigned b = bits; b < max; ++b)
        a[b >> 3] &= static_cast<uint8_t>(~(0x80u >> (b & 7)));
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, a, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(bits);
}

} // namespace

SteeringExplanation Steering::explain(const AnswerTrace& t) const {
    SteeringExplanation e;
    const SteeringState& st = *state_;
    if (!t.traced || t.steer < 0 || static_cast<size_t>(t.steer) >= st.steers.size()) return e;
    const SteerRt& rt = st.steers[static_cast<size_t>(t.steer)];
    const SteerConfig& sc = *rt.cfg;
    e.name = sc.name;
    e.qtype = sc.qtype == 1 ? "A" : "AAAA";
    e.ttl = sc.ttl;
    e.policy = policy_name(sc.policy.type);
    e.uses_location = rt.loc_slots > 0;
    e.database = st.config->database;
    e.cidr_file = st.config->cidr_file;
    e.looked_up = network_text(t.family, t.masked, t.used_bits);
    e.capped = t.capped;
    Location loc;
    if (e.uses_location && st.db) {
        // The same masked address the class tree was walked with, in the tree it was derived from.
        const RadixTree& tree = t.family == AF_INET ? st.db->tree_v4() : st.db->tree_v6();
        RadixTree::Hit hit = tree.lookup(t.masked, t.used_bits);
        e.location_known = hit.value != kUnknownLocation;
        loc = st.db->location(hit.value);
        e.location_network = network_text(t.family, t.masked, hit.depth);
    }
    e.location = loc;
    e.class_network = network_text(t.family, t.masked, std::min(t.depth, t.used_bits));
    if (t.answer_class < rt.class_labels.size()) e.class_labels = rt.class_labels[t.answer_class];
    e.scope = t.scope;
    bool failed_open = false;
    Eval r = evaluate_class(st, rt, t.answer_class, nullptr, &failed_open, &e.walk, &loc);
    e.failed_open = t.failed_open;
    e.nodata = t.nodata;
    std::vector<Outcome> merged = merge_outcomes(r.outs);
    for (size_t i = 0; i < merged.size(); ++i) {
        OptionExplanation oe;
        oe.probability = merged[i].p;
        for (uint32_t edge : merged[i].edges)
            oe.edges.push_back(st.edge_names[edge]);
        oe.window = merged[i].window;
        oe.chosen = !t.nodata && i == t.option;
        if (oe.chosen)
            for (unsigned k = 0; k < oe.window && !oe.edges.empty(); ++k)
                e.answer.push_back(oe.edges[(t.start + k) % oe.edges.size()]);
        e.options.push_back(std::move(oe));
    }
    return e;
}

const std::vector<std::string>& Steering::edge_names() const noexcept {
    return state_->edge_names;
}
const SteeringConfig& Steering::config() const noexcept {
    return *state_->config;
}

void Steering::set_signer(AnswerSigner signer, uint64_t now_ms) const {
    state_->signer = std::move(signer);
    set_health(state_->health, now_ms);
}

namespace {

std::string edge_list(const SteeringState& s, const std::vector<uint32_t>& edges) {
    std::string out;
    for (uint32_t e : edges)
        out += (out.empty() ? "" : ", ") + s.edge_names[e];
    return out;
}

// Logs what changed since the last health state, per steered name, type and client location: which candidates were
// skipped as unhealthy and what is answered instead (info), or that none is healthy and the answer fails open
// (warning), and when a location is back to its normal answer. Only changes, so a reload or a health change logs
// each location once; at most kMaxLines lines, then how many more changed.
void log_changes(SteeringState& s, const Snapshot& snap) {
    constexpr size_t kMaxLines = 20;
    std::map<std::string, std::pair<std::string, std::pair<const Degraded*, const std::string*>>> now;
    for (const Degraded& d : snap.degraded) {
        const SteerRt& rt = s.steers[d.steer];
        const char* type = rt.cfg->qtype == 1 ? "A" : "AAAA";
        for (const std::string& where : rt.class_labels[d.cls]) {
            std::string text = "steer " + rt.cfg->name + " " + type + ": location " + where + ": " +
                               (d.unhealthy.size() == 1 ? "edge " : "edges ") + edge_list(s, d.unhealthy) +
                               " unhealthy: ";
            if (d.failed_open)
                text += "failing open to " + edge_list(s, d.answer);
            else
                text += d.answer.empty() ? "no answer (NODATA)" : "answering " + edge_list(s, d.answer);
            now[rt.cfg->name + " " + type + "|" + where] = {std::move(text), {&d, &where}};
        }
    }
    size_t lines = 0, more = 0;
    auto emit = [&](shared::log::Level level, const std::string& text, std::initializer_list<shared::log::Field> f) {
        if (lines++ < kMaxLines)
            shared::log::write(level, "geo", text, f);
        else
            ++more;
    };
    for (auto& [key, v] : now) {
        auto it = s.logged.find(key);
        if (it != s.logged.end() && it->second == v.first) continue;
        const Degraded& d = *v.second.first;
        const SteerRt& rt = s.steers[d.steer];
        emit(d.failed_open ? shared::log::Level::warn : shared::log::Level::info, v.first,
             {{"name", rt.cfg->name},
              {"type", rt.cfg->qtype == 1 ? "A" : "AAAA"},
              {"location", *v.second.second},
              {"unhealthy", edge_list(s, d.unhealthy)},
              {"answer", edge_list(s, d.answer)},
              {"failing_open", d.failed_open ? "1" : "0"}});
    }
    for (auto& [key, text] : s.logged) {
        if (now.count(key)) continue;
        size_t bar = key.rfind('|');
        std::string head = key.substr(0, bar);
        emit(shared::log::Level::info,
             "steer " + head + ": location " + key.substr(bar + 1) + ": candidates healthy again",
             {{"name", head.substr(0, head.rfind(' '))}, {"location", key.substr(bar + 1)}});
    }
    if (more)
        shared::log::write(shared::log::Level::info, "geo",
                           "steering: " + std::to_string(more) + " more location changes not logged",
                           {{"not_logged", std::to_string(more)}});
    s.logged.clear();
    for (auto& [key, v] : now)
        s.logged.emplace(key, std::move(v.first));
}

} // namespace

void Steering::carry_log_state(const Steering& previous) const {
    state_->logged = previous.state_->logged;
}

void Steering::set_health(const HealthVector& health, uint64_t now_ms) const {
    SteeringState& s = *state_;
    for (size_t i = 0; i < s.health.size() && i < health.size(); ++i)
        s.health[i] = s.config->edges[i].health.type == HealthCheckConfig::Type::none ? 1 : health[i];
    auto t0 = std::chrono::steady_clock::now();
    auto snap = render(s);
    if (s.signer) {
        // What a health change costs in a signed zone (every variant signed again): the figure issue 12 bounds.
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        size_t sigs = 0;
        for (const Option& o : snap->options)
            sigs += o.sig_size ? (o.sig_per_start ? o.count : 1u) : 0u;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", ms);
        shared::log::write(shared::log::Level::debug, "geo", "steered answers rendered",
                           {{"ms", buf}, {"signed", std::to_string(sigs)}});
    }
    log_changes(s, *snap);
    s.current.store(snap.get(), std::memory_order_release);
    s.retired.emplace_back(now_ms, std::move(s.owned_current));
    s.owned_current = std::move(snap);
    // Workers read a snapshot for microseconds; one untouched for a minute is no longer in use.
    std::erase_if(s.retired, [&](auto& r) { return now_ms >= r.first + kRetireAfterMs; });
}

uint64_t Steering::answers_total() const noexcept {
    uint64_t n = 0;
    for (unsigned i = 0; i < state_->worker_count; ++i)
        n += state_->workers[i].answers.load(std::memory_order_relaxed);
    return n;
}

std::vector<uint64_t> Steering::answers_by_edge() const {
    std::vector<uint64_t> n(state_->edge_names.size(), 0);
    for (unsigned i = 0; i < state_->worker_count; ++i)
        for (size_t e = 0; e < n.size(); ++e)
            n[e] += state_->workers[i].edge_count(e);
    return n;
}

uint64_t Steering::failed_open_total() const noexcept {
    uint64_t n = 0;
    for (unsigned i = 0; i < state_->worker_count; ++i)
        n += state_->workers[i].failed_open.load(std::memory_order_relaxed);
    return n;
}

unsigned Steering::failing_open_now() const noexcept {
    return state_->current.load(std::memory_order_acquire)->failing_open;
}

} // namespace dns::geo
