#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

#include "edge/cache/cache_key.h"
#include "edge/cache/hit_for_miss.h"
#include "edge/cache/miss_coalescer.h"

using namespace edge;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

void remember(HitForMissTable& t, const std::string& k, uint64_t until = kNow + 60'000) {
    t.remember(k, hash_cache_key(k), until);
}
bool check(HitForMissTable& t, const std::string& k, uint64_t now = kNow) { return t.check(k, hash_cache_key(k), now); }

} // namespace

TEST_CASE("HitForMissTable: remembers keys until their expiry", "[edge][cache][hfm]") {
    HitForMissTable t(1 << 20);
    remember(t, "h/a", kNow + 1000);
    CHECK(check(t, "h/a"));
    CHECK_FALSE(check(t, "h/b"));
    CHECK(check(t, "h/a", kNow + 999));
    CHECK_FALSE(check(t, "h/a", kNow + 1000)); // expired: dropped
    CHECK(t.entries() == 0);
    CHECK(t.bytes() == 0);
    remember(t, "h/a", kNow + 1000);
    remember(t, "h/a", kNow + 5000); // a known key gets the new expiry, charged once
    CHECK(t.entries() == 1);
    CHECK(t.bytes() == HitForMissTable::charge(3));
    CHECK(check(t, "h/a", kNow + 4000));
    CHECK(t.forget("h/a", hash_cache_key("h/a")));
    CHECK_FALSE(check(t, "h/a"));
    CHECK(t.bytes() == 0);
}

TEST_CASE("HitForMissTable: stays within its byte budget, evicting the least recently used", "[edge][cache][hfm]") {
    const std::string pad(100, 'p');
    const uint64_t per = HitForMissTable::charge(pad.size() + 8);
    HitForMissTable t(per * 10);
    std::vector<std::string> keys;
    for (int i = 0; i < 10; ++i) keys.push_back(pad + "/key" + std::to_string(1000 + i));
    for (const auto& k : keys) remember(t, k);
    CHECK(t.entries() == 10);
    CHECK(t.bytes() == per * 10);
    CHECK(t.evictions() == 0);
    // Touch the oldest: it survives, the second oldest goes.
    CHECK(check(t, keys[0]));
    remember(t, pad + "/key2000");
    CHECK(t.entries() == 10);
    CHECK(t.evictions() == 1);
    CHECK(check(t, keys[0]));
    CHECK_FALSE(check(t, keys[1]));
    // A flood of unique keys never grows it past the budget.
    for (int i = 0; i < 100'000; ++i) {
        char tail[16];
        std::snprintf(tail, sizeof tail, "/f%06d", i); // the same length as the others: same charge
        remember(t, pad + tail);
        REQUIRE(t.bytes() <= t.budget());
    }
    CHECK(t.entries() == 10);
    CHECK(t.evictions() == 1 + 100'000);
    // A smaller budget evicts at once; a key larger than the budget is not remembered.
    t.set_budget(per * 3);
    CHECK(t.entries() == 3);
    CHECK(t.bytes() <= per * 3);
    remember(t, std::string(per * 3, 'x'));
    CHECK_FALSE(check(t, std::string(per * 3, 'x')));
    HitForMissTable off(0);
    remember(off, "h/a");
    CHECK(off.entries() == 0);
}

TEST_CASE("HitForMissTable: the charge covers what the entries really take from the heap", "[edge][cache][hfm]") {
    // The budget only bounds memory if the per-entry charge is honest. Measured with glibc's allocator statistics
    // (sanitizer builds replace malloc and report nothing: then this check has nothing to measure).
    {
        // Probe: does glibc's accounting see our allocations? (Not under a sanitizer's allocator.)
        struct mallinfo2 p0 = mallinfo2();
        std::vector<std::string> probe;
        for (int i = 0; i < 64; ++i) probe.emplace_back(16 << 10, 'p');
        struct mallinfo2 p1 = mallinfo2();
        if (p1.uordblks < p0.uordblks + (1 << 20)) {
            WARN("malloc statistics do not see this process's allocations (sanitizer allocator); charge not measured");
            return;
        }
    }
    auto* t = new HitForMissTable(1ull << 30);
    struct mallinfo2 before = mallinfo2();
    for (int len : {20, 80, 300}) {
        for (int i = 0; i < 20'000; ++i) {
            std::string k = std::to_string(len) + "/" + std::to_string(i);
            k.resize(static_cast<size_t>(len), 'k');
            remember(*t, k);
        }
    }
    struct mallinfo2 after = mallinfo2();
    const double used = static_cast<double>(after.uordblks - before.uordblks);
    const double charged = static_cast<double>(t->bytes());
    INFO("heap used " << used << " bytes, charged " << charged);
    CHECK(used <= charged * 1.05);
    CHECK(used >= charged * 0.6); // not wildly over-charged either
    delete t;
}

TEST_CASE("MissCoalescer: unique uncacheable keys stay within hit_for_miss_max_bytes", "[edge][cache][hfm][fill]") {
    ObjectCache cache(64 << 20, 4);
    const uint64_t budget = 64 << 10;
    MissCoalescer co(&cache, 4, 1 << 20, 120'000, budget, 1 << 20);
    const std::string pad(200, 'u');
    for (int i = 0; i < 20'000; ++i) {
        std::string k = "h/nostore/" + pad + std::to_string(i);
        auto b = co.begin(k, kNow);
        REQUIRE(b.role == MissCoalescer::Role::lead);
        b.leader->release_uncacheable(kNow);
    }
    CoalescerStats st = co.stats();
    CHECK(st.hfm_bytes <= budget);
    CHECK(st.hfm_entries > 0);
    CHECK(st.hfm_entries <= budget / HitForMissTable::charge(pad.size()));
    CHECK(st.hfm_evictions == 20'000 - st.hfm_entries);
    // The most recent key is still remembered: its next miss passes.
    auto b = co.begin("h/nostore/" + pad + "19999", kNow + 1);
    CHECK(b.role == MissCoalescer::Role::pass);
    // A reload with a smaller budget evicts down to it.
    co.set_limits(1 << 20, 120'000, budget / 4, 1 << 20);
    CHECK(co.stats().hfm_bytes <= budget / 4);
}

TEST_CASE("MissCoalescer: past collapse_max_bytes a miss leads a fill nobody joins, still stored",
          "[edge][cache][fill]") {
    ObjectCache cache(64 << 20, 1);
    const uint64_t one = MissCoalescer::fill_charge(std::string("h/k0").size());
    MissCoalescer co(&cache, 1, 1 << 20, 120'000, 1 << 20, one * 2);
    auto a = co.begin("h/k0", kNow);
    auto b = co.begin("h/k1", kNow);
    REQUIRE(a.role == MissCoalescer::Role::lead);
    REQUIRE(b.role == MissCoalescer::Role::lead);
    CHECK(co.stats().in_flight == 2);
    CHECK(co.stats().fill_bytes == one * 2);
    auto c = co.begin("h/k2", kNow); // the table is full
    REQUIRE(c.role == MissCoalescer::Role::lead);
    CHECK(co.stats().uncollapsed == 1);
    CHECK(co.stats().in_flight == 2);
    auto c2 = co.begin("h/k2", kNow); // not collapsed onto c (it is not in the table), and the table is still full
    CHECK(c2.role == MissCoalescer::Role::lead);
    CHECK(co.begin("h/k0", kNow).role == MissCoalescer::Role::join); // collapsing still works for the ones inside
    // c still fills the cache.
    auto obj = CachedObject::create("h/k2", 200, "HTTP/1.1 200 OK\r\n", {}, [] {
        Freshness f;
        f.store = true;
        f.lifetime_ms = 60'000;
        f.age_origin_ms = kNow;
        f.expires_at_ms = kNow + 60'000;
        return f;
    }(), 2);
    c.leader->start_body(obj);
    c.leader->append("ok", 2);
    CHECK(c.leader->finish(kNow));
    c2.leader->fail();
    Ref<CachedObject> got;
    CHECK(cache.find("h/k2", kNow, &got) == ObjectCache::Lookup::fresh);
    a.leader->fail();
    b.leader->fail();
    CHECK(co.stats().in_flight == 0);
    CHECK(co.stats().fill_bytes == 0);
}
