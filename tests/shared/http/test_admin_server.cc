#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "shared/http/admin_server.h"
#include "shared/loop/worker.h"
#include "shared/metrics/metrics.h"

namespace {
// Sends raw bytes to 127.0.0.1:port and reads until the server closes or `until` appears.
std::string roundtrip(uint16_t port, const std::string& req, const std::string& until = "") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        close(fd);
        return "connect failed";
    }
    (void)!write(fd, req.data(), req.size());
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (!until.empty() && out.find(until) != std::string::npos) break;
    }
    close(fd);
    return out;
}
} // namespace

TEST_CASE("admin server answers metrics, health, 404, 405 and bad requests, then closes cleanly",
          "[shared][http][integration]") {
    shared::MetricsRegistry metrics(1);
    auto c = metrics.counter("meridian_test_total", "A test counter.");
    metrics.inc(0, c, 42);
    std::atomic<bool> draining{false};
    shared::Worker w(0);
    std::unique_ptr<shared::AdminServer> admin;
    int rc = -1;
    uint16_t port = 0;
    REQUIRE(w.start(
        [&](shared::Worker& self) {
            admin = std::make_unique<shared::AdminServer>(self.loop(), &metrics, [&] {
                return draining ? shared::AdminResponse{503, "text/plain", "draining\n", {}}
                                : shared::AdminResponse{200, "text/plain", "ok\n", {}};
            });
            admin->add_handler([](std::string_view path, shared::AdminResponse& out) {
                if (path != "/_meridian/extra") return false;
                out.body = "extra\n";
                return true;
            });
            rc = admin->listen(*shared::parse_socket_address("127.0.0.1:0", nullptr));
            port = admin->address().port();
        },
        [&](shared::Worker&) { admin->close(); }));
    REQUIRE(rc == 0);

    auto m = roundtrip(port, "GET /_meridian/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto h = roundtrip(port, "GET /_meridian/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    draining = true;
    auto h2 = roundtrip(port, "GET /_meridian/health?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto e = roundtrip(port, "GET /_meridian/extra HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto nf = roundtrip(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto post =
        roundtrip(port, "POST /_meridian/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    auto bad = roundtrip(port, "NOT HTTP AT ALL\r\n\r\n");
    auto toolong = roundtrip(port, "GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n");
    // Two pipelined requests on one keep-alive connection are answered in order.
    auto pipe = roundtrip(port, "GET /_meridian/extra HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n"
                                "Connection: close\r\n\r\n");
    w.request_stop();
    w.join();
    admin.reset();

    CHECK(m.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(m.find("meridian_test_total 42\n") != std::string::npos);
    CHECK(h.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(h.find("\r\n\r\nok\n") != std::string::npos);
    CHECK(h2.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(h2.find("draining") != std::string::npos);
    CHECK(e.find("\r\n\r\nextra\n") != std::string::npos);
    CHECK(nf.rfind("HTTP/1.1 404", 0) == 0);
    CHECK(post.rfind("HTTP/1.1 405", 0) == 0);
    CHECK(bad.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(toolong.rfind("HTTP/1.1 414", 0) == 0);
    auto first = pipe.find("HTTP/1.1 200");
    auto second = pipe.find("HTTP/1.1 404");
    CHECK(first == 0);
    CHECK(second != std::string::npos);
    CHECK_FALSE(w.leaked_handles());
}

TEST_CASE("admin server with a token: 401 and WWW-Authenticate without it, health open, own-auth handlers asked first",
          "[shared][http][integration][token]") {
    shared::MetricsRegistry metrics(1);
    shared::Worker w(0);
    std::unique_ptr<shared::AdminServer> admin;
    int rc = -1;
    uint16_t port = 0;
    REQUIRE(w.start(
        [&](shared::Worker& self) {
            admin = std::make_unique<shared::AdminServer>(self.loop(), &metrics, nullptr);
            admin->set_token("console-token-0123456789");
            admin->add_handler([](std::string_view path, shared::AdminResponse& out) {
                if (path != "/_meridian/console") return false;
                out.body = "page\n";
                return true;
            });
            admin->add_request_handler(
                [](const shared::AdminRequest& req, shared::AdminResponse& out) {
                    if (req.path != "/_meridian/own") return false;
                    out.body = std::string("own:") + std::string(req.authorization) + "\n";
                    return true;
                },
                true);
            rc = admin->listen(*shared::parse_socket_address("127.0.0.1:0", nullptr));
            port = admin->address().port();
        },
        [&](shared::Worker&) { admin->close(); }));
    REQUIRE(rc == 0);
    auto get = [&](const std::string& path, const std::string& auth) {
        return roundtrip(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                   (auth.empty() ? "" : "Authorization: " + auth + "\r\n") + "\r\n");
    };
    auto page_none = get("/_meridian/console", "");
    auto page_wrong = get("/_meridian/console", "Bearer nope-nope-nope-nope");
    auto page_ok = get("/_meridian/console", "Bearer console-token-0123456789");
    auto metrics_none = get("/_meridian/metrics", "");
    auto missing_none = get("/nope", "");
    auto health = get("/_meridian/health", "");
    auto own = get("/_meridian/own", "Bearer other");
    w.request_stop();
    w.join();
    admin.reset();

    CHECK(page_none.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(page_none.find("WWW-Authenticate: Bearer realm=\"meridian\"\r\n") != std::string::npos);
    CHECK(page_none.find("WWW-Authenticate: Basic realm=\"meridian\"\r\n") != std::string::npos);
    CHECK(page_wrong.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(page_ok.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(page_ok.find("\r\n\r\npage\n") != std::string::npos);
    CHECK(metrics_none.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(missing_none.rfind("HTTP/1.1 401", 0) == 0); // says nothing about which paths exist
    CHECK(health.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(own.find("own:Bearer other") != std::string::npos);
    CHECK_FALSE(w.leaked_handles());
}
