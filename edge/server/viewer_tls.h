// The TLS side of one viewer connection: an SSL over a memory BIO pair (STYLE.md, OpenSSL 3 with libuv). The
// connection moves ciphertext between its socket and this object; this object never touches the socket. The SSL
// starts on the context of the TlsServerContext it was made from (which it keeps alive: a reload's new context is
// for new connections only), and SNI may switch it to another entry's.
//
// Thread: the worker loop that owns the connection; the counters are process-wide (relaxed atomics). Failures are
// counted here (handshake errors by reason, renegotiation attempts, bad records); what only the connection sees
// (timeouts, resets) it counts itself.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shared/tls/tls_server_context.h"

namespace edge {

// Why a handshake failed (meridian_edge_tls_handshake_errors_total{reason}).
enum class TlsHandshakeFailure : uint8_t {
    http_request,     // plain HTTP sent to the HTTPS port (answered with a plain-text 400, as nginx does)
    not_tls,          // the first bytes are not a TLS handshake record (garbage, another protocol)
    protocol_version, // no common version (TLS 1.1 and older)
    no_shared_cipher, // no common cipher suite, group or signature algorithm
    unknown_sni,      // a name no certificate entry serves, and no default entry (unrecognized_name alert)
    peer_alert,       // the viewer refused the handshake with an alert (e.g. it does not trust the certificate)
    timeout,          // not finished within limits.handshake_timeout
    closed,           // the viewer closed or reset the connection before the handshake finished
    other,            // any other TLS error (malformed handshake messages...)
};
inline constexpr size_t kTlsHandshakeFailures = 9;
const char* tls_handshake_failure_name(TlsHandshakeFailure f);

// What ended or disturbed an established TLS connection (meridian_edge_tls_connection_errors_total{reason}).
enum class TlsConnectionError : uint8_t {
    renegotiation,    // a TLS 1.2 renegotiation attempt (refused with a no_renegotiation alert)
    bad_record,       // a record that does not decrypt or parse: the connection is closed
    stalled_record,   // half a record, then nothing until limits.header_timeout: closed
    reset,            // the viewer reset the connection while a request or response was in progress
    eof_mid_response, // TCP FIN without close_notify while a response was in progress (it is still finished)
    send_timeout,     // the viewer stopped reading a response for limits.send_timeout: closed
};
inline constexpr size_t kTlsConnectionErrors = 6;
const char* tls_connection_error_name(TlsConnectionError e);

// Process-wide TLS counters (metrics).
struct ViewerTlsStats {
    std::atomic<uint64_t> handshakes{0}; // completed
    std::atomic<uint64_t> resumed{0};    // completed by resuming a session (ticket or cache)
    std::atomic<uint64_t> handshake_errors[kTlsHandshakeFailures] = {};
    std::atomic<uint64_t> connection_errors[kTlsConnectionErrors] = {};

    void count(TlsHandshakeFailure f) {
        handshake_errors[static_cast<size_t>(f)].fetch_add(1, std::memory_order_relaxed);
    }
    void count(TlsConnectionError e) {
        connection_errors[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed);
    }
    uint64_t handshake_errors_total() const;
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
    // Why feed() failed (valid after Status::error before the handshake finished).
    TlsHandshakeFailure failure() const { return failure_; }
    // Ciphertext of an incomplete record waits for the rest (a viewer that stops mid-record).
    bool partial_record() const;

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
    // The protocol ALPN selected ("h2", "http/1.1"); "" when none was.
    std::string_view alpn() const;
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
    bool fed_ = false;             // a first byte was seen
    unsigned char first_byte_ = 0; // 0x16 for a TLS handshake record
    TlsHandshakeFailure failure_ = TlsHandshakeFailure::other;
    TlsHandshakeFailure classify_failure();
    static void on_info(const SSL* ssl, int where, int ret);
    const char* reason_ = "";
};

} // namespace edge
