#include <catch2/catch.hpp>

#include "shared/http/http_client.h"
#include "shared/http/upstream_test_support.h"
#include "shared/tls/tls_client_context.h"
#include "shared/tls/tls_test_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <fstream>
#include <optional>

using namespace upstream_test;
using namespace tls_test;
using shared::HttpError;

namespace {

std::shared_ptr<shared::TlsClientContext> make_ctx(bool with_ca, bool verify = true) {
    shared::TlsClientOptions o;
    o.verify = verify;
    if (with_ca) o.ca_file = test_cert().cert;
    std::string err;
    auto ctx = shared::TlsClientContext::create(o, &err);
    INFO(err);
    REQUIRE(ctx);
    return ctx;
}

struct Fixture {
    uv_loop_t loop{};
    std::optional<shared::Resolver> resolver;
    Fixture() {
        uv_loop_init(&loop);
        resolver.emplace(&loop);
    }
    shared::HttpClientResult fetch(shared::HttpClientOptions o) {
        shared::HttpClientResult out;
        out.status = -1;
        bool done = false;
        auto req = shared::HttpClientRequest::start(&loop, &*resolver, std::move(o),
                                                    [&](const shared::HttpClientResult& r) {
                                                        out = r;
                                                        done = true;
                                                    });
        run_until(&loop, [&] { return done; }, 5000);
        return out;
    }
    int close() {
        resolver.reset();
        return finish_loop(&loop);
    }
};

shared::HttpClientOptions https(const std::string& host, uint16_t port, std::shared_ptr<shared::TlsClientContext> c) {
    shared::HttpClientOptions o;
    o.host = host;
    o.port = port;
    o.tls = true;
    o.tls_context = std::move(c);
    o.connect_timeout_ms = o.first_byte_timeout_ms = o.idle_timeout_ms = 2000;
    return o;
}

} // namespace

TEST_CASE("tls: verified HTTPS with the test CA, SNI and ALPN http/1.1", "[shared][tls]") {
    REQUIRE(test_cert().ok);
    Seen seen;
    std::string big(200000, 'z');
    TlsServer srv("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big, &seen);
    Fixture f;
    auto o = https("localhost", srv.port(), make_ctx(true));
    o.max_body_bytes = big.size();
    auto r = f.fetch(o);
    INFO(r.detail);
    CHECK(r.error == HttpError::None);
    CHECK(r.status == 200);
    CHECK(r.body == big);
    {
        std::lock_guard<std::mutex> lk(seen.mu);
        CHECK(seen.sni == "localhost");
        CHECK(seen.alpn == "http/1.1");
        CHECK(seen.request.rfind("GET / HTTP/1.1\r\n", 0) == 0);
    }
    // An IP literal is checked against the certificate's IP SAN (and sends no SNI).
    auto r2 = f.fetch(https("127.0.0.1", srv.port(), make_ctx(true)));
    INFO(r2.detail);
    CHECK(r2.error == HttpError::None);
    {
        std::lock_guard<std::mutex> lk(seen.mu);
        CHECK(seen.sni.empty());
    }
    REQUIRE(f.close() == 0);
}

TEST_CASE("tls: an untrusted certificate fails verification", "[shared][tls]") {
    REQUIRE(test_cert().ok);
    Seen seen;
    TlsServer srv("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &seen);
    Fixture f;
    auto r = f.fetch(https("localhost", srv.port(), make_ctx(false)));  // system store only
    CHECK(r.error == HttpError::TlsError);
    CHECK(r.detail.find("certificate") != std::string::npos);
    CHECK(shared::http_error_status(r.error) == 502);
    // With verification explicitly off the same server is accepted.
    auto r2 = f.fetch(https("localhost", srv.port(), make_ctx(false, false)));
    CHECK(r2.error == HttpError::None);
    REQUIRE(f.close() == 0);
}

TEST_CASE("tls: a host name the certificate does not cover fails", "[shared][tls]") {
    REQUIRE(test_cert().ok);
    Seen seen;
    TlsServer srv("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &seen);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct H : shared::HttpResponseHandler {
        HttpError err = HttpError::None;
        bool done = false;
        void on_response_head(const shared::HttpResponseHead&) override {}
        bool on_response_body(std::string_view) override { return true; }
        void on_response_complete() override { done = true; }
        void on_response_error(HttpError e) override {
            err = e;
            done = true;
        }
    } h;
    shared::HttpConnectionOptions co;
    co.tls = make_ctx(true);
    co.tls_server_name = "other.example";
    auto* conn = shared::HttpConnection::create(&loop, loopback(srv.port()), co);
    shared::HttpHeaders headers{{"Host", "other.example"}};
    shared::HttpRequest req;
    req.headers = &headers;
    conn->send(req, &h);
    run_until(&loop, [&] { return h.done; }, 5000);
    CHECK(h.err == HttpError::TlsError);
    CHECK(conn->error_detail().find("certificate") != std::string::npos);
    conn->close();
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("tls: a plain-HTTP server behind an https origin is a TLS error", "[shared][tls]") {
    ScriptServer plain([](int fd, int) {
        wait_readable(fd, 2000);
        send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    Fixture f;
    auto r = f.fetch(https("127.0.0.1", plain.port(), make_ctx(true)));
    CHECK(r.error == HttpError::TlsError);
    REQUIRE(f.close() == 0);
}

TEST_CASE("tls: context creation reports a missing CA file", "[shared][tls]") {
    shared::TlsClientOptions o;
    o.ca_file = "/nonexistent/ca.pem";
    std::string err;
    CHECK(shared::TlsClientContext::create(o, &err) == nullptr);
    CHECK(err.find("/nonexistent/ca.pem") != std::string::npos);
}
