// dns_echo: the DNS ceiling row. It answers every UDP datagram with the same bytes and QR set, in batches
// (recvmmsg/sendmmsg) on one thread, so its rate is what the kernel's UDP path allows one core to do; no real server
// can beat it, and a server's distance from it is what its DNS logic costs.
//
// usage: dns_echo [-a ADDR] [-p PORT] [--cpu N]   (port 0 = any free port)
// Prints "dns_echo listening on ADDR:PORT" on stdout once bound, then serves until SIGTERM/SIGINT.

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr int kBatch = 64;
constexpr size_t kBuf = 4096;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage(const char* msg) {
    if (msg) std::fprintf(stderr, "dns_echo: %s\n", msg);
    std::fprintf(stderr, "usage: dns_echo [-a ADDR] [-p PORT] [--cpu N]\n");
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    std::string addr = "127.0.0.1";
    long port = 0;
    int cpu = -1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc && (a == "-a" || a == "-p" || a == "--cpu")) usage((a + " needs a value").c_str());
        char* end = nullptr;
        if (a == "-a") {
            addr = argv[++i];
        } else if (a == "-p") {
            port = std::strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535) usage("-p wants a port 0-65535");
        } else if (a == "--cpu") {
            cpu = int(std::strtol(argv[++i], &end, 10));
            if (*end || cpu < 0) usage("--cpu wants a core number");
        } else {
            usage(("unknown argument " + a).c_str());
        }
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("dns_echo: sched_setaffinity (continuing)");
    }

    sockaddr_storage ss{};
    socklen_t sl;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(uint16_t(port));
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(uint16_t(port));
        sl = sizeof *s6;
    } else {
        usage("-a wants an IPv4 or IPv6 address");
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::perror("dns_echo: socket");
        return 1;
    }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
        std::fprintf(stderr, "dns_echo: bind %s:%ld: %s\n", addr.c_str(), port, std::strerror(errno));
        return 1;
    }
    sl = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
    unsigned bound = ss.ss_family == AF_INET ? ntohs(s4->sin_port) : ntohs(s6->sin6_port);
    std::printf("dns_echo listening on %s:%u\n", addr.c_str(), bound);
    std::fflush(stdout);

    // No SA_RESTART: a signal interrupts the blocking poll so the loop sees g_stop.
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    static std::array<std::array<uint8_t, kBuf>, kBatch> bufs;
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_storage, kBatch> peers{};
    uint64_t answered = 0;
    while (!g_stop) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        for (int i = 0; i < kBatch; ++i) {
            iov[size_t(i)] = {bufs[size_t(i)].data(), kBuf};
            msgs[size_t(i)].msg_hdr = {};
            msgs[size_t(i)].msg_hdr.msg_name = &peers[size_t(i)];
            msgs[size_t(i)].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            msgs[size_t(i)].msg_hdr.msg_iov = &iov[size_t(i)];
            msgs[size_t(i)].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) continue;
        int out = 0;
        for (int i = 0; i < n; ++i) {
            size_t len = msgs[size_t(i)].msg_len;
            if (len < 12 || (bufs[size_t(i)][2] & 0x80)) continue; // not a query: RFC 1035 says drop, never reflect
            bufs[size_t(i)][2] |= 0x80;
            iov[size_t(i)].iov_len = len;
            if (out != i) {
                std::swap(bufs[size_t(out)], bufs[size_t(i)]);
                std::swap(peers[size_t(out)], peers[size_t(i)]);
                iov[size_t(out)] = {bufs[size_t(out)].data(), len};
                msgs[size_t(out)].msg_hdr.msg_namelen = msgs[size_t(i)].msg_hdr.msg_namelen;
            }
            ++out;
        }
        for (int sent = 0; sent < out;) {
            int r = sendmmsg(fd, msgs.data() + sent, unsigned(out - sent), 0);
            if (r <= 0) break; // a full send buffer drops the rest, as a real server would under overload
            sent += r;
        }
        answered += unsigned(out);
    }
    std::fprintf(stderr, "dns_echo: answered %llu queries\n", static_cast<unsigned long long>(answered));
    close(fd);
    return 0;
}
