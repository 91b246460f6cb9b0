#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "edge/cache/miss_coalescer.h"

using namespace edge;
using Role = MissCoalescer::Role;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

Freshness fresh_for(uint64_t ms, uint64_t at = kNow) {
    Freshness f;
    f.store = true;
    f.lifetime_ms = ms;
    f.age_origin_ms = at;
    f.expires_at_ms = at + ms;
    return f;
}

Ref<CachedObject> new_object(std::string_view key, uint64_t expected = 0) {
    return CachedObject::create(key, 200, "HTTP/1.1 200 OK\r\n", {}, fresh_for(60'000), expected);
}

// Waits like a server connection would, but with a condition variable instead of uv_async_send.
class Waiter : public FillSubscriber {
  public:
    void on_fill_progress() noexcept override {
        std::lock_guard lock(mu_);
        ++version_;
        cv_.notify_all();
    }
    uint64_t version() {
        std::lock_guard lock(mu_);
        return version_;
    }
    bool wait_past(uint64_t seen, std::chrono::milliseconds limit) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, limit, [&] { return version_ != seen; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    uint64_t version_ = 0;
};

struct Env {
    ObjectCache cache{64 << 20, 4};
    MissCoalescer co{&cache, 4, 1 << 20, 120'000};
};

} // namespace

TEST_CASE("Fill: first miss leads, later misses join, the finished fill is a hit", "[edge][cache][fill]") {
    Env e;
    auto lead = e.co.begin("h/a", kNow);
    REQUIRE(lead.role == Role::lead);
    REQUIRE(lead.leader);
    CHECK_FALSE(lead.fill->stale());
    auto join = e.co.begin("h/a", kNow);
    REQUIRE(join.role == Role::join);
    CHECK(join.fill == lead.fill);
    CHECK(join.fill->state() == FillState::waiting);
    CHECK(e.co.stats().in_flight == 1);

    auto obj = new_object("h/a", 10);
    lead.leader->start_body(obj);
    CHECK(join.fill->state() == FillState::streaming);
    CHECK(join.fill->object() == obj);
    REQUIRE(lead.leader->append("01234", 5));
    CHECK(join.fill->object()->body().copy() == "01234");
    REQUIRE(lead.leader->append("56789", 5));
    CHECK(lead.leader->finish(kNow));
    CHECK(join.fill->state() == FillState::complete);
    CHECK(obj->complete());
    CHECK(e.co.stats().in_flight == 0);

    auto after = e.co.begin("h/a", kNow + 1);
    REQUIRE(after.role == Role::hit);
    CHECK(after.object == obj); // the fill's buffer became the cached object, no copy
    Ref<CachedObject> got;
    CHECK(e.cache.find("h/a", kNow, &got) == ObjectCache::Lookup::fresh);
    CHECK(got->body().copy() == "0123456789");
    CoalescerStats st = e.co.stats();
    CHECK(st.fills == 1);
    CHECK(st.joins == 1);
}

TEST_CASE("Fill: an uncacheable answer releases waiters and is remembered as hit-for-miss", "[edge][cache][fill]") {
    Env e;
    auto lead = e.co.begin("h/u", kNow);
    auto join = e.co.begin("h/u", kNow);
    Waiter w;
    REQUIRE(join.fill->subscribe(&w));
    uint64_t v = w.version();
    lead.leader->release_uncacheable(kNow);
    CHECK(w.version() != v);
    CHECK(join.fill->state() == FillState::uncacheable);
    CHECK_FALSE(join.fill->object());
    CHECK_FALSE(join.fill->subscribe(&w)); // already resolved
    join.fill->unsubscribe(&w);

    CHECK(e.co.begin("h/u", kNow + 1000).role == Role::pass);
    CHECK(e.co.begin("h/u", kNow + 119'999).role == Role::pass);
    CHECK(e.co.stats().hit_for_miss == 2);
    auto again = e.co.begin("h/u", kNow + 120'000);
    CHECK(again.role == Role::lead);
    again.leader->fail();
    e.co.forget("h/u");
}

TEST_CASE("Fill: a failed fill is never stored and the next request leads again", "[edge][cache][fill]") {
    Env e;
    auto lead = e.co.begin("h/f", kNow);
    auto join = e.co.begin("h/f", kNow);
    auto obj = new_object("h/f");
    lead.leader->start_body(obj);
    lead.leader->append("partial", 7);
    lead.leader->fail();
    CHECK(join.fill->state() == FillState::failed);
    CHECK_FALSE(lead.leader->finish(kNow)); // too late: nothing happens
    Ref<CachedObject> got;
    CHECK(e.cache.find("h/f", kNow, &got) == ObjectCache::Lookup::miss);
    CHECK(e.co.begin("h/f", kNow).role == Role::lead);
}

TEST_CASE("Fill: a leader that goes away unresolved fails the fill", "[edge][cache][fill]") {
    Env e;
    Ref<Fill> fill;
    {
        auto lead = e.co.begin("h/gone", kNow);
        fill = lead.fill;
        auto join = e.co.begin("h/gone", kNow);
        CHECK(join.role == Role::join);
    } // lead.leader destroyed here
    CHECK(fill->state() == FillState::failed);
    CHECK(e.co.stats().in_flight == 0);
    auto next = e.co.begin("h/gone", kNow);
    CHECK(next.role == Role::lead);
}

TEST_CASE("Fill: revalidation of a stale object with a 304 refreshes it for every waiter", "[edge][cache][fill]") {
    Env e;
    std::string block = "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\n";
    ValidatorSpans v;
    v.etag_off = static_cast<uint32_t>(block.find('"'));
    v.etag_len = 4;
    auto stale = CachedObject::create_complete("h/r", 200, block, v, fresh_for(1000), "body");
    REQUIRE(e.cache.insert(stale));
    auto lead = e.co.begin("h/r", kNow + 5000);
    REQUIRE(lead.role == Role::lead);
    REQUIRE(lead.fill->stale() == stale);
    CHECK(lead.fill->stale()->etag() == "\"v1\"");
    auto join = e.co.begin("h/r", kNow + 5000);
    REQUIRE(join.role == Role::join);
    lead.leader->revalidated(fresh_for(60'000, kNow + 5000));
    CHECK(join.fill->state() == FillState::complete);
    CHECK(join.fill->object() == stale);
    auto hit = e.co.begin("h/r", kNow + 6000);
    REQUIRE(hit.role == Role::hit);
    CHECK(hit.object == stale);
    CHECK(hit.object->age_seconds(kNow + 6000) == 1);
}

TEST_CASE("Fill: a body outgrowing max_object_bytes fails the fill for waiters", "[edge][cache][fill]") {
    ObjectCache cache(64 << 20, 1);
    MissCoalescer co(&cache, 1, 8, 1000);
    auto lead = co.begin("h/big", kNow);
    lead.leader->start_body(new_object("h/big"));
    CHECK(lead.leader->append("12345678", 8));
    CHECK_FALSE(lead.leader->append("9", 1));
    CHECK(lead.fill->state() == FillState::failed);
    CHECK(lead.fill->object()->body().copy() == "12345678"); // what the leader still has to send
    Ref<CachedObject> got;
    CHECK(cache.find("h/big", kNow, &got) == ObjectCache::Lookup::miss);
    // The key is remembered like an uncacheable answer: the next misses pass through, uncollapsed, until the
    // hit-for-miss TTL (1000 ms here) runs out.
    CHECK(co.begin("h/big", kNow + 10).role == Role::pass);
    CHECK(co.begin("h/big", kNow + 999).role == Role::pass);
    CHECK(co.begin("h/big", kNow + 1001).role == Role::lead);
}

TEST_CASE("Fill: concurrent misses from many threads make one fill and all stream it", "[edge][cache][fill][threads]") {
    Env e;
    constexpr int kWaiters = 8;
    constexpr int kPieces = 200;
    const std::string piece(1000, 'p');
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<Role> roles(kWaiters + 1);
    std::vector<std::string> bodies(kWaiters + 1);
    std::vector<int> final_states(kWaiters + 1, -1);
    std::atomic<bool> leader_done{false};
    std::vector<char> finished_after_leader(kWaiters + 1, 0); // not vector<bool>: bits would share bytes across threads

    auto worker = [&](int id) {
        ++ready;
        while (!go.load())
            std::this_thread::yield();
        auto b = e.co.begin("h/hot", kNow);
        roles[id] = b.role;
        if (b.role == Role::lead) {
            auto obj = new_object("h/hot", piece.size() * kPieces);
            b.leader->start_body(obj);
            for (int i = 0; i < kPieces; ++i) {
                b.leader->append(piece.data(), piece.size());
                if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            b.leader->finish(kNow);
            leader_done = true;
            bodies[id] = obj->body().copy();
            final_states[id] = static_cast<int>(FillState::complete);
            return;
        }
        if (b.role != Role::join) return;
        Waiter w;
        if (!b.fill->subscribe(&w)) {
            // Already resolved.
        }
        uint64_t off = 0;
        std::string got;
        const bool slow = id == 1; // one slow client: must not hold up the leader or the others
        while (true) {
            uint64_t seen = w.version();
            FillState s = b.fill->state();
            if (s == FillState::failed || s == FillState::uncacheable) {
                final_states[id] = static_cast<int>(s);
                break;
            }
            if (auto obj = b.fill->object()) {
                BodySlice sl[4];
                size_t n = obj->body().slices(off, UINT64_MAX, sl, 4);
                for (size_t i = 0; i < n; ++i) {
                    got.append(sl[i].data, sl[i].len);
                    off += sl[i].len;
                }
                if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(2));
                if (obj->complete() && off == obj->body().size()) {
                    final_states[id] = static_cast<int>(FillState::complete);
                    break;
                }
                if (n > 0) continue;
            }
            if (!w.wait_past(seen, std::chrono::seconds(10))) break; // bounded: a bug shows as a failure, not a hang
        }
        b.fill->unsubscribe(&w);
        bodies[id] = got;
        finished_after_leader[id] = leader_done.load();
    };

    std::vector<std::thread> ts;
    for (int i = 0; i <= kWaiters; ++i)
        ts.emplace_back(worker, i);
    while (ready.load() != kWaiters + 1)
        std::this_thread::yield();
    go = true;
    for (auto& t : ts)
        t.join();

    int leads = 0, joins = 0, hits = 0;
    for (Role r : roles) {
        leads += r == Role::lead;
        joins += r == Role::join;
        hits += r == Role::hit;
    }
    CHECK(leads == 1);
    CHECK(leads + joins + hits == kWaiters + 1);
    std::string expected;
    for (int i = 0; i < kPieces; ++i)
        expected += piece;
    for (int i = 0; i <= kWaiters; ++i) {
        INFO("thread " << i << " role " << static_cast<int>(roles[i]));
        if (roles[i] == Role::hit) continue;
        CHECK(final_states[i] == static_cast<int>(FillState::complete));
        CHECK(bodies[i].size() == expected.size());
        CHECK(bodies[i] == expected);
    }
    if (roles[1] == Role::join) CHECK(finished_after_leader[1]); // the slow reader did not hold the fill back
    CHECK(e.co.stats().fills == 1);
    CHECK(e.cache.stats().objects == 1);
}

TEST_CASE("Fill: a completion and a failure racing on two threads resolve the fill exactly once",
          "[edge][cache][fill][threads]") {
    // The bucket origin finishes a fill on a threadpool thread while the leader's loop may fail it (its viewer went
    // away): exactly one of them may win, the state never flips, and the cache holds the object iff it completed.
    class FinalCounter : public FillSubscriber {
      public:
        void on_fill_progress() noexcept override { calls.fetch_add(1); }
        std::atomic<int> calls{0};
    };
    Env e;
    int completed = 0, failed = 0, flips = 0, notify_errors = 0, inconsistent = 0;
    for (int i = 0; i < 400; ++i) {
        std::string key = "h/race" + std::to_string(i);
        auto b = e.co.begin(key, kNow);
        REQUIRE(b.role == Role::lead);
        auto obj = new_object(key, 3);
        b.leader->start_body(obj);
        b.leader->append("abc", 3);
        FinalCounter sub;
        REQUIRE(b.fill->subscribe(&sub));
        Fill* f = b.leader.get();
        std::atomic<int> ready{0};
        bool stored = false;
        FillState seen_by_finisher = FillState::waiting;
        std::thread finisher([&] {
            ++ready;
            while (ready.load() < 2) {
            }
            stored = f->finish(kNow);
            seen_by_finisher = f->state();
        });
        std::thread failer([&] {
            ++ready;
            while (ready.load() < 2) {
            }
            f->fail();
        });
        finisher.join();
        failer.join();
        FillState end = f->state();
        if (end == FillState::complete) ++completed;
        if (end == FillState::failed) ++failed;
        // finish() stored the object: the fill is complete right then, and stays so.
        if (stored && (seen_by_finisher != FillState::complete || end != FillState::complete)) ++flips;
        if (sub.calls.load() != 1) ++notify_errors; // one final transition, one notification
        Ref<CachedObject> got;
        bool in_cache = e.cache.find(key, kNow, &got) == ObjectCache::Lookup::fresh;
        if (in_cache != (end == FillState::complete) || stored != in_cache) ++inconsistent;
        b.fill->unsubscribe(&sub);
    }
    CHECK(completed + failed == 400);
    CHECK(flips == 0);
    CHECK(notify_errors == 0);
    CHECK(inconsistent == 0);
}
