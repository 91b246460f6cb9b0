// HttpServer + ClientConn on a real loop (port 0, loopback): pipelined responses in order even when the handler
// answers later, header timeout → 408, a client that stops reading gets backpressure (congested) without
// blocking others, and shutdown leaves no handle behind (uv_loop_close succeeds).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "edge/server/http_server.h"
#include "shared/net/address.h"
#include "shared/net/deferred_accept.h"
#include "shared/net/source_limit.h"
#include "support/accept_burst.h"
#include "support/loopback_client.h"

using namespace edge;

namespace {

// Answers "/slow" 50 ms later (through a timer), everything else at once; "/big" streams 8 MiB with backpressure.
class TestHandler final : public RequestHandler {
  public:
    explicit TestHandler(uv_loop_t* loop) : loop_(loop) {}
    void handle(Viewer& conn, const HttpRequest& req) override {
        std::string path(req.path);
        if (path == "/slow") {
            auto* t = new uv_timer_t;
            uv_timer_init(loop_, t);
            t->data = new Pending{&conn, req.keep_alive};
            uv_timer_start(
                t,
                [](uv_timer_t* h) noexcept {
                    auto* p = static_cast<Pending*>(h->data);
                    reply(*p->conn, "/slow", p->keep_alive);
                    delete p;
                    uv_close(reinterpret_cast<uv_handle_t*>(h),
                             [](uv_handle_t* x) noexcept { delete reinterpret_cast<uv_timer_t*>(x); });
                },
                50, 0);
            return;
        }
        if (path == "/big") {
            // Pushes without waiting for on_writable: congested() must turn true at the configured bound.
            std::string& h = conn.head_buffer();
            h = "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n";
            conn.write(h);
            std::string chunk(1 << 16, 'x');
            for (int i = 0; i < 128; ++i) {
                conn.write_copy(chunk);
                if (conn.congested()) saw_congestion = true;
            }
            conn.end_response(req.keep_alive);
            return;
        }
        if (path == "/multi") {
            // Six buffers by reference (more than libuv keeps inline), larger than the socket takes at once:
            // whatever the direct write leaves must be queued from the exact byte where it stopped.
            const std::string& b = pattern();
            static const size_t cuts[] = {0, 1, 4097, 65536, 1 << 20, (3 << 20) + 7, b.size()};
            std::string& h = conn.head_buffer();
            h = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(b.size()) + "\r\n\r\n";
            conn.write(h);
            OutBuf bufs[6];
            for (int i = 0; i < 6; ++i)
                bufs[i] = OutBuf{b.data() + cuts[i], cuts[i + 1] - cuts[i]};
            conn.write(bufs, 6);
            conn.end_response(req.keep_alive);
            return;
        }
        if (path == "/file" || path == "/file+tail") {
            // The body's file holds file_pattern() and the memory beside it the same with every bit flipped, so
            // the client can tell for each byte whether it came by sendfile or from the memory fallback.
            bool tail = path == "/file+tail";
            const std::string& mem = flipped();
            std::string& h = conn.head_buffer();
            h = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(mem.size() + (tail ? 4 : 0)) + "\r\n\r\n";
            OutBuf hb{h.data(), h.size()};
            conn.write_file(&hb, 1, FileSpan{pattern_file(), 0, mem.data(), mem.size()});
            if (tail) conn.write("TAIL");
            conn.end_response(req.keep_alive);
            return;
        }
        reply(conn, path, req.keep_alive);
    }
    // 16 MiB of a pattern that shows a skipped, repeated or reordered byte: more than loopback queues from one
    // sendfile call (about 4 MiB here).
    static const std::string& file_pattern() {
        static const std::string p = [] {
            std::string s(16 << 20, '\0');
            for (size_t i = 0; i < s.size(); ++i)
                s[i] = static_cast<char>((i * 7 + i / 251) % 256);
            return s;
        }();
        return p;
    }
    static const std::string& flipped() {
        static const std::string f = [] {
            std::string s = file_pattern();
            for (char& c : s)
                c = static_cast<char>(~c);
            return s;
        }();
        return f;
    }
    static int pattern_file() {
        static const int fd = [] {
            int f = memfd_create("test-body", MFD_CLOEXEC);
            const std::string& p = file_pattern();
            REQUIRE(::write(f, p.data(), p.size()) == static_cast<ssize_t>(p.size()));
            return f;
        }();
        return fd;
    }
    // 4 MiB of a pattern that shows a skipped, repeated or reordered byte.
    static const std::string& pattern() {
        static const std::string p = file_pattern().substr(0, 4 << 20);
        return p;
    }
    void reject(Viewer& conn, int status, const char*) override {
        std::string& h = conn.head_buffer();
        h = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        conn.write(h);
        conn.end_response(false);
    }
    static void reply(Viewer& conn, const std::string& path, bool keep_alive) {
        std::string& h = conn.head_buffer();
        h = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(path.size()) + "\r\n\r\n" + path;
        conn.write(h);
        conn.end_response(keep_alive);
    }
    std::atomic<bool> saw_congestion{false};

  private:
    struct Pending {
        Viewer* conn;
        bool keep_alive;
    };
    uv_loop_t* loop_;
};

struct ServerThread {
    uv_loop_t loop{};
    uv_async_t stop{};
    ConnSettings settings;
    uint32_t max_conns = 100;
    uint32_t per_address = 0;
    std::unique_ptr<shared::SourceConnLimit> sources;
    std::unique_ptr<TestHandler> handler;
    std::unique_ptr<HttpServer> server;
    std::thread thread;
    std::atomic<int> port{0};
    int close_rc = -1;

    // `per_address_limit` > 0: connections per client address are limited (and counted in `sources`).
    explicit ServerThread(uint32_t max_connections = 100, uint64_t keepalive_ms = 60'000,
                          uint32_t per_address_limit = 0) {
        max_conns = max_connections;
        per_address = per_address_limit;
        if (per_address) sources = std::make_unique<shared::SourceConnLimit>(1000);
        settings.header_timeout_ms = 300;
        settings.keepalive_timeout_ms = keepalive_ms;
        settings.client_buffer_bytes = 64 << 10;
        uv_loop_init(&loop);
        handler = std::make_unique<TestHandler>(&loop);
        server = std::make_unique<HttpServer>(&loop, handler.get(), &settings, &max_conns, &per_address, sources.get());
        std::string err;
        auto addr = shared::parse_socket_address("127.0.0.1:0", &err);
        REQUIRE(addr);
        REQUIRE(server->listen(*addr) == 0);
        port = server->addresses().at(0).port();
        stop.data = this;
        uv_async_init(&loop, &stop, [](uv_async_t* a) noexcept {
            auto* s = static_cast<ServerThread*>(a->data);
            s->server->shutdown(1000, nullptr, [] {});
            uv_close(reinterpret_cast<uv_handle_t*>(&s->stop), nullptr);
        });
        thread = std::thread([this] {
            uv_run(&loop, UV_RUN_DEFAULT);
            close_rc = uv_loop_close(&loop);
        });
    }
    void finish() {
        uv_async_send(&stop);
        thread.join();
    }
};

// A connection to the test server; `rcvbuf` > 0 shrinks its receive buffer so the server's writes stop part-way.
int connect_to(int port, int rcvbuf = 0) {
    int fd = test_support::connect_loopback(port);
    if (fd < 0) return -1;
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return fd;
}

// A connection to the test server from another loopback address (127.0.0.2).
int connect_from(const char* ip, int port) {
    int fd = test_support::connect_loopback(port, ip);
    if (fd < 0) return -1;
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

shared::PeerAddress ipv4(const char* ip) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.sin_addr);
    shared::PeerAddress p;
    shared::PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&a), &p);
    return p;
}

// Waits (up to 3 s) for the server thread to bring the address's count to `want`.
bool count_becomes(const shared::SourceConnLimit& l, const char* ip, uint32_t want) {
    for (int i = 0; i < 300; ++i) {
        if (l.count(ipv4(ip)) == want) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

std::string read_until(int fd, size_t want_bytes) {
    std::string out;
    char buf[65536];
    while (out.size() < want_bytes) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

void send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

} // namespace

TEST_CASE("pipelined responses leave in request order even when the first is answered later", "[edge][server]") {
    ServerThread st;
    int fd = connect_to(st.port);
    REQUIRE(fd >= 0);
    send_all(
        fd,
        "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string want = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n/slow"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/b"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/c";
    std::string got = read_until(fd, want.size());
    close(fd);
    st.finish();
    CHECK(got == want);
    CHECK(st.close_rc == 0);
}

TEST_CASE("headers that do not arrive in time get 408 and a close", "[edge][server]") {
    ServerThread st;
    int fd = connect_to(st.port);
    REQUIRE(fd >= 0);
    auto t0 = std::chrono::steady_clock::now();
    send_all(fd, "GET / HTTP/1.1\r\nHost: a\r\nX-Slow");
    std::string got = read_until(fd, 1 << 20); // until close
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    close(fd);
    st.finish();
    CHECK(got.rfind("HTTP/1.1 408", 0) == 0);
    CHECK(ms >= 250);
    CHECK(ms < 3000);
    CHECK(st.close_rc == 0);
}

TEST_CASE("a client that does not read is congested alone", "[edge][server]") {
    ServerThread st;
    int slow = connect_to(st.port, 4096); // a small window: the server's writes stop part-way
    REQUIRE(slow >= 0);
    send_all(slow, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int other = connect_to(st.port);
    REQUIRE(other >= 0);
    send_all(other, "GET /quick HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    std::string got = read_until(other, 1 << 20);
    close(other);
    close(slow);
    st.finish();
    CHECK(got == "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n/quick");
    CHECK(st.handler->saw_congestion.load());
    CHECK(st.close_rc == 0);
}

TEST_CASE("bad requests are rejected with the parser's status and the connection closes", "[edge][server]") {
    ServerThread st;
    int fd = connect_to(st.port);
    REQUIRE(fd >= 0);
    send_all(fd, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string got = read_until(fd, 1 << 20);
    close(fd);
    st.finish();
    CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(st.close_rc == 0);
}

TEST_CASE("at max_connections a new connection closes an idle one, else it is closed at once", "[edge][server]") {
    ServerThread st(1);
    int first = connect_to(st.port);
    REQUIRE(first >= 0);
    send_all(first, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string a = read_until(first, 39);
    // The first is idle between requests: the second takes its place (nginx reuses keep-alive connections so).
    int second = connect_to(st.port);
    REQUIRE(second >= 0);
    send_all(second, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string b = read_until(second, 39);
    std::string first_rest = read_until(first, 1 << 20); // closed by the server, without another byte
    // The second is mid-request (half a head): not idle, so a third is the one turned away.
    send_all(second, "GET /c HTTP/1.1\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int third = connect_to(st.port);
    REQUIRE(third >= 0);
    send_all(third, "GET /d HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string d = read_until(third, 1 << 20); // closed without an answer
    send_all(second, "Host: a\r\n\r\n");
    std::string c = read_until(second, 39);
    close(third);
    close(second);
    close(first);
    st.finish();
    CHECK(a == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/a");
    CHECK(b == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/b");
    CHECK(first_rest.empty());
    CHECK(d.empty());
    CHECK(c == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/c");
    CHECK(st.close_rc == 0);
}

TEST_CASE("over max_connections_per_address a new connection is closed at once; another address is served",
          "[edge][server]") {
    ServerThread st(100, 60'000, 2);
    const uint64_t refused0 = conn_limit_stats().refused_per_address.load();
    const std::string ok_a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/a";
    int a = connect_to(st.port), b = connect_to(st.port);
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    send_all(a, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(read_until(a, ok_a.size()) == ok_a);
    send_all(b, "GET /b HTTP/1.1\r\n"); // half a head: held open
    CHECK(count_becomes(*st.sources, "127.0.0.1", 2));
    int c = connect_to(st.port);
    REQUIRE(c >= 0);
    send_all(c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(read_until(c, 1 << 20).empty()); // closed without an answer
    close(c);
    CHECK(conn_limit_stats().refused_per_address.load() == refused0 + 1);
    int other = connect_from("127.0.0.2", st.port);
    REQUIRE(other >= 0);
    send_all(other, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(read_until(other, ok_a.size()) == ok_a);
    CHECK(st.sources->count(ipv4("127.0.0.2")) == 1);
    close(other);
    // The viewer closing gives its place back: a new connection from 127.0.0.1 is served.
    close(a);
    CHECK(count_becomes(*st.sources, "127.0.0.1", 1));
    int d = connect_to(st.port);
    REQUIRE(d >= 0);
    send_all(d, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(read_until(d, ok_a.size()) == ok_a);
    close(d);
    close(b);
    CHECK(count_becomes(*st.sources, "127.0.0.1", 0));
    CHECK(count_becomes(*st.sources, "127.0.0.2", 0));
    st.finish();
    CHECK(st.close_rc == 0);
    CHECK(st.sources->addresses() == 0);
}

TEST_CASE("a connection's per-address count is given back whatever closes it", "[edge][server]") {
    // A count that leaked would lock the address out for good: every way the server closes a connection is tried.
    ServerThread st(3, 60'000, 10);
    const auto& l = *st.sources;
    // Header timeout (300 ms): 408 and close.
    int t = connect_to(st.port);
    REQUIRE(t >= 0);
    send_all(t, "GET /a HTTP/1.1\r\n");
    CHECK(count_becomes(l, "127.0.0.1", 1));
    CHECK(read_until(t, 1 << 20).rfind("HTTP/1.1 408", 0) == 0);
    close(t);
    CHECK(count_becomes(l, "127.0.0.1", 0));
    // A request the parser rejects: 400 and close.
    int bad = connect_to(st.port);
    REQUIRE(bad >= 0);
    send_all(bad, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(read_until(bad, 1 << 20).rfind("HTTP/1.1 400", 0) == 0);
    close(bad);
    CHECK(count_becomes(l, "127.0.0.1", 0));
    // The viewer resets the connection mid-request.
    int rst = connect_to(st.port);
    REQUIRE(rst >= 0);
    send_all(rst, "GET /a HTTP/1.1\r\n");
    CHECK(count_becomes(l, "127.0.0.1", 1));
    linger lg{1, 0};
    setsockopt(rst, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(rst);
    CHECK(count_becomes(l, "127.0.0.1", 0));
    // max_connections (3): a fourth connection closes the longest-idle one, and the count follows.
    std::vector<int> idle;
    const std::string ok_a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/a";
    for (int i = 0; i < 4; ++i) {
        int fd = connect_to(st.port);
        REQUIRE(fd >= 0);
        send_all(fd, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(read_until(fd, ok_a.size()) == ok_a);
        idle.push_back(fd);
    }
    CHECK(read_until(idle[0], 1 << 20).empty()); // reclaimed
    CHECK(count_becomes(l, "127.0.0.1", 3));
    // Three busy ones (half a head each): a fifth is refused at max_connections, and counts nothing.
    for (int fd : idle)
        send_all(fd, "GET /b HTTP/1.1\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int fifth = connect_to(st.port);
    REQUIRE(fifth >= 0);
    send_all(fifth, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(read_until(fifth, 1 << 20).empty());
    close(fifth);
    CHECK(count_becomes(l, "127.0.0.1", 3));
    // Shutdown closes the rest (their headers would time out too, so it comes first: 300 ms).
    st.finish();
    for (int fd : idle)
        close(fd);
    CHECK(l.count(ipv4("127.0.0.1")) == 0);
    CHECK(l.addresses() == 0);
    CHECK(st.close_rc == 0);
}

TEST_CASE("a busy keep-alive connection outlives the idle timeout and closes once idle for it", "[edge][server]") {
    ServerThread st(100, 400);
    int fd = connect_to(st.port);
    REQUIRE(fd >= 0);
    // 10 requests 100 ms apart span 1 s, well past the 400 ms idle timeout: activity must keep the connection.
    std::string want = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/k";
    int answered = 0;
    for (int i = 0; i < 10; ++i) {
        send_all(fd, "GET /k HTTP/1.1\r\nHost: a\r\n\r\n");
        if (read_until(fd, want.size()) == want) ++answered;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto t0 = std::chrono::steady_clock::now();
    std::string rest = read_until(fd, 1 << 20); // until the idle close
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    close(fd);
    st.finish();
    CHECK(answered == 10);
    CHECK(rest.empty());
    CHECK(ms >= 200); // 400 ms after the last response, of which 100 ms were slept already
    CHECK(ms < 3000);
    CHECK(st.close_rc == 0);
}

TEST_CASE("after keep-alive requests, a stalled header still gets 408 at the header timeout", "[edge][server]") {
    ServerThread st; // idle timeout 60 s, header timeout 300 ms: the shorter deadline must win
    int fd = connect_to(st.port);
    REQUIRE(fd >= 0);
    std::string want = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/k";
    send_all(fd, "GET /k HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string first = read_until(fd, want.size());
    auto t0 = std::chrono::steady_clock::now();
    send_all(fd, "GET /k HTTP/1.1\r\nHost: a\r\nX-Slow");
    std::string got = read_until(fd, 1 << 20);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    close(fd);
    st.finish();
    CHECK(first == want);
    CHECK(got.rfind("HTTP/1.1 408", 0) == 0);
    CHECK(ms >= 250);
    CHECK(ms < 3000);
    CHECK(st.close_rc == 0);
}

TEST_CASE("a large response by reference arrives intact when the socket takes it in parts", "[edge][server]") {
    ServerThread st;
    int fd = connect_to(st.port, 65536); // a small window: the server's writes stop part-way
    REQUIRE(fd >= 0);
    // Two in a row: the second starts while nothing is queued again, on the same connection.
    send_all(fd, "GET /multi HTTP/1.1\r\nHost: a\r\n\r\nGET /multi HTTP/1.1\r\nHost: a\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // let the server hit a full socket
    const std::string& body = TestHandler::pattern();
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    std::string want = head + body + head + body;
    std::string got = read_until(fd, want.size());
    close(fd);
    st.finish();
    REQUIRE(got.size() == want.size());
    CHECK(got.substr(0, head.size()) == head);
    size_t first_diff = std::mismatch(got.begin(), got.end(), want.begin()).first - got.begin();
    CHECK(first_diff == want.size()); // an offset, not an 8 MiB dump, when a byte is wrong
    CHECK(st.close_rc == 0);
}

namespace {

// How a file-backed body arrived: every byte must be at its place, from the file (sendfile) or from memory.
struct FileBodyBytes {
    bool in_place = true;
    size_t from_file = 0;
    size_t from_memory = 0;
    bool file_after_memory = false; // sendfile resumed after a byte had gone from memory
};

FileBodyBytes classify(std::string_view got) {
    const std::string& p = TestHandler::file_pattern();
    const std::string& m = TestHandler::flipped();
    FileBodyBytes r;
    if (got.size() != p.size()) r.in_place = false;
    for (size_t i = 0; i < got.size() && i < p.size(); ++i) {
        if (got[i] == p[i]) {
            ++r.from_file;
            if (r.from_memory) r.file_after_memory = true;
        } else if (got[i] == m[i]) {
            ++r.from_memory;
        } else {
            r.in_place = false;
        }
    }
    return r;
}

std::string file_head(size_t extra = 0) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(TestHandler::file_pattern().size() + extra) +
           "\r\n\r\n";
}

} // namespace

TEST_CASE("a file-backed body goes by sendfile, and on a full socket resumes from the file after one byte",
          "[edge][server]") {
    ServerThread st;
    int fd = connect_to(st.port, 65536); // a small window: the server's writes stop part-way
    REQUIRE(fd >= 0);
    send_all(fd, "GET /file HTTP/1.1\r\nHost: a\r\n\r\nGET /file HTTP/1.1\r\nHost: a\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // let the server hit a full socket
    std::string head = file_head();
    size_t n = TestHandler::file_pattern().size();
    std::string got = read_until(fd, 2 * (head.size() + n));
    close(fd);
    st.finish();
    REQUIRE(got.size() == 2 * (head.size() + n));
    for (int i = 0; i < 2; ++i) {
        std::string_view one = std::string_view(got).substr(i * (head.size() + n), head.size() + n);
        CHECK(one.substr(0, head.size()) == head);
        FileBodyBytes b = classify(one.substr(head.size()));
        CHECK(b.in_place);
        CHECK(b.from_memory < n / 64); // a probe byte per stall at most, never the body
        if (i == 0) {
            // The first meets the small window before the client reads (the second may fit the socket buffer
            // that has grown by then).
            CHECK(b.from_memory >= 1);  // the probe byte that waited for room
            CHECK(b.file_after_memory); // ... and sendfile went on after it
        } else {
            CHECK(b.from_file > 0);
        }
    }
    CHECK(st.close_rc == 0);
}

TEST_CASE("bytes written after a stalled file send follow it in order, the rest of the body going from memory",
          "[edge][server]") {
    ServerThread st;
    int fd = connect_to(st.port, 65536); // a small window: the server's writes stop part-way
    REQUIRE(fd >= 0);
    send_all(fd, "GET /file+tail HTTP/1.1\r\nHost: a\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string head = file_head(4);
    size_t n = TestHandler::file_pattern().size();
    std::string got = read_until(fd, head.size() + n + 4);
    close(fd);
    st.finish();
    REQUIRE(got.size() == head.size() + n + 4);
    CHECK(got.substr(0, head.size()) == head);
    FileBodyBytes b = classify(std::string_view(got).substr(head.size(), n));
    CHECK(b.in_place);
    CHECK(b.from_file > 0);
    CHECK(!b.file_after_memory); // once the tail is queued, the rest of the body is queued from memory before it
    CHECK(got.substr(head.size() + n) == "TAIL");
    CHECK(st.close_rc == 0);
}

TEST_CASE("deferred accept: a request that came with the connection is answered in the loop turn that accepts it",
          "[edge][server]") {
    // One loop turn on this thread: the listener is readable only once the request is in the socket (TCP_DEFER_ACCEPT),
    // and the connection reads it at its accept, so the answer and the close are written before the turn ends; a
    // connection that waited for epoll to report its input would need a second turn.
    uv_loop_t loop;
    uv_loop_init(&loop);
    TestHandler handler(&loop);
    ConnSettings settings;
    uint32_t max_conns = 100;
    auto server = std::make_unique<HttpServer>(&loop, &handler, &settings, &max_conns);
    auto addr = shared::parse_socket_address("127.0.0.1:0", nullptr);
    REQUIRE(addr);
    REQUIRE(server->listen(*addr, nullptr, true) == 0);
    int fd = connect_to(server->addresses().at(0).port());
    REQUIRE(fd >= 0);
    send_all(fd, "GET /now HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    uv_run(&loop, UV_RUN_ONCE);
    std::string got;
    char buf[512];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
            if (n == 0) got += "<EOF>";
            break;
        }
        got.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    server->shutdown(0, nullptr, [] {});
    uv_run(&loop, UV_RUN_DEFAULT);
    server.reset();
    CHECK(got == "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n/now<EOF>");
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("deferred accept: of a burst of new connections, only the turn's budget is answered at the accept",
          "[edge][server]") {
    // libuv accepts the whole queue in one turn; answering every connection there would let a stream of
    // one-request clients hold the worker in its accept loop. The rest wait for epoll, and all are answered.
    uv_loop_t loop;
    uv_loop_init(&loop);
    TestHandler handler(&loop);
    ConnSettings settings;
    uint32_t max_conns = 1000;
    auto server = std::make_unique<HttpServer>(&loop, &handler, &settings, &max_conns);
    auto addr = shared::parse_socket_address("127.0.0.1:0", nullptr);
    REQUIRE(addr);
    REQUIRE(server->listen(*addr, nullptr, true) == 0);
    int port = server->addresses().at(0).port();
    const unsigned bound = shared::kEagerReadsPerTurn, burst = bound + bound / 2;
    const std::string request = "GET /now HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    test_support::AcceptBurst b;
    REQUIRE(b.open(port, burst, request.data(), request.size()));

    CHECK(b.run_turn(&loop) == bound);
    CHECK(b.queued() == 0);
    CHECK(b.run_until_answered(&loop) == burst);
    for (int fd : b.clients)
        CHECK(read_until(fd, 1 << 20) == "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n/now");
    server->shutdown(0, nullptr, [] {});
    uv_run(&loop, UV_RUN_DEFAULT);
    server.reset();
    CHECK(uv_loop_close(&loop) == 0);
}
