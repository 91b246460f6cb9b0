// The TLS side of one viewer connection: an SSL over a memory BIO pair (STYLE.md, OpenSSL 3 with libuv). The
// connection moves ciphertext between its socket and this object; this object never touches the socket. The SSL
// starts on the context of the TlsServerContext it was made from (which it keeps alive: a reload's new context is
// for new connections only), and SNI may switch it to another entry's.
//
// Thread: the worker loop that owns the connection; the counters are process-wide (relaxed atomics).
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shared/tls/tls_server_context.h"

namespace edge {

// Process-wide TLS counters (metrics).
struct ViewerTlsStats {
    std::atomic<uint64_t> handshakes{0};       // completed
    std::atomic<uint64_t> resumed{0};          // completed by resuming a session (ticket or cache)
    std::atomic<uint64_t> handshake_errors{0}; // failed: not TLS, no common version or cipher, unknown SNI, timeout
};
ViewerTlsStats& viewer_tls_stats();

class ViewerTls {
  public:
    explicit ViewerTls(std::shared_ptr<shared::TlsServerContext> ctx);
    ~ViewerTls();
    ViewerTls(const ViewerTls&) = delete;
    ViewerTls& operator=(const ViewerTls&) = delete;

    bool ok() const { return ssl_ != nullptr; }
    bool handshake_done() const { return done_; }

    enum class Status : uint8_t { ok, want_more, error };
    // Hands received ciphertext over and, until it is done, advances the handshake (its records land in the output).
    Status feed(const char* data, size_t len);
    // Decrypts into buf: bytes (> 0), 0 when nothing more is available now, -1 when the viewer sent close_notify,
    // -2 on an error.
    long read(char* buf, size_t cap);
    // Encrypts all of `data` into the output (a memory BIO takes everything). False on an error.
    bool write(const char* data, size_t len);
    // Ciphertext waiting to be sent: the SSL writes straight into this string (a BIO of our own, as H2O does,
    // instead of a memory BIO that a second copy would drain). The owner sends from it, or swaps it into a write
    // request, and leaves it empty.
    std::string& output() { return out_; }
    size_t output_pending() const { return out_.size(); }
    // Copies up to `cap` bytes of the output out and drops them from it.
    size_t take_output(char* buf, size_t cap);
    // Queues close_notify (best effort) into the output.
    void shutdown();

    // For the access log (CloudFront's ssl-protocol and ssl-cipher): static strings, "" before the handshake.
    std::string_view protocol() const;
    std::string_view cipher() const;
    // OpenSSL's reason for the last failure (debug log).
    const char* error_reason() const { return reason_; }

  private:
    std::shared_ptr<shared::TlsServerContext> ctx_;
    SSL* ssl_ = nullptr;
    BIO* rbio_ = nullptr; // network -> SSL (owned by ssl_)
    BIO* wbio_ = nullptr; // SSL -> out_ (owned by ssl_)
    std::string out_;
    bool done_ = false;
    bool failed_ = false;
    const char* reason_ = "";
};

} // namespace edge
