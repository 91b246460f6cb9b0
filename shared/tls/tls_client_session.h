// One TLS client connection over a memory BIO pair: the owner moves ciphertext between the socket and the
// session, the session never touches a socket. Sends SNI and checks the certificate's host name
// (SSL_set1_host) when the context verifies.
//
// Usage: start(); flush pending_output() to the socket; on every socket read call feed_ciphertext(), then
// read_plaintext() until it returns 0, then flush pending_output() again (TLS 1.3 tickets and key updates
// produce output during reads). write_plaintext() encrypts into pending_output().
#pragma once

#include "shared/tls/tls_client_context.h"

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

namespace shared {

class TlsClientSession {
public:
    enum class Status { Ok, WantMore, Closed, Error };

    // server_name: for SNI and for the host-name check (an IP literal is checked as an IP, without SNI).
    // session_key: which cached session to resume and store (e.g. "name:port"); empty = server_name.
    TlsClientSession(std::shared_ptr<TlsClientContext> ctx, const std::string& server_name,
                     const std::string& session_key = {});
    ~TlsClientSession();
    TlsClientSession(const TlsClientSession&) = delete;
    TlsClientSession& operator=(const TlsClientSession&) = delete;

    // Starts the handshake (ClientHello lands in pending_output()). Error if the session could not be created.
    Status start();
    // Hands received ciphertext to OpenSSL and advances the handshake if it is still running.
    Status feed_ciphertext(const char* data, size_t len);
    bool handshake_done() const { return handshake_done_; }
    // After the handshake: whether a cached session was resumed (no certificate exchange).
    bool resumed() const;
    // Decrypts into buf. Returns bytes (>0), 0 when no more plaintext is available now, -1 on error or close
    // (status() tells which).
    long read_plaintext(char* buf, size_t cap);
    // Encrypts the whole of `data` (only after the handshake). False on error.
    bool write_plaintext(std::string_view data);
    // Takes all ciphertext waiting to be sent (appends to *out). Returns false if there was none.
    bool take_output(std::string* out);

    Status status() const { return status_; }
    // Human-readable reason of the last failure (verification result or OpenSSL error string).
    const std::string& error() const { return error_; }

private:
    Status drive_handshake();
    void record_error(int ssl_rc, const char* what);
    std::shared_ptr<TlsClientContext> ctx_;
    std::string server_name_;
    std::string session_key_;
    SSL* ssl_ = nullptr;
    BIO* rbio_ = nullptr;  // network -> SSL
    BIO* wbio_ = nullptr;  // SSL -> network
    bool handshake_done_ = false;
    Status status_ = Status::Ok;
    std::string error_;
};

} // namespace shared
