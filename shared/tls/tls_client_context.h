// An OpenSSL 3 client SSL_CTX: TLS 1.2+, peer verification against the system store or a CA file, ALPN
// "http/1.1". Built once (at startup or reload), then shared by every connection of any thread. It also keeps
// the latest TLS session per origin (name:port) so that new connections resume instead of doing a full
// handshake; that small cache is the only mutable state and takes a mutex (connection setup only).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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

    // The session to resume for `key` (a new reference the caller frees), or nullptr.
    SSL_SESSION* find_session(const std::string& key);
    // Remembers `sess` for `key` (takes the reference), replacing the previous one.
    void store_session(const std::string& key, SSL_SESSION* sess);
    size_t cached_sessions();

private:
    TlsClientContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
    SSL_CTX* ctx_;
    bool verify_;
    std::mutex mu_;
    std::unordered_map<std::string, SSL_SESSION*> sessions_;
};

// Internal to shared/tls: the SSL ex_data slot where a TlsClientSession keeps its session-cache key.
int tls_client_session_key_index();

} // namespace shared
