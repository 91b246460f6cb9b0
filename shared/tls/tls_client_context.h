// An OpenSSL 3 client SSL_CTX: TLS 1.2+, peer verification against the system store or a CA file, ALPN
// "http/1.1". Built once (at startup or reload), then shared read-only by every connection of any thread.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace shared {

struct TlsClientOptions {
    bool verify = true;       // verify the peer's chain and host name; false only for tests / explicit opt-out
    std::string ca_file;      // PEM bundle; empty = the system store (SSL_CTX_set_default_verify_paths)
};

class TlsClientContext {
public:
    // Returns nullptr and sets *err (naming the failing file / OpenSSL reason) on failure.
    static std::shared_ptr<TlsClientContext> create(const TlsClientOptions& opts, std::string* err);
    ~TlsClientContext();
    TlsClientContext(const TlsClientContext&) = delete;
    TlsClientContext& operator=(const TlsClientContext&) = delete;

    SSL_CTX* ctx() const { return ctx_; }
    bool verify() const { return verify_; }

private:
    TlsClientContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
    SSL_CTX* ctx_;
    bool verify_;
};

} // namespace shared
