#include "shared/tls/tls_ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <mutex>

namespace shared {

namespace {
int ring_index() {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

int on_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
              int enc) noexcept {
    auto* ring = static_cast<TlsTicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index()));
    if (!ring) return -1;
    return ring->ticket_callback(name, iv, cipher, mac, enc);
}
} // namespace

TlsTicketKeys::TlsTicketKeys(uint64_t lifetime_s, unsigned keep) : lifetime_s_(lifetime_s), keep_(keep ? keep : 1) {}

bool TlsTicketKeys::rotate(uint64_t now_s) {
    {
        std::shared_lock lock(mu_);
        if (!keys_.empty() && now_s < keys_.front().created_s + lifetime_s_) return false;
    }
    force_rotate(now_s);
    return true;
}

void TlsTicketKeys::force_rotate(uint64_t now_s) {
    Key k;
    RAND_bytes(k.name.data(), static_cast<int>(k.name.size()));
    RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size()));
    RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size()));
    k.created_s = now_s;
    std::unique_lock lock(mu_);
    keys_.push_front(k);
    while (keys_.size() > keep_)
        keys_.pop_back();
}

size_t TlsTicketKeys::key_count() const {
    std::shared_lock lock(mu_);
    return keys_.size();
}

void TlsTicketKeys::install(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, ring_index(), this);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
}

int TlsTicketKeys::ticket_callback(unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX* cipher,
                                   EVP_MAC_CTX* mac, int enc) {
    std::shared_lock lock(mu_);
    if (keys_.empty()) return enc ? -1 : 0;
    const Key* k = nullptr;
    bool current = false;
    if (enc) {
        k = &keys_.front();
        current = true;
        std::memcpy(name, k->name.data(), 16);
        if (RAND_bytes(iv, 16) != 1) return -1;
    } else {
        for (size_t i = 0; i < keys_.size(); i++)
            if (std::memcmp(name, keys_[i].name.data(), 16) == 0) {
                k = &keys_[i];
                current = i == 0;
                break;
            }
        if (!k) return 0; // unknown (aged out, another process): a full handshake
    }
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k->hmac.data()),
                                                  k->hmac.size());
    params[1] = OSSL_PARAM_construct_end();
    char digest[] = "SHA256";
    OSSL_PARAM dparams[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                             OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(mac, dparams) != 1 || EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
    if (enc) {
        if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k->aes.data(), iv) != 1) return -1;
        return 1;
    }
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k->aes.data(), iv) != 1) return -1;
    return current ? 1 : 2;
}

} // namespace shared
