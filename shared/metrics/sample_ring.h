// The last samples of a set of monotonic counters, for the admin consoles' rates and sparklines: the server takes a
// sample when a console asks for its stats (at most one a second however many pages poll), so rates are computed
// here from counter deltas and every viewer sees the same numbers and history. Admin thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace shared {

class SampleRing {
  public:
    explicit SampleRing(size_t capacity = 61, uint64_t min_gap_ms = 900)
        : capacity_(capacity), min_gap_ms_(min_gap_ms) {}

    // Keeps `values` as the sample at `now_ms` unless the last one is younger than min_gap_ms. True when kept.
    bool offer(uint64_t now_ms, std::vector<double> values);
    size_t size() const { return samples_.size(); }
    // Per-second rate of series i over the last interval (0 with fewer than two samples).
    double rate(size_t i) const { return samples_.size() < 2 ? 0 : rate_at(i, samples_.size() - 1); }
    // Rates over each interval, oldest first (size() - 1 values).
    std::vector<double> rates(size_t i) const;
    // Increase of series i over the last `intervals` intervals (fewer when not kept yet).
    double delta(size_t i, size_t intervals) const;
    // Seconds covered by the last `intervals` intervals.
    double seconds(size_t intervals) const;

  private:
    struct Sample {
        uint64_t t_ms;
        std::vector<double> v;
    };
    // A counter that went down was reset (a reload rebuilt what counts): the new value is the increase.
    static double increase(double before, double after) { return after >= before ? after - before : after; }
    double rate_at(size_t i, size_t k) const;
    size_t capacity_;
    uint64_t min_gap_ms_;
    std::deque<Sample> samples_;
};

} // namespace shared
