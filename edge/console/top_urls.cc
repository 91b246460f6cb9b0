#include "edge/console/top_urls.h"

#include <cstring>

namespace edge {

TopUrls::TopUrls(unsigned workers, size_t capacity) {
    for (unsigned i = 0; i < (workers ? workers : 1); ++i)
        workers_.push_back(std::make_unique<PerWorker>(capacity));
}

void TopUrls::record(unsigned worker, std::string_view host, std::string_view path, uint64_t bytes) noexcept {
    if (worker >= workers_.size()) return;
    char key[shared::HeavyHitters::kKeyMax];
    // An HTTP/1.0 request without Host has an empty host whose data() is null: memcpy must not see it.
    size_t n = std::min(host.size(), sizeof key);
    if (n) std::memcpy(key, host.data(), n);
    size_t m = std::min(path.size(), sizeof key - n);
    if (m) std::memcpy(key + n, path.data(), m);
    std::string_view k(key, n + m);
    uint64_t h = shared::HeavyHitters::hash(k);
    PerWorker& w = *workers_[worker];
    std::lock_guard lock(w.mu);
    w.requests.add(k, h, 1);
    w.bytes.add(k, h, bytes);
}

TopUrls::Top TopUrls::top(size_t n) const {
    std::vector<std::vector<shared::HeavyHitters::Item>> req, bytes;
    for (const auto& w : workers_) {
        std::lock_guard lock(w->mu);
        req.push_back(w->requests.items());
        bytes.push_back(w->bytes.items());
    }
    return Top{shared::HeavyHitters::merge(req, n), shared::HeavyHitters::merge(bytes, n)};
}

} // namespace edge
