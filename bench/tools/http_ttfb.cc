// http_ttfb: time to first byte of requests made one after another, each on a new connection, as
// `curl -w '%{time_starttransfer} %{speed_download}'` measures it: from before the connect to the first byte of the
// response, and the download speed of the whole response. It replaces a loop of curl processes in the miss TTFB
// rows: every curl run is a fork, an exec and the loading of libcurl and OpenSSL, several milliseconds of CPU that
// land on either core, so the loop measured the scheduler as much as the server.
//
// usage: http_ttfb -p PORT [-a ADDR] -n RUNS --prefix PATH_PREFIX [--timeout SECONDS]
// Requests PATH_PREFIX<i> for i = 1..RUNS with `Connection: close` and reads to the end. Prints one line per
// response that completed with status 200: "<ttfb seconds> <bytes per second>". Exits 1 if any request failed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void usage(const char* msg) {
    if (msg) std::fprintf(stderr, "http_ttfb: %s\n", msg);
    std::fprintf(stderr, "usage: http_ttfb -p PORT [-a ADDR] -n RUNS --prefix PATH_PREFIX [--timeout SECONDS]\n");
    std::exit(2);
}

double now_s() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Waits until fd is ready for `events` or the deadline passes.
bool wait_fd(int fd, short events, double deadline) {
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

struct Sample {
    double ttfb = 0;
    double total = 0;
    size_t bytes = 0;
    bool ok = false;
};

Sample fetch(const sockaddr_in& addr, const std::string& request, double timeout) {
    Sample s;
    double t0 = now_s(), deadline = t0 + timeout;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return s;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        close(fd);
        return s;
    }
    if (!wait_fd(fd, POLLOUT, deadline) ||
        send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        close(fd);
        return s;
    }
    char buf[64 * 1024];
    std::string head;
    bool first = true;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (first) {
                s.ttfb = now_s() - t0;
                first = false;
            }
            if (head.size() < 16) head.append(buf, static_cast<size_t>(std::min<ssize_t>(n, 16)));
            s.bytes += static_cast<size_t>(n);
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_fd(fd, POLLIN, deadline)) {
            close(fd);
            return s;
        }
    }
    s.total = now_s() - t0;
    close(fd);
    s.ok = head.rfind("HTTP/1.1 200", 0) == 0 || head.rfind("HTTP/1.0 200", 0) == 0;
    return s;
}

} // namespace

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 0;
    long runs = 0;
    double timeout = 10;
    std::string prefix;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) usage(("missing value for " + a).c_str());
        const char* v = argv[++i];
        if (a == "-a")
            host = v;
        else if (a == "-p")
            port = std::atoi(v);
        else if (a == "-n")
            runs = std::atol(v);
        else if (a == "--prefix")
            prefix = v;
        else if (a == "--timeout")
            timeout = std::atof(v);
        else
            usage(("unknown option " + a).c_str());
    }
    if (port <= 0 || port > 65535 || runs <= 0 || prefix.empty() || prefix[0] != '/' || timeout <= 0) usage(nullptr);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage("-a must be an IPv4 address");

    int failed = 0;
    for (long i = 1; i <= runs; ++i) {
        std::string req = "GET " + prefix + std::to_string(i) + " HTTP/1.1\r\nHost: " + host +
                          "\r\nUser-Agent: http_ttfb\r\nConnection: close\r\n\r\n";
        Sample s = fetch(addr, req, timeout);
        if (!s.ok) {
            ++failed;
            continue;
        }
        std::printf("%.6f %.0f\n", s.ttfb, s.total > 0 ? static_cast<double>(s.bytes) / s.total : 0.0);
    }
    if (failed) std::fprintf(stderr, "http_ttfb: %d of %ld requests failed\n", failed, runs);
    return failed ? 1 : 0;
}
