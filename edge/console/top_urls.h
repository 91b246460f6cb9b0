// The edge's most requested URLs, by requests and by bytes sent, for the admin console (CloudFront's "popular
// objects"): two bounded heavy-hitters sketches (shared/metrics/heavy_hitters.h) per worker, so memory stays fixed
// however many distinct URLs viewers ask for, and a request costs a key copy into a fixed buffer, a hash lookup and
// that worker's own uncontended lock (the admin thread takes it once a second to copy the sketch): no global lock,
// no allocation on the hit path. top() merges the workers' sketches on the admin thread.
#pragma once

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "shared/metrics/heavy_hitters.h"

namespace edge {

class TopUrls {
  public:
    // Counters kept per worker and sketch: enough that the top 20 of a skewed stream come out right.
    static constexpr size_t kCapacity = 256;

    explicit TopUrls(unsigned workers, size_t capacity = kCapacity);
    // Worker `worker`'s thread only. Key: host + path (no query), truncated to HeavyHitters::kKeyMax bytes.
    void record(unsigned worker, std::string_view host, std::string_view path, uint64_t bytes) noexcept;

    struct Top {
        std::vector<shared::HeavyHitters::Item> by_requests, by_bytes;
    };
    // Any thread (the admin thread).
    Top top(size_t n) const;

  private:
    struct alignas(64) PerWorker {
        explicit PerWorker(size_t capacity) : requests(capacity), bytes(capacity) {}
        mutable std::mutex mu;
        shared::HeavyHitters requests, bytes;
    };
    std::vector<std::unique_ptr<PerWorker>> workers_;
};

} // namespace edge
