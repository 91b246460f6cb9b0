// The viewer of a request nobody waits for: a background refresh (stale-while-revalidate) runs as a fill-leading
// ProxySession whose viewer is this, gone from the start, so the session takes the same "viewer gone" path it takes
// when a real viewer leaves — it drives the fill to the end and writes nothing. One per worker (ProxyHandler).
//
// Thread: the worker loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edge/proxy/viewer.h"

namespace edge {

class DetachedViewer final : public Viewer {
  public:
    bool gone() const override { return true; }
    std::string& head_buffer() override { return scratch_; }
    bool write(const OutBuf*, unsigned) override { return false; }
    using Viewer::write;
    bool write_file(const OutBuf*, unsigned, const FileSpan&) override { return false; }
    bool write_copy(std::string_view) override { return false; }
    void pin(Ref<CachedObject>) override {}
    bool congested() const override { return false; }
    void end_response(bool) override {}
    void abort() override {}
    void attach(ViewerEvents*) override {}
    void detach() override {}
    void hold() override { ++holds_; }
    void release() override { --holds_; }
    std::string_view peer_ip() const override { return {}; }
    uint64_t request_elapsed_ms() const override { return 0; }
    // Background sessions still running.
    unsigned holds() const { return holds_; }

  private:
    std::string scratch_;
    unsigned holds_ = 0;
};

} // namespace edge
