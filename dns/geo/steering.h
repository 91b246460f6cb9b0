// Geo steering: the names meridian-dns answers per client (Route53's routing policies), decided ahead of time.
//
// Built once per config load on the loading thread (parse_steering_config + Steering::build). Afterwards the query
// path (find/answer) is called concurrently by every DNS worker: it allocates nothing and takes no lock. Health
// changes arrive on the DNS main loop (dns/health), which calls set_health(); that re-renders the answers and
// publishes them with one atomic pointer store, so workers see either the old or the new answers, never a mix.
//
// How the DNS engine uses it (dns/engine):
//   1. After finding the zone for QNAME, `const SteeredName* s = steering.find(lowercase_wire_qname);`
//      A non-null `s` means the name EXISTS (even without static records in the zone file).
//   2. If `s->steers(qtype)`: `Answer a = steering.answer(*s, qtype, where, worker_index);` and write
//      a.records (a.rr_count RRs, owner already a compression pointer 0xC00C to the question name, class IN,
//      TTL and RDATA filled in) into the answer section with AA set. If a.nodata: NOERROR/NODATA with the zone's SOA.
//      If the query carried ECS, echo it with SCOPE PREFIX-LENGTH = a.scope_prefix (RFC 7871 §7.2.1).
//   3. If the name is steered but not for this qtype: answer from the zone's static data at that name; if there
//      is none, NODATA (the name exists). Static data of a steered type at a steered name is a config error that
//      dns/config reports (walk Steering::names(): each must lie inside a served zone, see name_in_zone(), and have
//      no static RRset of a type it steers, nor a CNAME), so the two never mix.
// Loading (dns/config / dns_app): cfg = parse_steering_config(root); steering = Steering::build(*cfg, workers, diags)
// (build copies what it needs from cfg). Then, before the new Steering is handed to the workers,
// dns::health::HealthChecker::watch() (dns/health/health_checker.h) runs every new check once and calls
// set_health(), so no name is answered before its edges were checked; it keeps checking afterwards.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dns/geo/steering_explanation.h"

namespace shared {
class ConfigSection;
class ConfigDiagnostics;
} // namespace shared

namespace dns::geo {

// Where the client is, as the engine learned it.
struct ClientLocation {
    // AF_INET or AF_INET6 (numeric values from <sys/socket.h>). IPv4-mapped IPv6 (::ffff:a.b.c.d) is fine: it is
    // looked up as IPv4.
    uint8_t family = 0;
    // ECS SOURCE PREFIX-LENGTH, or 32/128 for the resolver's own address (no ECS). Longer prefixes are truncated
    // to /24 and /56 for privacy before use. For ECS with SOURCE PREFIX-LENGTH 0, pass the resolver's address with
    // a full prefix instead (and echo SCOPE 0): the client asked not to be located by its subnet.
    uint8_t source_prefix = 0;
    // Network byte order; the first 4 bytes for IPv4. Bits past source_prefix are ignored (treated as zero).
    uint8_t addr[16] = {};
};

// One decision. Points into data owned by the Steering; valid while the caller holds the Steering (see
// Steering::answer on how long old answers stay alive after a health change).
struct Answer {
    std::span<const uint8_t> records; // rr_count RRs in wire format, ready to append after the question
    uint16_t rr_count = 0;
    // ECS SCOPE PREFIX-LENGTH: how many leading address bits the decision depended on (0 when the policy does not
    // look at the client's location at all).
    uint8_t scope_prefix = 0;
    // In a DNSSEC-signed zone (set_signer): the RRSIG records covering exactly `records`, in the same form (owner
    // pointer first); empty otherwise.
    std::span<const uint8_t> sigs;
    uint16_t sig_count = 0;
    // NOERROR with no answer records (e.g. geolocation without a default and no matching rule, as Route53 does).
    bool nodata = false;
    // Every candidate was unhealthy, so all were treated as healthy (Route53 fails open). Already counted.
    bool failed_open = false;
};

// What one Steering::answer() decided, for explaining it (meridian-dns explain, the admin /_meridian/explain).
// The DNS workers pass no trace, so their path stays what it was; a traced answer draws its weighted and rotation
// choices from `seed` instead of a worker's PRNG and is not counted in the metrics. Plain data: no allocation.
struct AnswerTrace {
    uint64_t seed = 0x9E3779B97F4A7C15ull; // in: PRNG state for the weighted / rotation choices
    bool traced = false;                   // out: answer() recorded its decision below
    int32_t steer = -1;                    // which steer (per name and type)
    uint8_t family = 0;                    // AF_INET / AF_INET6 as looked up (IPv4-mapped IPv6 reads as AF_INET)
    uint8_t used_bits = 0;                 // address bits the lookup could use (source prefix, capped /24, /56)
    bool capped = false;                   // the source prefix was longer than the privacy cap
    uint8_t masked[16] = {};               // the address with the bits past used_bits cleared
    uint32_t answer_class = 0;             // the class the radix tree mapped the address to
    uint8_t depth = 0;                     // bits the tree walked to decide
    uint8_t scope = 0;                     // the ECS scope answer() returned
    uint16_t option = 0, options = 0;      // the weighted option drawn, of how many
    uint16_t start = 0;                    // the rotation start within that option
    bool nodata = false;
    bool failed_open = false;
};

struct SteeringConfig; // parsed [geo], [[edge]], [[pool]], [[steer]] (dns/geo/steering_config.h)
struct SteeringState;  // built trees and rendered answers (internal)

// A steered owner name. Obtained from Steering::find(); stable for the Steering's lifetime.
class SteeredName {
  public:
    // True when this name is steered for qtype (1 = A, 28 = AAAA).
    bool steers(uint16_t qtype) const noexcept { return (qtype == 1 && a_ >= 0) || (qtype == 28 && aaaa_ >= 0); }
    // Lowercase wire-format owner name, e.g. "\3www\7example\4test\0".
    std::span<const uint8_t> wire_name() const noexcept { return {wire_.data(), wire_.size()}; }
    // Presentation form with trailing dot, for logs.
    const std::string& name() const noexcept { return text_; }

  private:
    friend class Steering;
    std::vector<uint8_t> wire_;
    std::string text_;
    int32_t a_ = -1;    // index of the A steer, -1 = none
    int32_t aaaa_ = -1; // index of the AAAA steer
};

// Signs one steered answer for DNSSEC: `records` is the RRset of `owner` (lower-case wire) and `qtype` as
// [u16 length][rdata] records; appends RRSIG RDATAs in the same form to *out. False when the name is not in a signed
// zone (its answers then carry no RRSIG). Runs on the thread that renders (build, set_health).
using AnswerSigner = std::function<bool(std::span<const uint8_t> owner, uint16_t qtype, uint32_t ttl,
                                        const std::string& records, std::string* out)>;

// Health of every edge that has a check, by edge index (Steering::edge_names()). 1 = healthy.
using HealthVector = std::vector<uint8_t>;

class Steering {
  public:
    // Builds the trees (walking the location database once) and renders the answers with every edge assumed
    // healthy. Problems (unknown member, bad location file...) go to `diags` naming the config key or file:line;
    // returns nullptr when there was any error. `workers` = number of DNS workers that will call answer().
    static std::unique_ptr<Steering> build(const SteeringConfig& config, unsigned workers,
                                           shared::ConfigDiagnostics& diags);
    ~Steering();
    Steering(const Steering&) = delete;
    Steering& operator=(const Steering&) = delete;

    // Exact match on a lowercase wire-format name; nullptr if the name is not steered. No allocation, no lock.
    const SteeredName* find(std::span<const uint8_t> lowercase_wire_name) const noexcept;

    // Decides the answer for one query. Thread-safe for concurrent workers, each with its own `worker` index
    // (0 ≤ worker < workers given to build(); it selects the per-worker PRNG used by weighted/multivalue policies
    // and the per-worker counters). No allocation, no lock; O(address bits) for location-based policies.
    // If !name.steers(qtype) returns {nodata = true}.
    // The returned span stays valid at least 60 s after a later set_health() replaced it (retired renderings are
    // freed lazily by set_health() once that old), and until the Steering is destroyed.
    // `trace`: see AnswerTrace (null on the query path).
    Answer answer(const SteeredName& name, uint16_t qtype, const ClientLocation& where, unsigned worker,
                  AnswerTrace* trace = nullptr) const noexcept;

    // Why answer() decided what `trace` recorded, from the same trees, plans and policy evaluation that render the
    // answers, under the current health (dns/geo/steering_explanation.h). Control plane: the thread that calls
    // set_health() (the DNS main loop), or before workers start.
    SteeringExplanation explain(const AnswerTrace& trace) const;

    // --- control plane (DNS main loop only) ---

    // Every steered name (the engine's config check uses these to reject static data of a steered type).
    const std::vector<SteeredName>& names() const noexcept { return names_; }
    // Edge names by index, as used by HealthVector.
    const std::vector<std::string>& edge_names() const noexcept;
    // New health state (one entry per edge; edges without a health check are always healthy). Re-renders the
    // answers and publishes them atomically. `now_ms` is the main loop's clock (for retiring old renderings).
    // Logs, per steered name, type and client location, each change: candidates skipped as unhealthy and what is
    // answered instead, failing open when none is healthy, back to normal. Const because health is runtime state beside
    // the immutable steering (so holders of a const Steering& can feed it); call it from one thread only.
    void set_health(const HealthVector& health, uint64_t now_ms) const;
    // DNSSEC: every rendering from now on signs each answer variant as it is rendered, so a steered answer costs
    // no signing on the query path (re-renders now). Control plane, before workers use the Steering or on the
    // main loop like set_health().
    void set_signer(AnswerSigner signer, uint64_t now_ms) const;
    // Reload: what the previous Steering last logged, so the first set_health() of this one logs only what changed
    // (not again every location still failing open). Control plane, before the first set_health().
    void carry_log_state(const Steering& previous) const;
    // The config the Steering was built from (the health checker reads the edges' check settings from it).
    const SteeringConfig& config() const noexcept;

    // Counters, summed over workers (metrics).
    uint64_t answers_total() const noexcept;
    uint64_t failed_open_total() const noexcept;
    // Answers that named each edge, by edge index (edge_names()); a multivalue answer counts every edge it names.
    std::vector<uint64_t> answers_by_edge() const;
    // Number of steers currently failing open for at least one client location.
    unsigned failing_open_now() const noexcept;

  private:
    Steering();
    std::vector<SteeredName> names_;
    std::vector<uint32_t> name_hash_; // open-addressing table over names_ (index+1, 0 = empty)
    std::unique_ptr<SteeringState> state_;
};

// Reads the steering keys of a meridian-dns config: [geo] (location databases), [[edge]], [[pool]], [[steer]]
// (see conf/README.md, "meridian-dns steering"). Marks the keys it reads as used; errors go to root's
// diagnostics with file:line and key. Returns an empty config (no steers) when none of these keys is present.
// Call it from dns/config before root.finish().
std::shared_ptr<const SteeringConfig> parse_steering_config(shared::ConfigSection& root);

// True when `wire_name` (lowercase wire format) is inside `zone_apex` (lowercase wire format) or equal to it.
bool name_in_zone(std::span<const uint8_t> wire_name, std::span<const uint8_t> zone_apex) noexcept;

} // namespace dns::geo
