#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "shared/metrics/heavy_hitters.h"

namespace {

// A Zipf(s) stream over `keys` distinct keys ("/k<rank>"), rank 1 the most frequent. Deterministic.
std::vector<std::string> zipf_stream(size_t keys, double s, size_t n, uint32_t seed) {
    std::vector<double> cdf(keys);
    double sum = 0;
    for (size_t r = 0; r < keys; ++r) {
        sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
        cdf[r] = sum;
    }
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, sum);
    std::vector<std::string> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        size_t r = static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
        out.push_back("/k" + std::to_string(r + 1));
    }
    return out;
}

std::vector<std::string> true_top(const std::vector<std::string>& stream, size_t n) {
    std::map<std::string, uint64_t> counts;
    for (const auto& k : stream)
        ++counts[k];
    std::vector<std::pair<uint64_t, std::string>> v;
    for (auto& [k, c] : counts)
        v.emplace_back(c, k);
    std::sort(v.begin(), v.end(),
              [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    std::vector<std::string> out;
    for (size_t i = 0; i < n && i < v.size(); ++i)
        out.push_back(v[i].second);
    return out;
}

} // namespace

TEST_CASE("heavy hitters: exact while the keys fit, counts and order", "[shared][metrics][heavy_hitters]") {
    shared::HeavyHitters h(8);
    for (int i = 0; i < 5; ++i)
        h.add("/a");
    for (int i = 0; i < 3; ++i)
        h.add("/b");
    h.add("/c", 10);
    auto items = h.items();
    REQUIRE(items.size() == 3);
    CHECK(items[0].key == "/c");
    CHECK(items[0].count == 10);
    CHECK(items[1].key == "/a");
    CHECK(items[1].count == 5);
    CHECK(items[2].key == "/b");
    CHECK(items[2].error == 0);
    CHECK(h.total() == 18);
}

TEST_CASE("heavy hitters: bounded memory however many distinct keys", "[shared][metrics][heavy_hitters]") {
    shared::HeavyHitters h(64);
    for (int i = 0; i < 100000; ++i)
        h.add("/unique/" + std::to_string(i));
    CHECK(h.size() == 64);
    CHECK(h.items().size() == 64);
    CHECK(h.total() == 100000);
    // Overcounts are bounded by total / capacity (Space-Saving's guarantee).
    for (const auto& it : h.items())
        CHECK(it.error <= h.total() / h.capacity());
    // A long key is truncated, not refused, and still counted as one key.
    std::string longkey(500, 'x');
    shared::HeavyHitters t(4);
    t.add(longkey);
    t.add(longkey);
    REQUIRE(t.items().size() == 1);
    CHECK(t.items()[0].key.size() == shared::HeavyHitters::kKeyMax);
    CHECK(t.items()[0].count == 2);
}

TEST_CASE("heavy hitters: finds the true top keys of a Zipf stream", "[shared][metrics][heavy_hitters]") {
    auto stream = zipf_stream(20000, 1.1, 300000, 42);
    shared::HeavyHitters h(256);
    for (const auto& k : stream)
        h.add(k);
    auto want = true_top(stream, 20);
    auto items = h.items();
    REQUIRE(items.size() == 256);
    std::vector<std::string> got;
    for (size_t i = 0; i < 20; ++i)
        got.push_back(items[i].key);
    // The 10 heaviest are found in order; of the top 20, at least 18 are among the sketch's top 20.
    for (size_t i = 0; i < 10; ++i)
        CHECK(got[i] == want[i]);
    size_t common = 0;
    for (const auto& k : want)
        common += std::count(got.begin(), got.end(), k);
    CHECK(common >= 18);
    // Each kept key's count brackets its true count.
    std::map<std::string, uint64_t> exact;
    for (const auto& k : stream)
        ++exact[k];
    for (size_t i = 0; i < 20; ++i) {
        CHECK(items[i].count >= exact[items[i].key]);
        CHECK(items[i].count - items[i].error <= exact[items[i].key]);
    }
}

TEST_CASE("heavy hitters: weighted (bytes) and the index survives many replacements",
          "[shared][metrics][heavy_hitters]") {
    shared::HeavyHitters h(16);
    for (int round = 0; round < 2000; ++round) {
        h.add("/big", 100000);
        for (int i = 0; i < 20; ++i)
            h.add("/small/" + std::to_string(round * 20 + i), 10);
    }
    auto items = h.items();
    REQUIRE(!items.empty());
    CHECK(items[0].key == "/big");
    CHECK(items[0].count >= 2000u * 100000u);
    // Every kept key is still findable (no lost index entry): adding it again grows it, not a new slot.
    for (const auto& it : items) {
        h.add(it.key, 1);
    }
    auto again = h.items();
    CHECK(again.size() == items.size());
}

TEST_CASE("heavy hitters: merging per-worker sketches", "[shared][metrics][heavy_hitters]") {
    auto stream = zipf_stream(5000, 1.2, 120000, 7);
    std::vector<std::unique_ptr<shared::HeavyHitters>> parts;
    for (int w = 0; w < 4; ++w)
        parts.push_back(std::make_unique<shared::HeavyHitters>(128));
    for (size_t i = 0; i < stream.size(); ++i)
        parts[i % 4]->add(stream[i]);
    std::vector<std::vector<shared::HeavyHitters::Item>> items;
    for (auto& p : parts)
        items.push_back(p->items());
    auto merged = shared::HeavyHitters::merge(items, 20);
    REQUIRE(merged.size() == 20);
    auto want = true_top(stream, 5);
    for (size_t i = 0; i < 5; ++i)
        CHECK(merged[i].key == want[i]);
    std::map<std::string, uint64_t> exact;
    for (const auto& k : stream)
        ++exact[k];
    // The heaviest key was kept by every worker: its merged count is within the summed error of the truth.
    CHECK(merged[0].count >= exact[merged[0].key]);
    CHECK(merged[0].count - merged[0].error <= exact[merged[0].key]);
    // Disjoint sketches merge into the union.
    std::vector<std::vector<shared::HeavyHitters::Item>> disjoint = {{{"/x", 5, 0}}, {{"/y", 7, 0}, {"/x", 1, 0}}};
    auto m2 = shared::HeavyHitters::merge(disjoint, 10);
    REQUIRE(m2.size() == 2);
    CHECK(m2[0].key == "/y");
    CHECK(m2[1].key == "/x");
    CHECK(m2[1].count == 6);
}

TEST_CASE("heavy hitters: a new key always takes a smallest counter's place", "[shared][metrics][heavy_hitters]") {
    shared::HeavyHitters h(4);
    for (const char* k : {"/a", "/b", "/c"})
        h.add(k, 5);
    h.add("/d", 1);
    auto count_of = [&](const std::string& key) {
        for (const auto& it : h.items())
            if (it.key == key) return it.count;
        return uint64_t{0};
    };
    h.add("/e", 1); // takes /d's place (1): count 2, error 1
    CHECK(count_of("/d") == 0);
    CHECK(count_of("/e") == 2);
    h.add("/f", 1); // the smallest is now /e (2), not one of the 5s: a remembered minimum must not mislead
    CHECK(count_of("/e") == 0);
    CHECK(count_of("/f") == 3);
    CHECK(count_of("/a") == 5);
    CHECK(count_of("/b") == 5);
    CHECK(count_of("/c") == 5);
    // Equal counters: a stream of new keys replaces one of the smallest each time, and every counter stays within
    // one of the others (a scan that kept taking the same slot would grow it alone).
    shared::HeavyHitters u(8);
    for (int i = 0; i < 8000; ++i)
        u.add("/u" + std::to_string(i), 1);
    auto items = u.items();
    REQUIRE(items.size() == 8);
    CHECK(items.front().count - items.back().count <= 1);
    CHECK(u.total() == 8000);
    h.clear();
    h.add("/x", 3);
    CHECK(h.items().size() == 1);
    CHECK(h.items()[0].count == 3);
}
