#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "edge/cache/cache_key.h"
#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"

using namespace edge;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

Freshness fresh_for(uint64_t ms) {
    Freshness f;
    f.store = true;
    f.lifetime_ms = ms;
    f.age_origin_ms = kNow;
    f.expires_at_ms = kNow + ms;
    return f;
}

Ref<CachedObject> make(std::string_view key, std::string_view body, uint64_t ttl_ms = 60'000, bool validators = false) {
    std::string block = "HTTP/1.1 200 OK\r\nETag: \"x\"\r\n";
    ValidatorSpans v;
    if (validators) {
        v.etag_off = static_cast<uint32_t>(block.find('"'));
        v.etag_len = 3;
    }
    return CachedObject::create_complete(key, 200, block, v, fresh_for(ttl_ms), body);
}

} // namespace

TEST_CASE("ObjectCache: miss, insert, fresh hit with a shared reference", "[edge][cache][lru]") {
    ObjectCache c(1 << 20, 1);
    Ref<CachedObject> got;
    CHECK(c.find("h/a", kNow, &got) == ObjectCache::Lookup::miss);
    auto a = make("h/a", "body-a");
    REQUIRE(c.insert(a));
    REQUIRE(c.find("h/a", kNow, &got) == ObjectCache::Lookup::fresh);
    CHECK(got.get() == a.get()); // no copy: the same object
    CHECK(got->body().copy() == "body-a");
    CHECK(got->ref_count() == 3); // a, got, the cache
    CHECK(c.stats().objects == 1);
    CHECK(c.stats().bytes == a->charge());
}

TEST_CASE("ObjectCache: LRU order follows use", "[edge][cache][lru]") {
    ObjectCache c(1 << 20, 1);
    for (const char* k : {"h/a", "h/b", "h/c"})
        REQUIRE(c.insert(make(k, "x")));
    CHECK(c.lru_keys(0) == std::vector<std::string>{"h/c", "h/b", "h/a"});
    Ref<CachedObject> got;
    REQUIRE(c.find("h/a", kNow, &got) == ObjectCache::Lookup::fresh);
    CHECK(c.lru_keys(0) == std::vector<std::string>{"h/a", "h/c", "h/b"});
    REQUIRE(c.find("h/b", kNow, &got) == ObjectCache::Lookup::fresh);
    CHECK(c.lru_keys(0) == std::vector<std::string>{"h/b", "h/a", "h/c"});
}

TEST_CASE("ObjectCache: byte budget evicts least recently used, never an object in use", "[edge][cache][lru]") {
    auto probe = make("h/k0", std::string(1000, 'x'));
    uint64_t each = probe->charge();
    ObjectCache c(each * 3 + each / 2, 1); // room for three
    std::vector<Ref<CachedObject>> objs;
    for (int i = 0; i < 3; ++i) {
        objs.push_back(make("h/k" + std::to_string(i), std::string(1000, static_cast<char>('a' + i))));
        REQUIRE(c.insert(objs.back()));
    }
    CHECK(c.stats().bytes == 3 * each);
    Ref<CachedObject> held;
    REQUIRE(c.find("h/k0", kNow, &held) == ObjectCache::Lookup::fresh); // k0 is now most recent; k1 is LRU
    objs.clear();
    REQUIRE(c.insert(make("h/k3", std::string(1000, 'd'))));
    CHECK(c.stats().evictions == 1);
    CHECK(c.stats().objects == 3);
    CHECK(c.stats().bytes == 3 * each);
    Ref<CachedObject> got;
    CHECK(c.find("h/k1", kNow, &got) == ObjectCache::Lookup::miss);
    CHECK(c.find("h/k2", kNow, &got) == ObjectCache::Lookup::fresh);

    // Evict the held object by filling the cache: the reference keeps it alive and intact.
    for (int i = 4; i < 8; ++i)
        REQUIRE(c.insert(make("h/k" + std::to_string(i), std::string(1000, 'z'))));
    CHECK(c.find("h/k0", kNow, &got) == ObjectCache::Lookup::miss);
    CHECK(held->ref_count() == 1);
    CHECK(held->body().copy() == std::string(1000, 'a'));
    CHECK(c.stats().bytes <= c.max_bytes());
}

TEST_CASE("ObjectCache: an expired copy kept for origin failures stays without validators", "[edge][cache][lru]") {
    // serve_stale_on_error / serve_stale_when_disconnected: the copy to serve if the origin fails (the survey's
    // stale-close case: max-age=2, no validators, the origin then drops the connection).
    ObjectCache c(1 << 20, 1);
    Freshness f = fresh_for(1000);
    f.keep_stale = true;
    REQUIRE(c.insert(CachedObject::create_complete("h/k", 200, "HTTP/1.1 200 OK\r\n", {}, f, "k")));
    Ref<CachedObject> got;
    CHECK(c.find("h/k", kNow + 5000, &got) == ObjectCache::Lookup::stale);
    REQUIRE(got);
    CHECK(got->keep_stale());
    CHECK_FALSE(got->must_revalidate());
    // The policy never keeps what must be revalidated.
    TtlPolicy p;
    p.keep_stale = true;
    ResponseFacts facts;
    facts.status = 200;
    facts.cache_control.max_age = 60;
    CHECK(compute_freshness(facts, p).keep_stale);
    facts.cache_control.must_revalidate = true;
    CHECK_FALSE(compute_freshness(facts, p).keep_stale);
}

TEST_CASE("ObjectCache: replacing a key keeps the old object valid for its holders", "[edge][cache][lru]") {
    ObjectCache c(1 << 20, 1);
    REQUIRE(c.insert(make("h/a", "old")));
    Ref<CachedObject> old;
    REQUIRE(c.find("h/a", kNow, &old) == ObjectCache::Lookup::fresh);
    REQUIRE(c.insert(make("h/a", "new!")));
    Ref<CachedObject> now;
    REQUIRE(c.find("h/a", kNow, &now) == ObjectCache::Lookup::fresh);
    CHECK(now->body().copy() == "new!");
    CHECK(old->body().copy() == "old");
    CHECK(c.stats().objects == 1);
    CHECK(c.stats().bytes == now->charge());
    CHECK(c.stats().evictions == 0);
    CHECK(c.erase("h/a", old.get()) == false); // not the stored one any more
    CHECK(c.erase("h/a"));
    CHECK(c.stats().bytes == 0);
}

TEST_CASE("ObjectCache: expired entries are stale with validators, gone without", "[edge][cache][lru]") {
    ObjectCache c(1 << 20, 1);
    REQUIRE(c.insert(make("h/v", "v", 1000, true)));
    REQUIRE(c.insert(make("h/n", "n", 1000, false)));
    Ref<CachedObject> got;
    CHECK(c.find("h/v", kNow + 999, &got) == ObjectCache::Lookup::fresh);
    CHECK(c.find("h/v", kNow + 1000, &got) == ObjectCache::Lookup::stale);
    CHECK(got->etag() == "\"x\"");
    CHECK(c.find("h/n", kNow + 1000, &got) == ObjectCache::Lookup::miss);
    CHECK(c.stats().objects == 1);
    // A refresh (304) makes the stale object fresh again in place.
    Freshness f = fresh_for(5000);
    f.age_origin_ms = kNow + 2000;
    f.expires_at_ms = kNow + 7000;
    f.date_s = static_cast<int64_t>((kNow + 1000) / 1000);
    REQUIRE(c.find("h/v", kNow + 2000, &got) == ObjectCache::Lookup::stale);
    int64_t date_before = got->date_s();
    got->refresh(f);
    CHECK(c.find("h/v", kNow + 2000, &got) == ObjectCache::Lookup::fresh);
    CHECK(got->age_seconds(kNow + 4500) == 2);
    // ... and takes the 304's Date (RFC 9111 §4.3.4).
    CHECK(got->date_s() == f.date_s);
    CHECK(got->date_s() != date_before);
}

TEST_CASE("ObjectCache: an object larger than a shard's budget is refused", "[edge][cache][lru]") {
    ObjectCache c(64 << 10, 4); // 16 KiB per shard
    CHECK(c.shard_budget() == 16 << 10);
    CHECK_FALSE(c.insert(make("h/big", std::string(20 << 10, 'b'))));
    CHECK(c.stats().rejected == 1);
    CHECK(c.stats().objects == 0);
}

TEST_CASE("ObjectCache: a body of exactly the shard's budget is stored (alone in its shard)", "[edge][cache][lru]") {
    // max_bytes / shards == max_object_bytes is a valid config: an object of exactly max_object_bytes must be cached
    // even though its key and headers make its charge larger than the shard's share.
    ObjectCache c(64 << 10, 4); // 16 KiB per shard
    const std::string body(16 << 10, 'b');
    // Neighbours in every shard first, so the big one has something to evict.
    for (int i = 0; i < 64; ++i)
        REQUIRE(c.insert(make("h/small" + std::to_string(i), "s")));
    REQUIRE(c.insert(make("h/exact", body)));
    Ref<CachedObject> got;
    REQUIRE(c.find("h/exact", kNow, &got) == ObjectCache::Lookup::fresh);
    CHECK(got->body().size() == body.size());
    CHECK(c.stats().rejected == 0);
    const uint32_t shard = c.shard_of(hash_cache_key("h/exact"));
    CHECK(c.lru_keys(shard) == std::vector<std::string>{"h/exact"});
    // The next object in that shard evicts it again (it is the least recently used).
    std::string other;
    for (int i = 0; other.empty(); ++i) {
        std::string k = "h/next" + std::to_string(i);
        if (c.shard_of(hash_cache_key(k)) == shard) other = k;
    }
    REQUIRE(c.insert(make(other, "n")));
    CHECK(c.lru_keys(shard) == std::vector<std::string>{other});
    // One byte more is refused.
    CHECK_FALSE(c.insert(make("h/over", std::string((16 << 10) + 1, 'b'))));
    CHECK(c.stats().rejected == 1);
}

TEST_CASE("ObjectCache: through a fill, an object of exactly max_object_bytes is cached when max_bytes / shards == "
          "max_object_bytes",
          "[edge][cache][lru]") {
    ObjectCache cache(4 << 20, 4);
    MissCoalescer co(&cache, 4, 1 << 20, 120'000);
    auto b = co.begin("h/exact", kNow);
    REQUIRE(b.role == MissCoalescer::Role::lead);
    auto obj =
        CachedObject::create("h/exact", 200, "HTTP/1.1 200 OK\r\nContent-Type: x\r\n", {}, fresh_for(60'000), 1 << 20);
    b.leader->start_body(obj);
    const std::string piece(64 << 10, 'x');
    for (int i = 0; i < 16; ++i)
        REQUIRE(b.leader->append(piece.data(), piece.size()));
    CHECK(b.leader->finish(kNow));
    Ref<CachedObject> got;
    CHECK(cache.find("h/exact", kNow, &got) == ObjectCache::Lookup::fresh);
}

TEST_CASE("ObjectCache: shards split keys and budgets; set_max_bytes evicts", "[edge][cache][lru][shards]") {
    ObjectCache c(16 << 20, 16);
    CHECK(c.shard_count() == 16);
    for (int i = 0; i < 2000; ++i)
        REQUIRE(c.insert(make("h/" + std::to_string(i), "0123456789")));
    size_t nonempty = 0, total = 0;
    for (uint32_t s = 0; s < 16; ++s) {
        size_t n = c.lru_keys(s).size();
        nonempty += n > 0;
        total += n;
        for (const std::string& k : c.lru_keys(s))
            CHECK(c.shard_of(hash_cache_key(k)) == s);
    }
    CHECK(nonempty == 16);
    CHECK(total == 2000);
    uint64_t before = c.stats().bytes;
    c.set_max_bytes(before / 4);
    CHECK(c.stats().bytes <= before / 4);
    CHECK(c.stats().evictions > 0);
    ObjectCache rounded(1 << 20, 5);
    CHECK(rounded.shard_count() == 8);
}

TEST_CASE("ObjectCache: concurrent hits, inserts and evictions from several threads", "[edge][cache][lru][threads]") {
    ObjectCache c(256 << 10, 4);
    constexpr int kThreads = 4, kIters = 20000;
    std::atomic<uint64_t> hits{0}, bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < kIters; ++i) {
                std::string k = "h/" + std::to_string((i * 7 + t) % 300);
                Ref<CachedObject> got;
                if (c.find(k, kNow, &got) == ObjectCache::Lookup::fresh) {
                    ++hits;
                    if (got->key() != k || got->body().copy() != k) ++bad;
                } else {
                    c.insert(make(k, k));
                }
            }
        });
    }
    for (auto& th : ts)
        th.join();
    CHECK(bad == 0);
    CHECK(hits > 0);
    CacheStats st = c.stats();
    CHECK(st.bytes <= c.max_bytes());
    uint64_t listed = 0;
    for (uint32_t s = 0; s < c.shard_count(); ++s)
        listed += c.lru_keys(s).size();
    CHECK(listed == st.objects);
}

TEST_CASE("ObjectCache: 1,000,000 small objects cost <= 256 bytes each of bookkeeping", "[edge][cache][memory]") {
    ObjectCache c(uint64_t{4} << 30, 16);
    constexpr int kObjects = 1'000'000;
    uint64_t payload = 0; // key + header block + body bytes: what the object is, not bookkeeping
    std::string key;
    int refused = 0;
    for (int i = 0; i < kObjects; ++i) {
        key = "www.example.com/o/" + std::to_string(i);
        auto o = make(key, "0123456789");
        payload += o->key().size() + o->header_block().size() + o->body().size();
        refused += !c.insert(std::move(o));
    }
    REQUIRE(refused == 0);
    CacheStats st = c.stats();
    REQUIRE(st.objects == kObjects);
    double per_object = c.bookkeeping_bytes_per_object();
    // Cross-check with the cache's own byte accounting: charged bytes minus payload, plus table slots and malloc
    // headers (one heap block per object since the first body chunk shares it; 32 leaves room for two). The RSS
    // measured figure comes from bench/tools/cache_memory.
    double charged_overhead = static_cast<double>(st.bytes - payload) / kObjects;
    INFO("bookkeeping per object: " << per_object << " bytes; charged overhead " << charged_overhead);
    CHECK(per_object <= 256.0);
    CHECK(charged_overhead + 32 + 22 <= 256.0); // + malloc headers + table slots at the highest load
    CHECK(sizeof(CachedObject) <= 136);         // 128 + the stored Date (RFC 9110 §6.6.1), updated in place by a 304
}

TEST_CASE("ObjectCache: an expired entry without validators stays while a stale window lasts (RFC 5861)",
          "[edge][cache][lru]") {
    ObjectCache c(1 << 20, 1);
    std::string block = "HTTP/1.1 200 OK\r\nCache-Control: max-age=1, stale-while-revalidate=5, stale-if-error=9\r\n";
    REQUIRE(c.insert(CachedObject::create_complete("h/s", 200, block, ValidatorSpans{}, fresh_for(1000), "s")));
    Ref<CachedObject> got;
    CHECK(c.find("h/s", kNow + 1000, &got) == ObjectCache::Lookup::stale);
    CHECK(c.find("h/s", kNow + 9999, &got) == ObjectCache::Lookup::stale); // the longer window (stale-if-error)
    CHECK(c.find("h/s", kNow + 10'000, &got) == ObjectCache::Lookup::miss);
    CHECK(c.stats().objects == 0);
}

TEST_CASE("ObjectCache: concurrent hits while an invalidation scans in short slices with no lock held between them",
          "[edge][cache][lru][threads]") {
    ObjectCache c(64 << 20, 1); // one shard: every hit needs the lock the scan takes
    constexpr int kObjects = 5000;
    std::vector<Ref<CachedObject>> held;
    for (int i = 0; i < kObjects; ++i) {
        auto o = make("h/purge/" + std::to_string(i), "x");
        if (i % 100 == 0) held.push_back(o);
        REQUIRE(c.insert(std::move(o)));
    }
    REQUIRE(c.insert(make("h/keep", "k")));
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> hits{0};
    std::thread reader([&] {
        Ref<CachedObject> got;
        while (!stop.load(std::memory_order_relaxed)) {
            if (c.find("h/keep", kNow, &got) == ObjectCache::Lookup::fresh) hits.fetch_add(1);
        }
    });
    size_t slices = 0;
    uint64_t removed =
        c.invalidate([](const CachedObject& o) { return o.key().substr(0, 8) == "h/purge/"; }, false, kNow,
                     [&] {
                         // The shard's lock is free here: a hit from this thread gets through.
                         Ref<CachedObject> got;
                         CHECK(c.find("h/keep", kNow, &got) == ObjectCache::Lookup::fresh);
                         ++slices;
                     });
    stop = true;
    reader.join();
    CHECK(removed == kObjects);
    CHECK(c.stats().objects == 1);
    // At least 4/3 slots per object (the table's load stays <= 3/4), and a hit waits for 64 of them at most.
    CHECK(slices + 1 >= kObjects * 4 / 3 / 64);
    for (const auto& o : held)
        CHECK(o->ref_count() == 1); // the cache's reference was dropped
    INFO("hits during the scan: " << hits.load());
}

TEST_CASE("ObjectCache: an invalidation finds a member that a removal between two slices shifted behind the scan",
          "[edge][cache][lru]") {
    // One shard of 256 slots (104 objects): the first slice scans slots 0-63. A probe run across slot 63/64 — A and
    // B at home 62 (slots 62, 63), C, to be invalidated, at home 63 (slot 64) — loses A between the first two slices
    // (as an eviction or an expired object would remove it), and backward shifting moves C to slot 63, behind the
    // scan.
    constexpr size_t kSlots = 256;
    static_assert(ObjectCache::kInvalidateSlice == 64, "the run below straddles the end of the first slice");
    auto key_at = [](std::string_view prefix, size_t home_lo, size_t home_hi, int* n) {
        for (;; ++*n) {
            std::string k = std::string(prefix) + std::to_string(*n);
            size_t home = hash_cache_key(k) & (kSlots - 1);
            if (home >= home_lo && home < home_hi) {
                ++*n;
                return k;
            }
        }
    };
    int n = 0;
    std::string a = key_at("h/keep/a", 62, 63, &n), b = key_at("h/keep/b", 62, 63, &n);
    std::string cc = key_at("h/purge/c", 63, 64, &n);
    ObjectCache c(64 << 20, 1);
    // The others first, homes far from the run: the table has grown to 256 slots before A, B and C go in, in order.
    for (int i = 0; i < 101; ++i)
        REQUIRE(c.insert(make(key_at("h/keep/f", 100, 200, &n), "f")));
    REQUIRE(c.insert(make(a, "a")));
    REQUIRE(c.insert(make(b, "b")));
    REQUIRE(c.insert(make(cc, "c")));
    int between = 0;
    uint64_t removed =
        c.invalidate([](const CachedObject& o) { return o.key().substr(0, 8) == "h/purge/"; }, false, kNow,
                     [&] {
                         if (++between == 1) REQUIRE(c.erase(a));
                     });
    CHECK(removed == 1);
    Ref<CachedObject> got;
    CHECK(c.find(cc, kNow, &got) == ObjectCache::Lookup::miss);
    CHECK(c.find(b, kNow, &got) == ObjectCache::Lookup::fresh);
    CHECK(c.stats().objects == 102);
}

TEST_CASE("ObjectCache: peek and peek_prefix read without moving, counting or dropping anything",
          "[edge][cache][lru]") {
    ObjectCache c(1 << 20, 4);
    REQUIRE(c.insert(make("h/a", "1")));
    REQUIRE(c.insert(make("h/a\nx:1", "2")));
    REQUIRE(c.insert(make("h/a\nx:2", "3", 1))); // expired at kNow + 1, no validators: find() would drop it
    REQUIRE(c.insert(make("h/ab", "4")));
    REQUIRE(c.insert(make("h/b", "5")));
    std::vector<std::vector<std::string>> order;
    for (uint32_t s = 0; s < c.shard_count(); ++s)
        order.push_back(c.lru_keys(s));
    CacheStats before = c.stats();

    Ref<CachedObject> a = c.peek("h/a");
    REQUIRE(a);
    CHECK(a->key() == "h/a");
    CHECK(!c.peek("h/c"));
    CHECK(c.peek("h/a\nx:2")); // expired, still there
    std::vector<std::string> keys;
    for (const Ref<CachedObject>& o : c.peek_prefix("h/a", 100))
        keys.emplace_back(o->key());
    std::sort(keys.begin(), keys.end());
    CHECK(keys == std::vector<std::string>{"h/a", "h/a\nx:1", "h/a\nx:2", "h/ab"});
    CHECK(c.peek_prefix("h/a", 2).size() == 2);
    CHECK(c.peek_prefix("nothing", 100).empty());

    for (uint32_t s = 0; s < c.shard_count(); ++s)
        CHECK(c.lru_keys(s) == order[s]);
    CacheStats after = c.stats();
    CHECK(after.objects == before.objects);
    CHECK(after.inserts == before.inserts);
    CHECK(after.evictions == before.evictions);
    CHECK(after.bytes == before.bytes);
}

TEST_CASE("ObjectCache: concurrent peeks and prefix scans while other threads insert, hit and erase",
          "[edge][cache][lru][threads]") {
    ObjectCache c(256 << 10, 4);
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t)
        writers.emplace_back([&, t] {
            for (int i = 0; !stop.load(); ++i) {
                std::string k = "h/p" + std::to_string((i * 7 + t) % 300);
                c.insert(make(k, std::string(200, 'x')));
                Ref<CachedObject> got;
                c.find(k, kNow, &got);
                if (i % 3 == 0) c.erase("h/p" + std::to_string(i % 300));
            }
        });
    size_t seen = 0;
    // At least 300 rounds, and on until the writers have stored something the scans saw.
    for (int round = 0; round < 300 || (seen == 0 && round < 1'000'000); ++round) {
        for (const Ref<CachedObject>& o : c.peek_prefix("h/p1", 1000)) {
            CHECK(o->key().starts_with("h/p1"));
            seen += o->body().size() == 200;
        }
        if (Ref<CachedObject> o = c.peek("h/p" + std::to_string(round % 300))) CHECK(o->body().size() == 200);
    }
    stop = true;
    for (auto& w : writers)
        w.join();
    CHECK(seen > 0);
}
