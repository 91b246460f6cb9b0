#include "shared/tls/tls_client_context.h"

#include <openssl/err.h>

namespace shared {

namespace {
std::string openssl_reason() {
    unsigned long e = ERR_get_error();
    if (!e) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
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
            *err = (opts.ca_file.empty() ? std::string("system CA store") : "CA file '" + opts.ca_file + "'") +
                   ": " + openssl_reason();
            SSL_CTX_free(ctx);
            return nullptr;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    return std::shared_ptr<TlsClientContext>(new TlsClientContext(ctx, opts.verify));
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

} // namespace shared
