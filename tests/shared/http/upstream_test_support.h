// Test helpers for the HTTP client, resolver, TLS and origin pool tests: a scripted plain-socket server on a
// loopback port (one thread per accepted connection, each running a script), and loop runners that bound the
// time a test may take. Assertions stay on the test thread: scripts only record into atomics.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shared/loop/worker.h"
#include "shared/net/address.h"

namespace upstream_test {

inline shared::SocketAddress loopback(uint16_t port) {
    shared::SocketAddress a;
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.len = sizeof(sockaddr_in);
    return a;
}

// Writes everything (ignoring EPIPE: the client may have gone away, which some tests want).
inline bool send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        s.remove_prefix(size_t(n));
    }
    return true;
}

// Waits up to timeout_ms for readability; false on timeout.
inline bool wait_readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

// Reads one request (head plus a Content-Length body). Returns "" on EOF/timeout.
inline std::string read_request(int fd, int timeout_ms = 5000) {
    std::string buf;
    char tmp[16384];
    size_t need = std::string::npos;
    for (;;) {
        size_t hdr_end = buf.find("\r\n\r\n");
        if (hdr_end != std::string::npos && need == std::string::npos) {
            need = hdr_end + 4;
            size_t cl = buf.find("Content-Length: ");
            if (cl != std::string::npos && cl < hdr_end) need += std::stoul(buf.substr(cl + 16));
        }
        if (need != std::string::npos && buf.size() >= need) return buf;
        if (!wait_readable(fd, timeout_ms)) return "";
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return "";
        buf.append(tmp, size_t(n));
    }
}

// A TCP server on 127.0.0.1:<ephemeral>. Each accepted connection runs `script(fd, index)` on its own
// thread; the server closes the fd after the script returns.
class ScriptServer {
public:
    using Script = std::function<void(int fd, int index)>;
    explicit ScriptServer(Script script, int backlog = 64) : script_(std::move(script)) {
        lfd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int on = 1;
        ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        auto a = loopback(0);
        ::bind(lfd_, a.sa(), a.len);
        ::listen(lfd_, backlog);
        sockaddr_in got{};
        socklen_t len = sizeof got;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&got), &len);
        port_ = ntohs(got.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~ScriptServer() {
        stop_ = true;
        acceptor_.join();
        {
            std::lock_guard<std::mutex> lk(mu_);
            for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // unblock scripts still reading
        }
        for (auto& t : threads_) t.join();
        ::close(lfd_);
    }
    uint16_t port() const { return port_; }
    shared::SocketAddress address() const { return loopback(port_); }
    int accepted() const { return accepted_.load(); }

private:
    void accept_loop() {
        while (!stop_) {
            if (!wait_readable(lfd_, 20)) continue;
            int fd = ::accept(lfd_, nullptr, nullptr);
            if (fd < 0) continue;
            int index = accepted_.fetch_add(1);
            std::lock_guard<std::mutex> lk(mu_);
            fds_.push_back(fd);
            threads_.emplace_back([this, fd, index] {
                script_(fd, index);
                ::close(fd);
            });
        }
    }
    Script script_;
    int lfd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
};

// A port nobody listens on (bound then closed), for "refused".
inline uint16_t closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto a = loopback(0);
    ::bind(fd, a.sa(), a.len);
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len);
    ::close(fd);
    return ntohs(got.sin_port);
}

// Runs the loop until pred() is true or limit_ms passed. Returns pred().
inline bool run_until(uv_loop_t* loop, const std::function<bool()>& pred, uint64_t limit_ms = 5000) {
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, [](uv_timer_t*) {}, 5, 5);  // makes UV_RUN_ONCE return regularly
    auto start = std::chrono::steady_clock::now();
    while (!pred()) {
        if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(limit_ms)) break;
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred();
}

// Runs the loop for about ms milliseconds.
inline void run_for(uv_loop_t* loop, uint64_t ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    run_until(loop, [&] { return std::chrono::steady_clock::now() >= end; }, ms + 1000);
}

// libuv's MAKE_VALGRIND_HAPPY: let pending closes finish, then the loop must close cleanly (0). A leaked
// handle makes this non-zero (and is then swept so the next test starts clean).
inline int finish_loop(uv_loop_t* loop) {
    for (int i = 0; i < 50; ++i) uv_run(loop, UV_RUN_NOWAIT);
    int rc = uv_loop_close(loop);
    if (rc != 0) shared::close_loop(loop);
    return rc;
}

} // namespace upstream_test
