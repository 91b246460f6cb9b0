// One daemon instance per listen address. The workers of an instance each bind the address with SO_REUSEPORT so
// the kernel spreads the traffic across them; but SO_REUSEPORT also lets a second process of the same user join
// the group without a word and take part of the traffic (a second instance started by mistake, a test left
// running). Before any worker binds, the main thread claims every address it will serve:
//   1. a lock named for the protocol and address, held for the life of the process: a bind on an abstract Unix
//      socket, which the kernel releases when the process dies (no file to clean up after a crash). Two Meridian
//      instances starting at the same moment cannot both take it.
//   2. a probe bind WITHOUT SO_REUSEPORT (TCP: with SO_REUSEADDR, so connections in TIME_WAIT do not count), closed
//      at once: EADDRINUSE means another process serves the address (or an overlapping one, such as 0.0.0.0 for
//      127.0.0.1), whoever it is and whether it uses SO_REUSEPORT or not, as nginx's plain bind() would report.
// Port 0 is resolved here, once: the probe's port becomes the address every worker binds, so they share it.
//
// What remains: a process that is not Meridian and binds the same port with SO_REUSEPORT between the probe and
// the workers' binds (a few milliseconds) still joins; so does one binding an overlapping address (0.0.0.0 vs
// 127.0.0.1) in that window, since the lock names the exact address.
#pragma once

#include <string>
#include <vector>

#include "shared/net/address.h"

namespace shared {

class ListenClaims {
  public:
    ListenClaims() = default;
    ~ListenClaims();
    ListenClaims(const ListenClaims&) = delete;
    ListenClaims& operator=(const ListenClaims&) = delete;

    // Claims `*addr` for TCP and/or UDP (both: the same port for each, as DNS serves). Port 0 is replaced by the
    // port chosen. Returns 0, or a libuv error code with *message saying which address and why, e.g.
    // "bind tcp 127.0.0.1:8080: address already in use - another process is serving it".
    int claim(SocketAddress* addr, bool tcp, bool udp, std::string* message);
    // Releases every claim (the addresses' sockets, once bound by the workers, stay as they are).
    void release();

  private:
    std::vector<int> locks_;
    std::vector<std::string> keys_; // "tcp 127.0.0.1:8080", one per lock held
};

} // namespace shared
