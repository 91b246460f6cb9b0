// Prometheus metrics with per-worker shards: each worker writes only its own shard (relaxed atomics, no lock, no
// allocation), and render() sums the shards on the admin thread. Register every metric before the workers start.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace shared {

using MetricId = uint32_t;

class MetricsRegistry {
  public:
    // `shards` = number of workers (+1 for the main thread if it records too). At most `max_slots` values per shard.
    explicit MetricsRegistry(unsigned shards, unsigned max_slots = 8192);
    ~MetricsRegistry();
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    // `labels` is Prometheus label text without braces: `status="200",result="hit"` (or empty).
    MetricId counter(const std::string& name, const std::string& help, const std::string& labels = "");
    MetricId gauge(const std::string& name, const std::string& help, const std::string& labels = "");
    // Upper bounds of the buckets (ascending); +Inf is implicit.
    MetricId histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       const std::string& labels = "");
    // A gauge read when rendering (cache bytes, open connections computed elsewhere...).
    void gauge_fn(const std::string& name, const std::string& help, const std::string& labels,
                  std::function<double()> read);
    // A counter read when rendering (a monotonic total kept elsewhere, e.g. cache evictions): TYPE counter, so
    // rate() and increase() work on it.
    void counter_fn(const std::string& name, const std::string& help, const std::string& labels,
                    std::function<double()> read);

    void inc(unsigned shard, MetricId id, uint64_t n = 1) noexcept {
        slot(shard, id).fetch_add(n, std::memory_order_relaxed);
    }
    // Gauges: each shard keeps its own signed value; render() sums them.
    void gauge_add(unsigned shard, MetricId id, int64_t delta) noexcept {
        slot(shard, id).fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
    }
    void gauge_set(unsigned shard, MetricId id, int64_t v) noexcept {
        slot(shard, id).store(static_cast<uint64_t>(v), std::memory_order_relaxed);
    }
    void observe(unsigned shard, MetricId id, double value) noexcept;

    std::string render() const; // Prometheus text exposition format 0.0.4
    unsigned shards() const { return shards_; }
    // Sum over shards of a counter or gauge (tests, health decisions).
    int64_t value(MetricId id) const;
    // A histogram's upper bounds and its bucket counts summed over shards (not cumulative; the last is +Inf), for
    // the admin console's quantiles. False when `id` is not a histogram.
    bool histogram_counts(MetricId id, std::vector<double>* bounds, std::vector<uint64_t>* counts) const;

  private:
    struct Family;
    std::atomic<uint64_t>& slot(unsigned shard, MetricId id) noexcept { return shard_data_[shard][id]; }
    unsigned shards_;
    unsigned max_slots_;
    unsigned next_slot_ = 0;
    std::vector<std::unique_ptr<std::atomic<uint64_t>[]>> shard_data_;
    std::vector<std::unique_ptr<Family>> families_;
    struct Series;
    std::vector<Series> series_;
    // Histogram bounds by first slot, so observe() finds them without a lock or a search.
    std::unique_ptr<std::atomic<const std::vector<double>*>[]> hist_bounds_;
    size_t family_index(const std::string& name, const std::string& help, int kind);
    mutable std::mutex mu_; // registration and render only, never the hot path
};

} // namespace shared
