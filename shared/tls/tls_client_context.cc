#include "shared/tls/tls_client_context.h"

#include <openssl/err.h>

#include "shared/tls/openssl_error.h"

namespace shared {

namespace {
// The owning TlsClientContext of an SSL_CTX, for the new-session callback.
int context_index() {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

} // namespace

int tls_client_session_key_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

namespace {
int on_new_session(SSL* ssl, SSL_SESSION* sess) noexcept {
    auto* owner = static_cast<TlsClientContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
    auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, tls_client_session_key_index()));
    if (!owner || !key || key->empty()) return 0;
    owner->store_session(*key, sess);
    return 1; // we keep the reference
}
} // namespace

std::shared_ptr<TlsClientContext> TlsClientContext::create(const TlsClientOptions& opts, std::string* err) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        *err = "SSL_CTX_new: " + openssl_reason();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Only HTTP/1.1 is spoken; advertising it keeps ALPN-strict servers happy.
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn) != 0) {
        *err = "SSL_CTX_set_alpn_protos: " + openssl_reason();
        SSL_CTX_free(ctx);
        return nullptr;
    }
    if (opts.verify) {
        int ok = opts.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                      : SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr);
        if (ok != 1) {
            *err = (opts.ca_file.empty() ? std::string("system CA store") : "CA file '" + opts.ca_file + "'") + ": " +
                   openssl_reason();
            SSL_CTX_free(ctx);
            return nullptr;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    // Client-side session cache without OpenSSL's internal store: sessions (TLS 1.3 tickets arrive after the
    // handshake) are kept per origin key by on_new_session.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    auto owner = std::shared_ptr<TlsClientContext>(new TlsClientContext(ctx, opts.verify));
    SSL_CTX_set_ex_data(ctx, context_index(), owner.get());
    return owner;
}

TlsClientContext::~TlsClientContext() {
    for (auto& [k, s] : sessions_)
        SSL_SESSION_free(s);
    SSL_CTX_free(ctx_);
}

SSL_SESSION* TlsClientContext::find_session(const std::string& key) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return nullptr;
    if (!SSL_SESSION_is_resumable(it->second)) {
        SSL_SESSION_free(it->second);
        sessions_.erase(it);
        return nullptr;
    }
    SSL_SESSION_up_ref(it->second);
    return it->second;
}

void TlsClientContext::store_session(const std::string& key, SSL_SESSION* sess) {
    std::lock_guard<std::mutex> lk(mu_);
    auto [it, inserted] = sessions_.emplace(key, sess);
    if (!inserted) {
        SSL_SESSION_free(it->second);
        it->second = sess;
    }
}

size_t TlsClientContext::cached_sessions() {
    std::lock_guard<std::mutex> lk(mu_);
    return sessions_.size();
}

} // namespace shared
