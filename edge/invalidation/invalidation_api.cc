#include "edge/invalidation/invalidation_api.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "edge/http/http_date.h"
#include "edge/invalidation/invalidation_request.h"
#include "shared/http/bearer_token.h"
#include "shared/json/json_value.h"
#include "shared/log/log.h"

namespace edge {
namespace {

constexpr std::string_view kPath = "/_meridian/invalidate";

void json_answer(shared::AdminResponse& out, int status, std::string body) {
    out.status = status;
    out.content_type = "application/json";
    out.body = std::move(body);
    out.body.push_back('\n');
}

void json_error(shared::AdminResponse& out, int status, std::string_view message) {
    json_answer(out, status, "{\"error\": " + shared::json_quote(message) + "}");
}

// The cache scan of an invalidation, shared out by shard. A thread of its own at the lowest CPU priority (nice 19)
// starts it: the workers serve hits on the same cores, and at nice 19 the scan runs in the time they leave idle while
// a worker that wakes takes its core back at once, instead of waiting behind the scan (at normal priority, on a
// 2-core machine, the scan raised the hits' p99 several times). Cores the workers keep busy would starve it, so
// after kLowPriorityBudget the calling thread, at normal priority, takes the shards not yet started, pausing between
// slices. Returns the objects matched.
constexpr auto kLowPriorityBudget = std::chrono::milliseconds(400);

uint64_t scan_shards(ObjectCache& cache, const std::function<bool(const CachedObject&)>& match, bool soft,
                     uint64_t now) {
    std::atomic<uint32_t> next{0};
    std::atomic<uint64_t> hits{0};
    // 100 µs after every 256 slots (four slices): a worker on the same core waits a few slices at most.
    std::function<void()> pause = [n = 0u]() mutable {
        if (++n % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    };
    auto work = [&](std::function<void()> between) { // a copy each: the pause counts its own slices
        for (uint32_t s; (s = next.fetch_add(1)) < cache.shard_count();)
            hits.fetch_add(cache.invalidate_shard(s, match, soft, now, between));
    };
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread low([&] {
        // Linux: PRIO_PROCESS with a thread id sets that thread's nice value alone.
        bool lowered = ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19) == 0;
        work(lowered ? std::function<void()>() : pause);
        std::lock_guard lock(mu);
        done = true;
        cv.notify_one();
    });
    {
        std::unique_lock lock(mu);
        if (!cv.wait_for(lock, kLowPriorityBudget, [&] { return done; })) {
            lock.unlock();
            work(pause);
        }
    }
    low.join();
    return hits.load();
}

} // namespace

InvalidationApi::InvalidationApi(ObjectCache* cache, std::function<std::string()> token,
                                 std::function<uint64_t()> now_ms)
    : cache_(cache), token_(std::move(token)), now_ms_(std::move(now_ms)) {}

void InvalidationApi::register_metrics(shared::MetricsRegistry& m) {
    m.counter_fn("meridian_edge_invalidations_total", "Invalidations applied through the admin API", "",
                 [this] { return static_cast<double>(invalidations_.load(std::memory_order_relaxed)); });
    m.counter_fn("meridian_edge_invalidated_objects_total", "Stored objects removed or made stale by invalidations", "",
                 [this] { return static_cast<double>(objects_.load(std::memory_order_relaxed)); });
}

bool InvalidationApi::authorized(const shared::AdminRequest& req, shared::AdminResponse& out) const {
    std::string token = token_();
    if (token.empty()) {
        json_error(out, 403, "the invalidation API is off: set [invalidation] token_file in the edge config");
        return false;
    }
    switch (shared::check_bearer(req.authorization, token)) {
    case shared::BearerCheck::ok:
        break;
    case shared::BearerCheck::missing:
        json_error(out, 401, "Authorization: Bearer <token> is required");
        out.extra_headers = "WWW-Authenticate: Bearer realm=\"meridian-edge\"\r\n";
        return false;
    case shared::BearerCheck::wrong:
        json_error(out, 403, "wrong token");
        return false;
    }
    return true;
}

bool InvalidationApi::handle(const shared::AdminRequest& req, shared::AdminResponse& out) {
    if (req.path != kPath && req.path.substr(0, kPath.size() + 1) != std::string(kPath) + "/") return false;
    if (!authorized(req, out)) return true;
    if (req.path == kPath) {
        if (req.method != "POST") {
            json_error(out, 405, "POST a JSON invalidation here; GET " + std::string(kPath) + "/<id> for a report");
            out.extra_headers = "Allow: POST\r\n";
            return true;
        }
        create(req, out);
        return true;
    }
    if (req.method != "GET" && req.method != "HEAD") {
        json_error(out, 405, "GET only");
        out.extra_headers = "Allow: GET, HEAD\r\n";
        return true;
    }
    std::string_view id = req.path.substr(kPath.size() + 1);
    for (const Record& r : history_) {
        if (r.id == id) {
            json_answer(out, 200, r.json);
            return true;
        }
    }
    json_error(out, 404, "no invalidation with this id (the last " + std::to_string(kHistory) + " are kept)");
    return true;
}

void InvalidationApi::create(const shared::AdminRequest& req, shared::AdminResponse& out) {
    if (!cache_) {
        json_error(out, 503, "the cache is not running yet");
        return;
    }
    InvalidationRequest inv;
    std::string err;
    if (!parse_invalidation_request(req.body, &inv, &err)) {
        json_error(out, 400, err);
        return;
    }
    if (inv.has_site && site_exists_ && !site_exists_(inv.site)) {
        json_error(out, 400, "no site named " + shared::json_quote(inv.site) + " in the running configuration");
        return;
    }
    uint64_t now = now_ms_();
    auto t0 = std::chrono::steady_clock::now();
    uint64_t hits = scan_shards(
        *cache_, [&inv](const CachedObject& o) { return invalidation_covers(inv, o); }, inv.soft, now);
    auto took_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    invalidations_.fetch_add(1, std::memory_order_relaxed);
    objects_.fetch_add(hits, std::memory_order_relaxed);
    Record r;
    r.id = "I" + std::to_string(next_id_++);
    r.json = "{\"id\": " + shared::json_quote(r.id) + ", \"status\": \"Completed\", \"created\": " +
             shared::json_quote(format_http_date(static_cast<int64_t>(now / 1000))) +
             ", \"site\": " + (inv.has_site ? shared::json_quote(inv.site) : std::string("null")) +
             ", \"host\": " + (inv.host.empty() ? std::string("null") : shared::json_quote(inv.host)) +
             ", \"paths\": " + shared::json_string_array(inv.paths) +
             ", \"tags\": " + shared::json_string_array(inv.tags) + ", \"mode\": \"" + (inv.soft ? "soft" : "hard") +
             "\", \"objects\": " + std::to_string(hits) + ", \"took_ms\": " + std::to_string(took_us / 1000) + "}";
    shared::log::info("edge", "invalidation",
                      {{"id", r.id},
                       {"paths", std::to_string(inv.paths.size())},
                       {"tags", std::to_string(inv.tags.size())},
                       {"mode", inv.soft ? "soft" : "hard"},
                       {"objects", std::to_string(hits)}});
    json_answer(out, 201, r.json);
    out.extra_headers = "Location: " + std::string(kPath) + "/" + r.id + "\r\n";
    history_.push_back(std::move(r));
    if (history_.size() > kHistory) history_.pop_front();
}

} // namespace edge
