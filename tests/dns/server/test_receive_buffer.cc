// dns/server/receive_buffer.h on real sockets: the requested size is what the kernel then reports (root forces it
// past net.core.rmem_max; anyone else gets at most rmem_max), and 0 leaves the kernel's default alone.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "dns/server/receive_buffer.h"

using namespace dns;

namespace {
long proc_value(const char* path) {
    long v = -1;
    std::ifstream(path) >> v;
    return v;
}
int rcvbuf(int fd) {
    int v = 0;
    socklen_t len = sizeof v;
    REQUIRE(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0);
    return v;
}
struct Udp {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ~Udp() { close(fd); }
};
} // namespace

TEST_CASE("UDP receive buffer: set like NSD's so-rcvbuf, forced as root", "[dns][server][rcvbuf]") {
    Udp a;
    REQUIRE(a.fd >= 0);
    const int before = rcvbuf(a.fd);
    const long rmem_max = proc_value("/proc/sys/net/core/rmem_max");
    // Well above the default and (normally) above rmem_max, so only SO_RCVBUFFORCE can reach it.
    const uint64_t want = 16u << 20;
    auto r = set_receive_buffer(a.fd, want);
    CHECK(r.effective == rcvbuf(a.fd));
    if (geteuid() == 0) {
        CHECK(r.forced);
        CHECK(r.error == 0);
        CHECK(static_cast<uint64_t>(r.effective) >= want); // Linux reports twice the value set
    } else {
        CHECK_FALSE(r.forced);
        INFO("rmem_max " << rmem_max);
        CHECK(r.effective >= std::min<long>(static_cast<long>(want), rmem_max));
    }
    CHECK(r.effective > before);

    Udp b;
    auto d = set_receive_buffer(b.fd, 0);
    CHECK(d.effective == before);
    CHECK_FALSE(d.forced);

    Udp c;
    auto small = set_receive_buffer(c.fd, 256u << 10);
    CHECK(small.effective >= (256 << 10));
    CHECK(small.effective < static_cast<int>(want));

    auto bad = set_receive_buffer(-1, 4u << 20);
    CHECK(bad.error != 0);
    CHECK(bad.effective == 0);
}
