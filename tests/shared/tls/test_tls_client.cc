#include <catch2/catch.hpp>

#include "shared/http/http_client.h"
#include "shared/http/upstream_test_support.h"
#include "shared/tls/tls_client_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <fstream>
#include <optional>

using namespace upstream_test;
using shared::HttpError;

namespace {

// A self-signed certificate for "localhost" and 127.0.0.1, made once per test run with the openssl CLI.
struct TestCert {
    std::string dir, cert, key;
    bool ok = false;
    TestCert() {
        char tmpl[] = "/tmp/meridian-tls-XXXXXX";
        if (!mkdtemp(tmpl)) return;
        dir = tmpl;
        cert = dir + "/cert.pem";
        key = dir + "/key.pem";
        std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                          key + " -out " + cert +
                          " -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
                          " >/dev/null 2>&1";
        ok = std::system(cmd.c_str()) == 0;
    }
    ~TestCert() {
        if (!dir.empty()) std::system(("rm -rf " + dir).c_str());
    }
};

const TestCert& test_cert() {
    static TestCert c;
    return c;
}

// What the TLS server saw from the client.
struct Seen {
    std::mutex mu;
    std::string sni, alpn, request;
    int handshakes_ok = 0;
};

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
    auto* seen = static_cast<Seen*>(arg);
    {
        std::lock_guard<std::mutex> lk(seen->mu);
        // Wire format: length-prefixed names; record the first.
        if (inlen > 0) seen->alpn.assign(reinterpret_cast<const char*>(in + 1), std::min<unsigned>(in[0], inlen - 1));
    }
    static const unsigned char h11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* sel = nullptr;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof h11, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

// An in-process TLS server: every connection gets `response` after one request.
class TlsServer {
public:
    TlsServer(std::string response, Seen* seen) : response_(std::move(response)), seen_(seen) {
        ctx_ = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate_chain_file(ctx_, test_cert().cert.c_str());
        SSL_CTX_use_PrivateKey_file(ctx_, test_cert().key.c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_set_alpn_select_cb(ctx_, alpn_select, seen_);
        server_.emplace([this](int fd, int) { serve(fd); });
    }
    ~TlsServer() {
        server_.reset();
        SSL_CTX_free(ctx_);
    }
    uint16_t port() const { return server_->port(); }

private:
    void serve(int fd) {
        SSL* ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                int n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, size_t(n));
            }
            {
                std::lock_guard<std::mutex> lk(seen_->mu);
                ++seen_->handshakes_ok;
                const char* sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
                seen_->sni = sn ? sn : "";
                seen_->request = req;
            }
            std::string_view out = response_;
            while (!out.empty()) {
                int n = SSL_write(ssl, out.data(), int(std::min<size_t>(out.size(), 16384)));
                if (n <= 0) break;
                out.remove_prefix(size_t(n));
            }
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        ERR_clear_error();
    }
    std::string response_;
    Seen* seen_;
    SSL_CTX* ctx_ = nullptr;
    std::optional<ScriptServer> server_;
};

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
