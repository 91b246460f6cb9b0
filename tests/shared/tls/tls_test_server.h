// Test helpers for TLS: a self-signed certificate for "localhost" / 127.0.0.1 made with the openssl CLI, and an
// in-process OpenSSL server (on upstream_test::ScriptServer) that records SNI, ALPN and the request it saw.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

#include "shared/http/upstream_test_support.h"

namespace tls_test {

using upstream_test::ScriptServer;

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

inline const TestCert& test_cert() {
    static TestCert c;
    return c;
}

// What the TLS server saw from the client.
struct Seen {
    std::mutex mu;
    std::string sni, alpn, request;
    int requests = 0;     // requests answered
    int connections = 0;  // connections that completed a handshake (counted when they end)
    int resumed = 0;      // handshakes that resumed a session
};

inline int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
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

// An in-process TLS server: answers each request with `response` (one per connection unless keep_alive).
class TlsServer {
public:
    // keep_alive: answer every request on a connection (until EOF) instead of one.
    TlsServer(std::string response, Seen* seen, bool keep_alive = false)
        : response_(std::move(response)), seen_(seen), keep_alive_(keep_alive) {
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
        bool ok = SSL_accept(ssl) == 1;
        if (ok && SSL_session_reused(ssl)) {
            std::lock_guard<std::mutex> lk(seen_->mu);
            ++seen_->resumed;
        }
        while (ok) {
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                int n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, size_t(n));
            }
            if (req.find("\r\n\r\n") == std::string::npos) break;
            {
                std::lock_guard<std::mutex> lk(seen_->mu);
                ++seen_->requests;
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
            if (!keep_alive_) break;
        }
        if (ok) {
            std::lock_guard<std::mutex> lk(seen_->mu);
            ++seen_->connections;
        }
        if (ok) SSL_shutdown(ssl);
        SSL_free(ssl);
        ERR_clear_error();
    }
    std::string response_;
    Seen* seen_;
    bool keep_alive_;
    SSL_CTX* ctx_ = nullptr;
    std::optional<ScriptServer> server_;
};

} // namespace tls_test
