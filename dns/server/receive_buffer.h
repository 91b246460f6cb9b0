// The kernel receive buffer of a UDP socket, sized like NSD's `so-rcvbuf`. Linux's default (net.core.rmem_default,
// 208 KiB on Debian) holds only a few thousand small queries, so a burst arriving while a worker is busy with the
// previous batch is dropped by the kernel before we ever see it; a few MiB absorb such bursts.
#pragma once

#include <cstdint>

namespace dns {

struct ReceiveBufferResult {
    int effective = 0;   // SO_RCVBUF as the kernel reports it afterwards (Linux counts its overhead: about 2×)
    bool forced = false; // SO_RCVBUFFORCE worked (root / CAP_NET_ADMIN: may exceed net.core.rmem_max)
    int error = 0;       // errno of the last setsockopt that failed, 0 if the buffer was set
};

// Asks for `bytes` (0 = leave the kernel's default): SO_RCVBUFFORCE first, then SO_RCVBUF, which the kernel silently
// caps at net.core.rmem_max. Never fails the caller: the socket works with any buffer, only with more loss.
ReceiveBufferResult set_receive_buffer(int fd, uint64_t bytes) noexcept;

} // namespace dns
