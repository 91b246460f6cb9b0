// The TLS side of an HTTPS listener: OpenSSL 3 server contexts built from the configured certificates, shared
// read-only by every worker's connections (one SSL per connection; the transport over libuv lives elsewhere).
//
//   - TLS 1.2 and 1.3 only; TLS 1.2 ciphers Mozilla's "intermediate" list unless configured, TLS 1.3 OpenSSL's.
//   - Certificates chosen by SNI: each certificate entry serves the DNS names of its certificates' subjectAltName
//     (exact names, and "*.example.com" for exactly one label, as browsers match); the first entry marked default
//     (else none) answers clients that send no SNI or an unknown name. Without a default such a handshake fails with
//     an unrecognized_name alert rather than showing a certificate for another site.
//   - One entry may hold several key pairs (ECDSA and RSA side by side for the same names): OpenSSL offers the one
//     the client's signature algorithms accept.
//   - ALPN from a server-preference list ("h2", "http/1.1"); no overlap means no ALPN (HTTP/1.1), never a failure.
//   - Resumption: session tickets under a key ring (tls_ticket_keys.h) shared by all workers and reloads, plus
//     OpenSSL's server session cache (per context, locked internally).
//   - OCSP stapling: a DER OCSP response file per entry, read at (re)load and checked (successful, "good", for a
//     certificate of the entry: else an error; outside its validity: a warning, not stapled), stapled when the
//     client asks and the served certificate is the one it answers for, until its nextUpdate.
// A reload builds a new TlsServerContext from the files; connections keep the one they started with (SSL_CTX is
// reference counted), so nothing is dropped.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/tls/tls_ticket_keys.h"

namespace shared {

struct TlsKeyPair {
    std::string cert_file; // PEM: the certificate, then its chain
    std::string key_file;  // PEM private key
};

struct TlsCertificateSpec {
    std::vector<TlsKeyPair> pairs; // one per key type (e.g. an ECDSA and an RSA certificate for the same names)
    std::string ocsp_file;         // DER OCSP response to staple; "" = none
    bool is_default = false;
};

struct TlsServerOptions {
    std::vector<TlsCertificateSpec> certificates;
    std::string ciphers;                          // TLS 1.2 cipher list; "" = Mozilla intermediate
    std::string ciphersuites;                     // TLS 1.3 suites; "" = OpenSSL's default
    std::vector<std::string> alpn = {"http/1.1"}; // server preference order
    std::shared_ptr<TlsTicketKeys> ticket_keys;   // null: tickets off (session cache only)
    long session_cache_size = 20480;              // entries per certificate entry; 0 = off
    long session_timeout_s = 86400;
};

inline constexpr const char* kMozillaIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

class TlsServerContext {
  public:
    // Loads every certificate and key (checking each key matches its certificate) and the OCSP files. nullptr with
    // *err naming the file and OpenSSL's reason on failure.
    static std::shared_ptr<TlsServerContext> create(const TlsServerOptions& opts, std::string* err);
    ~TlsServerContext();
    TlsServerContext(const TlsServerContext&) = delete;
    TlsServerContext& operator=(const TlsServerContext&) = delete;

    // The context new connections start on (the default entry's, or the first's; SNI may switch it).
    SSL_CTX* initial() const noexcept { return entries_[default_ >= 0 ? static_cast<size_t>(default_) : 0].ctx; }
    // The entry's context for a server name (lower-case, no trailing dot), or nullptr when none matches and there is
    // no default. Allocation-free.
    SSL_CTX* select(std::string_view name) const noexcept;
    // The names each entry serves, in order (diagnostics, tests).
    std::vector<std::vector<std::string>> names() const;
    // Problems that do not stop the context from serving (an OCSP response that is not valid now, so not stapled):
    // the config check reports them as warnings.
    const std::vector<std::string>& warnings() const { return warnings_; }

  private:
    struct Entry {
        SSL_CTX* ctx = nullptr;
        std::vector<std::string> names;
        std::string ocsp;               // DER; empty when none, or when it was stale at load
        std::vector<X509*> ocsp_covers; // the entry's certificates it answers for (owned by ctx)
        time_t ocsp_next_update = 0;    // its nextUpdate (0: none): not stapled past it
        std::shared_ptr<std::atomic<bool>> ocsp_expired_logged = std::make_shared<std::atomic<bool>>(false);
    };
    TlsServerContext() = default;
    static int on_servername(SSL* ssl, int* alert, void* arg) noexcept;
    static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                       unsigned int inlen, void* arg) noexcept;
    static int on_status(SSL* ssl, void* arg) noexcept;

    std::vector<Entry> entries_;
    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using NameMap = std::unordered_map<std::string, size_t, NameHash, std::equal_to<>>;
    NameMap exact_;    // name → entry
    NameMap wildcard_; // "example.com" for "*.example.com" → entry
    int default_ = -1;
    std::string alpn_wire_; // length-prefixed, server preference
    std::shared_ptr<TlsTicketKeys> ticket_keys_;
    std::vector<std::string> warnings_;
};

} // namespace shared
