#include <catch2/catch.hpp>

#include <cmath>

#include "shared/metrics/histogram_quantile.h"
#include "shared/metrics/metrics.h"
#include "shared/metrics/sample_ring.h"

TEST_CASE("sample ring: rates from counter deltas, at most one sample a second", "[shared][metrics][console]") {
    shared::SampleRing r(4);
    CHECK(r.rate(0) == 0);
    CHECK(r.offer(1000, {0, 10}));
    CHECK_FALSE(r.offer(1500, {50, 10})); // too soon: the pages polling at once share a sample
    CHECK(r.offer(2000, {100, 10}));
    CHECK(r.rate(0) == Approx(100));
    CHECK(r.rate(1) == 0);
    CHECK(r.offer(4000, {300, 30}));
    CHECK(r.rate(0) == Approx(100));
    CHECK(r.rate(1) == Approx(10));
    CHECK(r.delta(0, 10) == Approx(300));
    CHECK(r.seconds(10) == Approx(3));
    // A counter that went down was reset: its new value is the increase.
    CHECK(r.offer(5000, {20, 30}));
    CHECK(r.rate(0) == Approx(20));
    CHECK(r.offer(6000, {40, 30}));
    CHECK(r.size() == 4); // capacity
    auto rates = r.rates(0);
    REQUIRE(rates.size() == 3);
    CHECK(rates[0] == Approx(100));
    CHECK(rates[2] == Approx(20));
}

TEST_CASE("histogram quantiles interpolate inside the bucket, as Prometheus does", "[shared][metrics][console]") {
    std::vector<double> bounds = {0.001, 0.01, 0.1};
    CHECK(std::isnan(shared::histogram_quantile(bounds, {0, 0, 0, 0}, 0.5)));
    // 100 observations, all in (0.001, 0.01]: p50 half way through that bucket.
    CHECK(shared::histogram_quantile(bounds, {0, 100, 0, 0}, 0.5) == Approx(0.0055));
    // 99 fast, 1 slow: p50 in the first bucket, p99 at the top of the first, p100 in the third.
    CHECK(shared::histogram_quantile(bounds, {99, 0, 1, 0}, 0.5) == Approx(0.001 * 50 / 99));
    CHECK(shared::histogram_quantile(bounds, {99, 0, 1, 0}, 0.99) == Approx(0.001));
    CHECK(shared::histogram_quantile(bounds, {99, 0, 1, 0}, 1.0) == Approx(0.1));
    // Beyond the last bound: the last bound (a floor).
    CHECK(shared::histogram_quantile(bounds, {0, 0, 0, 5}, 0.5) == Approx(0.1));

    shared::MetricsRegistry m(2);
    auto h = m.histogram("x_seconds", "x", {0.001, 0.01, 0.1});
    m.observe(0, h, 0.0005);
    m.observe(1, h, 0.05);
    m.observe(1, h, 7);
    std::vector<double> b;
    std::vector<uint64_t> counts;
    REQUIRE(m.histogram_counts(h, &b, &counts));
    CHECK(b == bounds);
    CHECK(counts == std::vector<uint64_t>{1, 0, 1, 1});
    auto c = m.counter("y_total", "y");
    CHECK_FALSE(m.histogram_counts(c, &b, &counts));
}
