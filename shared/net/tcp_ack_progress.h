// Write progress of a TCP connection as the peer acknowledges it, not as the local kernel accepts it. A write
// completes when the kernel takes the bytes, and an autotuned send buffer takes megabytes: a peer that reads
// slowly but steadily can leave a write pending for longer than a send timeout while it is still being served,
// and a peer that never reads has all its answers "written" at once. Both are told apart by the bytes handed to
// the socket minus what libuv and the kernel still hold (SIOCOUTQ: unsent plus unacknowledged). Sampled only when
// a timer asks, so the write path pays an addition per write and no system call.
#pragma once

#include <uv.h>

#include <cstdint>

namespace shared {

class TcpAckProgress {
  public:
    // Bytes given to libuv (uv_write, uv_try_write) or written to the socket directly (sendfile, sendmsg).
    void handed(uint64_t n) noexcept { handed_ += n; }
    uint64_t handed() const noexcept { return handed_; }
    // The acknowledged count at the last sample.
    uint64_t acked() const noexcept { return acked_; }
    // Everything handed was acknowledged at the last sample.
    bool settled() const noexcept { return acked_ == handed_; }
    // Bytes the peer has acknowledged now (one ioctl).
    uint64_t acknowledged(const uv_tcp_t* tcp) const noexcept;
    // Takes a sample; true when the peer acknowledged more since the previous one.
    bool sample(const uv_tcp_t* tcp) noexcept;

  private:
    uint64_t handed_ = 0;
    uint64_t acked_ = 0;
};

} // namespace shared
