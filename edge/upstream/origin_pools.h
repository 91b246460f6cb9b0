// One worker's connection pools to its http origins, one OriginPool per origin (created on first use) sharing the
// worker's resolver. A reload that changes an origin's address, timeouts or TLS context gets new pools; fetches in
// flight keep theirs.
//
// Thread: one OriginPools per worker, used only on that worker's loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "edge/upstream/origin_pool.h"
#include "edge/upstream/origin_stream.h"
#include "shared/net/resolver.h"

namespace edge {

class OriginPools final : public OriginClient {
  public:
    // `first_byte_hook` gets every response's time to first byte (ms), for the origin latency metric.
    OriginPools(uv_loop_t* loop, std::function<void(uint64_t ms)> first_byte_hook);
    ~OriginPools();
    OriginPools(const OriginPools&) = delete;
    OriginPools& operator=(const OriginPools&) = delete;

    std::unique_ptr<OriginStream> fetch(const OriginConfig& origin, OriginRequest req, OriginCallbacks cb) override;
    // The pool for `origin` (created on first use).
    OriginPool* pool_for(const OriginConfig& origin);
    // Worker stop: closes every pool (fetches still running are cancelled) and the resolver.
    void close();

  private:
    uv_loop_t* loop_;
    std::function<void(uint64_t)> first_byte_hook_;
    std::unique_ptr<shared::Resolver> resolver_;
    std::map<std::string, std::unique_ptr<OriginPool>> pools_;
};

} // namespace edge
