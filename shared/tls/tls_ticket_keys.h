// Session-ticket keys shared by every worker and every reload of a TLS server (RFC 5077 tickets, TLS 1.3 PSKs):
// a ticket any worker issued resumes on any other, and across reloads, because they all encrypt with one key ring.
// Keys rotate: a new key encrypts from each rotation on, the previous ones still decrypt (a ticket issued just
// before a rotation still resumes, and is then re-issued under the new key) until they age out. Keys live only in
// memory, random per process, so a leaked key cannot outlive the process, and a restart invalidates every ticket.
//
// Thread-safe: handshakes on any worker read it under a shared lock; rotate() takes it exclusively.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <deque>
#include <shared_mutex>

namespace shared {

class TlsTicketKeys {
  public:
    // `lifetime_s`: how long a key encrypts new tickets; keys decrypt for `keep` lifetimes in all.
    explicit TlsTicketKeys(uint64_t lifetime_s = 3600, unsigned keep = 3);

    // Makes a new current key when the current one is `lifetime_s` old (or there is none). Returns true when it did.
    bool rotate(uint64_t now_s);
    // Rotates now, whatever the age (tests, operators).
    void force_rotate(uint64_t now_s);
    size_t key_count() const;

    // The callback for SSL_CTX_set_tlsext_ticket_key_evp_cb; install with install().
    void install(SSL_CTX* ctx);
    // AES-256-CBC + HMAC-SHA256, as OpenSSL's own tickets: enc = 1 encrypts with the current key, 0 looks the
    // ticket's key name up. Returns 1 (ok), 2 (ok, but renew the ticket: an older key), 0 (unknown key) or -1.
    int ticket_callback(unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                        int enc);

  private:
    struct Key {
        std::array<unsigned char, 16> name;
        std::array<unsigned char, 32> aes;
        std::array<unsigned char, 32> hmac;
        uint64_t created_s = 0;
    };
    mutable std::shared_mutex mu_;
    std::deque<Key> keys_; // front: current
    uint64_t lifetime_s_;
    unsigned keep_;
};

} // namespace shared
