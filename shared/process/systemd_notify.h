// Readiness for systemd's Type=notify units: the sd_notify(3) protocol, which is one datagram of "KEY=value" lines
// to the AF_UNIX socket named by $NOTIFY_SOCKET ("@name" = abstract namespace). Written here in a few lines instead
// of linking libsystemd for one sendto(). The socket is connected when the daemon starts, while it may still be
// root, so the notifications after the switch to `user` still get through.
#pragma once

#include <string_view>

namespace shared {

class SystemdNotifier {
  public:
    SystemdNotifier(); // connects to $NOTIFY_SOCKET when it is set; otherwise every notify() is a no-op
    ~SystemdNotifier();
    SystemdNotifier(const SystemdNotifier&) = delete;
    SystemdNotifier& operator=(const SystemdNotifier&) = delete;

    bool enabled() const { return fd_ >= 0; }
    // e.g. "READY=1\nSTATUS=serving", "RELOADING=1", "STOPPING=1". Best effort: systemd may be gone.
    void notify(std::string_view state) const;

  private:
    int fd_ = -1;
};

} // namespace shared
