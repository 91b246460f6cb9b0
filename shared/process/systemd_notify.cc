#include "shared/process/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "shared/log/log.h"

namespace shared {

SystemdNotifier::SystemdNotifier() {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const size_t n = std::strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
        log::warn("process", "NOTIFY_SOCKET ignored: not an absolute path or @abstract name", {{"value", path}});
        return;
    }
    std::memcpy(sa.sun_path, path, n);
    if (path[0] == '@') sa.sun_path[0] = '\0';
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
        log::warn("process", "cannot reach NOTIFY_SOCKET", {{"path", path}, {"error", std::strerror(errno)}});
        ::close(fd);
        return;
    }
    fd_ = fd;
}

SystemdNotifier::~SystemdNotifier() {
    if (fd_ >= 0) ::close(fd_);
}

void SystemdNotifier::notify(std::string_view state) const {
    if (fd_ < 0) return;
    while (::send(fd_, state.data(), state.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

} // namespace shared
