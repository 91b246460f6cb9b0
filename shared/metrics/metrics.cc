#include "shared/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

namespace shared {

enum class Kind { counter, gauge, histogram, gauge_fn, counter_fn };

struct MetricsRegistry::Family {
    std::string name, help;
    Kind kind;
};

struct MetricsRegistry::Series {
    size_t family;
    std::string labels;
    MetricId slot; // first slot; histograms use bounds.size()+1 bucket slots, then sum, then count
    std::shared_ptr<const std::vector<double>> bounds; // histograms
    std::function<double()> read;
};

MetricsRegistry::MetricsRegistry(unsigned shards, unsigned max_slots)
    : shards_(shards ? shards : 1), max_slots_(max_slots) {
    for (unsigned i = 0; i < shards_; ++i) {
        shard_data_.emplace_back(new std::atomic<uint64_t>[max_slots_]);
        for (unsigned j = 0; j < max_slots_; ++j)
            shard_data_.back()[j].store(0, std::memory_order_relaxed);
    }
    hist_bounds_.reset(new std::atomic<const std::vector<double>*>[max_slots_]);
    for (unsigned j = 0; j < max_slots_; ++j)
        hist_bounds_[j].store(nullptr, std::memory_order_relaxed);
}

MetricsRegistry::~MetricsRegistry() = default;

MetricId MetricsRegistry::counter(const std::string& name, const std::string& help, const std::string& labels) {
    std::lock_guard<std::mutex> lk(mu_);
    size_t f = family_index(name, help, int(Kind::counter));
    for (const auto& s : series_)
        if (s.family == f && s.labels == labels) return s.slot;
    if (next_slot_ + 1 > max_slots_) return max_slots_ - 1; // out of slots: share the last one rather than crash
    series_.push_back(Series{f, labels, next_slot_, nullptr, {}});
    return next_slot_++;
}

MetricId MetricsRegistry::gauge(const std::string& name, const std::string& help, const std::string& labels) {
    std::lock_guard<std::mutex> lk(mu_);
    size_t f = family_index(name, help, int(Kind::gauge));
    for (const auto& s : series_)
        if (s.family == f && s.labels == labels) return s.slot;
    if (next_slot_ + 1 > max_slots_) return max_slots_ - 1;
    series_.push_back(Series{f, labels, next_slot_, nullptr, {}});
    return next_slot_++;
}

MetricId MetricsRegistry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                    const std::string& labels) {
    std::lock_guard<std::mutex> lk(mu_);
    std::sort(bounds.begin(), bounds.end());
    size_t f = family_index(name, help, int(Kind::histogram));
    for (const auto& s : series_)
        if (s.family == f && s.labels == labels) return s.slot;
    unsigned need = static_cast<unsigned>(bounds.size()) + 3;
    if (next_slot_ + need > max_slots_) return max_slots_ - 1;
    MetricId id = next_slot_;
    auto b = std::make_shared<const std::vector<double>>(std::move(bounds));
    hist_bounds_[id].store(b.get(), std::memory_order_release);
    series_.push_back(Series{f, labels, id, std::move(b), {}});
    next_slot_ += need;
    return id;
}

void MetricsRegistry::gauge_fn(const std::string& name, const std::string& help, const std::string& labels,
                               std::function<double()> read) {
    std::lock_guard<std::mutex> lk(mu_);
    size_t f = family_index(name, help, int(Kind::gauge_fn));
    series_.push_back(Series{f, labels, 0, nullptr, std::move(read)});
}

void MetricsRegistry::counter_fn(const std::string& name, const std::string& help, const std::string& labels,
                                 std::function<double()> read) {
    std::lock_guard<std::mutex> lk(mu_);
    size_t f = family_index(name, help, int(Kind::counter_fn));
    series_.push_back(Series{f, labels, 0, nullptr, std::move(read)});
}

void MetricsRegistry::observe(unsigned shard, MetricId id, double value) noexcept {
    if (id >= max_slots_) return;
    const std::vector<double>* bounds = hist_bounds_[id].load(std::memory_order_acquire);
    if (!bounds) return;
    const auto& bv = *bounds;
    size_t b = 0;
    while (b < bv.size() && value > bv[b])
        ++b;
    auto* d = shard_data_[shard].get();
    d[id + b].fetch_add(1, std::memory_order_relaxed);
    size_t nb = bv.size() + 1;
    d[id + nb].fetch_add(static_cast<uint64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
    d[id + nb + 1].fetch_add(1, std::memory_order_relaxed);
}

int64_t MetricsRegistry::value(MetricId id) const {
    uint64_t sum = 0;
    for (unsigned i = 0; i < shards_; ++i)
        sum += shard_data_[i][id].load(std::memory_order_relaxed);
    return static_cast<int64_t>(sum);
}

bool MetricsRegistry::histogram_counts(MetricId id, std::vector<double>* bounds, std::vector<uint64_t>* counts) const {
    if (id >= max_slots_) return false;
    const std::vector<double>* bv = hist_bounds_[id].load(std::memory_order_acquire);
    if (!bv) return false;
    *bounds = *bv;
    counts->assign(bv->size() + 1, 0);
    for (size_t b = 0; b <= bv->size(); ++b)
        (*counts)[b] = static_cast<uint64_t>(value(id + static_cast<MetricId>(b)));
    return true;
}

namespace {
std::string fmt_double(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.12g", v);
    // Trim to the shortest representation that prints nicely for integers.
    if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}
std::string with_labels(const std::string& labels, const std::string& extra) {
    if (labels.empty() && extra.empty()) return "";
    if (labels.empty()) return "{" + extra + "}";
    if (extra.empty()) return "{" + labels + "}";
    return "{" + labels + "," + extra + "}";
}
} // namespace

std::string MetricsRegistry::render() const {
    std::lock_guard<std::mutex> lk(mu_);
    std::string out;
    for (size_t f = 0; f < families_.size(); ++f) {
        const Family& fam = *families_[f];
        const char* type = fam.kind == Kind::counter || fam.kind == Kind::counter_fn ? "counter"
                           : fam.kind == Kind::histogram                             ? "histogram"
                                                                                     : "gauge";
        out += "# HELP " + fam.name + " " + fam.help + "\n";
        out += "# TYPE " + fam.name + " " + type + "\n";
        for (const auto& s : series_) {
            if (s.family != f) continue;
            if (fam.kind == Kind::gauge_fn || fam.kind == Kind::counter_fn) {
                out += fam.name + with_labels(s.labels, "") + " " + fmt_double(s.read ? s.read() : 0) + "\n";
            } else if (fam.kind == Kind::histogram) {
                size_t nb = s.bounds->size() + 1;
                uint64_t cum = 0;
                for (size_t b = 0; b < nb; ++b) {
                    cum += static_cast<uint64_t>(value(s.slot + static_cast<MetricId>(b)));
                    std::string le = b < s.bounds->size() ? fmt_double((*s.bounds)[b]) : "+Inf";
                    out += fam.name + "_bucket" + with_labels(s.labels, "le=\"" + le + "\"") + " " +
                           std::to_string(cum) + "\n";
                }
                double sum = static_cast<double>(value(s.slot + static_cast<MetricId>(nb))) / 1e6;
                out += fam.name + "_sum" + with_labels(s.labels, "") + " " + fmt_double(sum) + "\n";
                out += fam.name + "_count" + with_labels(s.labels, "") + " " +
                       std::to_string(value(s.slot + static_cast<MetricId>(nb + 1))) + "\n";
            } else {
                out += fam.name + with_labels(s.labels, "") + " " + std::to_string(value(s.slot)) + "\n";
            }
        }
    }
    return out;
}

size_t MetricsRegistry::family_index(const std::string& name, const std::string& help, int kind) {
    for (size_t i = 0; i < families_.size(); ++i)
        if (families_[i]->name == name) return i;
    families_.push_back(std::unique_ptr<Family>(new Family{name, help, static_cast<Kind>(kind)}));
    return families_.size() - 1;
}

} // namespace shared
