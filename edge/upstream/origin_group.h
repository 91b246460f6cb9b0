// One request's fetch over an origin group: the behavior's origin (or, for a tier, its parent edges in rendezvous
// order for the cache key) and then its failover_origin (CloudFront's origin groups; Traffic Server's parent
// selection). The fetch starts on the first candidate that is not marked down (OriginHealth) and moves on, for
// GET and HEAD only, while nothing has reached the proxy yet:
//   - on a connection failure or timeout before the response head (refused, reset, resolve / TLS failure, connect
//     or first-byte timeout, garbage): to the next candidate, a tier's next parent included;
//   - on a response status in the behavior's failover_status set: from the primary (or from any parent of a tier)
//     straight to the failover origin. Parents are not tried in turn for a status: a parent's 5xx speaks for the
//     origin behind it, which every parent shares.
// The proxy sees one response: the one accepted. A 1xx passed on to the viewer commits the fetch to its origin.
// Each move is reported to the FailoverHook (counted and logged by the proxy); the failing candidate is marked down
// for its cool-down, except a parent that answered a status (its origin failed, not the parent).
//
// Thread: the worker loop that started the fetch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "edge/config/edge_config.h"
#include "edge/upstream/origin_stream.h"

namespace edge {

// Why a request left a candidate.
enum class FailoverReason : uint8_t {
    none,
    status,  // a status in failover_status
    connect, // refused, reset, unresolvable, TLS failure, garbage before the head
    timeout, // connect or first-byte timeout
    down,    // skipped without asking: marked down and in its cool-down
};
// "status", "connect", "timeout", "down" (metric label values), "none".
const char* failover_reason_name(FailoverReason r) noexcept;

// The reason an error before the response head moves the request on, or none (the error is the answer).
FailoverReason failover_reason_for(OriginError e) noexcept;
// Whether `status` is in the behavior's failover set.
bool is_failover_status(const BehaviorConfig& b, int status) noexcept;

struct OriginCandidate {
    const OriginConfig* origin = nullptr;
    bool parent = false;    // one parent edge of a tier
    bool secondary = false; // the behavior's failover_origin
};

// The candidates for one request, in the order they are tried: `primary` itself, or its parents ranked for
// `cache_key` (rendezvous_hash.h); then `secondary` (may be null).
std::vector<OriginCandidate> origin_candidates(const OriginConfig& primary, const OriginConfig* secondary,
                                               std::string_view cache_key);

struct FailoverEvent {
    const OriginConfig* from = nullptr;
    const OriginConfig* to = nullptr; // null: nothing left to try (the failure is the answer)
    FailoverReason reason = FailoverReason::none;
    int status = 0; // for FailoverReason::status
    OriginError error = OriginError::None;
    bool marked_down = false; // `from` was up and is down now
    bool came_back = false;   // (reason none) `to` answered after being down
};
using FailoverHook = std::function<void(const FailoverEvent&)>;
// Builds the request for one candidate (its Host, signature...).
using OriginRequestBuilder = std::function<OriginRequest(const OriginConfig&)>;

struct OriginGroupOptions {
    bool may_fail_over = true;                // GET/HEAD; otherwise only a down parent is skipped
    const BehaviorConfig* behavior = nullptr; // its failover_status; null: no status fails over
    uint64_t (*clock_ms)() = nullptr;         // for OriginHealth; null: health is ignored
    FailoverHook on_failover;
};

// Starts the fetch on the first usable candidate. Callbacks as OriginClient::fetch (none from inside this call).
std::unique_ptr<OriginStream> fetch_from_group(OriginClient& client, std::vector<OriginCandidate> candidates,
                                               OriginRequestBuilder build, OriginCallbacks cb, OriginGroupOptions opt);

} // namespace edge
