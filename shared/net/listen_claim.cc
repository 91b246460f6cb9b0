#include "shared/net/listen_claim.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace shared {

namespace {

socklen_t sockaddr_len(const SocketAddress& a) {
    return a.family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// Binds a socket of `type` to `addr` without SO_REUSEPORT and closes it. *bound gets the address the kernel gave
// (the port, when addr's is 0). Returns 0 or a libuv error.
int probe(const SocketAddress& addr, int type, SocketAddress* bound) {
    int fd = socket(addr.family(), type | SOCK_CLOEXEC, 0);
    if (fd < 0) return uv_translate_sys_error(errno);
    int on = 1;
    // TCP: a connection of an earlier run in TIME_WAIT must not count as "in use" (the workers' libuv binds set
    // SO_REUSEADDR too); a listening socket still does. UDP: no SO_REUSEADDR, which would let it share.
    if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // As the workers bind it: [::] does not also take IPv4.
    if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    int rc = 0;
    if (bind(fd, addr.sa(), sockaddr_len(addr)) != 0) {
        rc = uv_translate_sys_error(errno);
    } else if (bound) {
        SocketAddress b;
        socklen_t len = sizeof b.storage;
        getsockname(fd, reinterpret_cast<sockaddr*>(&b.storage), &len);
        b.len = len;
        *bound = b;
    }
    close(fd);
    return rc;
}

// The per-address lock: an abstract Unix socket bound for the life of the process. Returns its fd, or -1 with
// errno set (EADDRINUSE: another process holds it).
int take_lock(const std::string& key) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::string name = "meridian-listen " + key; // sun_path[0] = 0: the abstract namespace
    size_t n = std::min(name.size(), sizeof sun.sun_path - 1);
    std::memcpy(sun.sun_path + 1, name.data(), n);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sun), static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n)) !=
        0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

std::string describe(const char* proto, const SocketAddress& addr, int rc) {
    std::string m = std::string("bind ") + proto + " " + addr.to_string() + ": ";
    if (rc == UV_EADDRINUSE) return m + "Address already in use - another process is serving it";
    return m + uv_strerror(rc);
}

} // namespace

ListenClaims::~ListenClaims() {
    release();
}

void ListenClaims::release() {
    for (int fd : locks_)
        close(fd);
    locks_.clear();
    keys_.clear();
}

int ListenClaims::claim(SocketAddress* addr, bool tcp, bool udp, std::string* message) {
    const bool pick = addr->port() == 0;
    // Port 0: the kernel chooses with the first probe; a port free for TCP may be taken for UDP, so try again.
    for (int attempt = 0;; attempt++) {
        SocketAddress a = *addr;
        int rc = 0;
        const char* failed = tcp ? "tcp" : "udp";
        if (tcp) rc = probe(a, SOCK_STREAM, pick ? &a : nullptr);
        if (rc == 0 && udp) {
            failed = "udp";
            rc = probe(a, SOCK_DGRAM, pick && !tcp ? &a : nullptr);
        }
        if (rc == UV_EADDRINUSE && pick && tcp && udp && attempt < 16) continue;
        if (rc != 0) {
            *message = describe(failed, a, rc);
            return rc;
        }
        // The locks, taken after the probes so a port 0 is known. Another Meridian instance that probed at the
        // same moment holds them, or will find them held.
        std::vector<int> taken;
        std::vector<std::string> keys;
        for (const char* proto : {"tcp", "udp"}) {
            if ((proto[0] == 't' && !tcp) || (proto[0] == 'u' && !udp)) continue;
            std::string key = std::string(proto) + " " + a.to_string();
            // Listed twice in one config: already ours.
            if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) {
                taken.push_back(-1);
                continue;
            }
            int fd = take_lock(key);
            if (fd < 0) {
                int e = errno;
                for (int t : taken)
                    if (t >= 0) close(t);
                if (e == EADDRINUSE) {
                    if (pick && attempt < 16) break; // a port another instance just picked: pick again
                    *message = describe(proto, a, UV_EADDRINUSE);
                    return UV_EADDRINUSE;
                }
                *message = std::string("bind ") + proto + " " + a.to_string() +
                           ": cannot take the listen lock: " + std::strerror(e);
                return uv_translate_sys_error(e);
            }
            taken.push_back(fd);
            keys.push_back(std::move(key));
        }
        if (taken.size() != static_cast<size_t>(tcp) + static_cast<size_t>(udp)) continue;
        for (int t : taken)
            if (t >= 0) locks_.push_back(t);
        keys_.insert(keys_.end(), keys.begin(), keys.end());
        *addr = a;
        return 0;
    }
}

} // namespace shared
