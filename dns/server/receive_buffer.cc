#include "dns/server/receive_buffer.h"

#include <sys/socket.h>

#include <cerrno>
#include <climits>

namespace dns {

ReceiveBufferResult set_receive_buffer(int fd, uint64_t bytes) noexcept {
    ReceiveBufferResult r;
    if (bytes > 0) {
        // The kernel doubles the value it is given and stores it in an int.
        int want = bytes > static_cast<uint64_t>(INT_MAX / 2) ? INT_MAX / 2 : static_cast<int>(bytes);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) == 0) {
            r.forced = true;
        } else if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want) != 0) {
            r.error = errno;
        }
    }
    socklen_t len = sizeof r.effective;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &r.effective, &len) != 0) r.effective = 0;
    return r;
}

} // namespace dns
