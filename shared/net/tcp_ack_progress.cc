#include "shared/net/tcp_ack_progress.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

namespace shared {

uint64_t TcpAckProgress::acknowledged(const uv_tcp_t* tcp) const noexcept {
    uint64_t held = tcp->write_queue_size;
    uv_os_fd_t fd;
    int queued = 0;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(tcp), &fd) == 0 && ioctl(fd, SIOCOUTQ, &queued) == 0 &&
        queued > 0)
        held += static_cast<uint64_t>(queued);
    return handed_ > held ? handed_ - held : 0;
}

bool TcpAckProgress::sample(const uv_tcp_t* tcp) noexcept {
    uint64_t a = acknowledged(tcp);
    if (a <= acked_) return false;
    acked_ = a;
    return true;
}

} // namespace shared
