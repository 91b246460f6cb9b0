#include "shared/metrics/sample_ring.h"

#include <algorithm>

namespace shared {

bool SampleRing::offer(uint64_t now_ms, std::vector<double> values) {
    if (!samples_.empty() && now_ms < samples_.back().t_ms + min_gap_ms_) return false;
    samples_.push_back(Sample{now_ms, std::move(values)});
    while (samples_.size() > capacity_)
        samples_.pop_front();
    return true;
}

double SampleRing::rate_at(size_t i, size_t k) const {
    const Sample& a = samples_[k - 1];
    const Sample& b = samples_[k];
    if (i >= a.v.size() || i >= b.v.size() || b.t_ms <= a.t_ms) return 0;
    return increase(a.v[i], b.v[i]) * 1000.0 / static_cast<double>(b.t_ms - a.t_ms);
}

std::vector<double> SampleRing::rates(size_t i) const {
    std::vector<double> out;
    for (size_t k = 1; k < samples_.size(); ++k)
        out.push_back(rate_at(i, k));
    return out;
}

double SampleRing::delta(size_t i, size_t intervals) const {
    double d = 0;
    for (size_t k = samples_.size(); k > 1 && intervals > 0; --k, --intervals) {
        const Sample& a = samples_[k - 2];
        const Sample& b = samples_[k - 1];
        if (i < a.v.size() && i < b.v.size()) d += increase(a.v[i], b.v[i]);
    }
    return d;
}

double SampleRing::seconds(size_t intervals) const {
    if (samples_.size() < 2) return 0;
    size_t back = std::min(intervals, samples_.size() - 1);
    return static_cast<double>(samples_.back().t_ms - samples_[samples_.size() - 1 - back].t_ms) / 1000.0;
}

} // namespace shared
