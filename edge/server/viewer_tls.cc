#include "edge/server/viewer_tls.h"

#include <openssl/err.h>

namespace edge {

ViewerTlsStats& viewer_tls_stats() {
    static ViewerTlsStats s;
    return s;
}

namespace {
const char* take_reason() {
    unsigned long e = ERR_peek_last_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr; // static strings owned by OpenSSL
    ERR_clear_error();
    return r ? r : "TLS error";
}
} // namespace

ViewerTls::ViewerTls(std::shared_ptr<shared::TlsServerContext> ctx) : ctx_(std::move(ctx)) {
    ERR_clear_error();
    ssl_ = SSL_new(ctx_->initial());
    if (!ssl_) return;
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    if (!rbio_ || !wbio_) {
        BIO_free(rbio_);
        BIO_free(wbio_);
        SSL_free(ssl_);
        ssl_ = nullptr;
        return;
    }
    // An empty memory BIO reads as "retry later" (not EOF), which SSL turns into SSL_ERROR_WANT_READ.
    BIO_set_mem_eof_return(rbio_, -1);
    BIO_set_mem_eof_return(wbio_, -1);
    SSL_set_bio(ssl_, rbio_, wbio_);
    // An idle keep-alive connection gives OpenSSL's record buffers back (tens of KiB each, per connection).
    SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
    SSL_set_accept_state(ssl_);
}

ViewerTls::~ViewerTls() {
    if (ssl_) SSL_free(ssl_);
}

ViewerTls::Status ViewerTls::feed(const char* data, size_t len) {
    if (failed_ || !ssl_) return Status::error;
    if (len > 0 && BIO_write(rbio_, data, static_cast<int>(len)) != static_cast<int>(len)) {
        failed_ = true;
        reason_ = "out of memory";
        return Status::error;
    }
    if (done_) return Status::ok;
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
        done_ = true;
        ViewerTlsStats& st = viewer_tls_stats();
        st.handshakes.fetch_add(1, std::memory_order_relaxed);
        if (SSL_session_reused(ssl_)) st.resumed.fetch_add(1, std::memory_order_relaxed);
        return Status::ok;
    }
    int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::want_more;
    failed_ = true;
    reason_ = take_reason();
    viewer_tls_stats().handshake_errors.fetch_add(1, std::memory_order_relaxed);
    return Status::error;
}

long ViewerTls::read(char* buf, size_t cap) {
    if (failed_ || !done_) return failed_ ? -2 : 0;
    ERR_clear_error();
    int rc = SSL_read(ssl_, buf, static_cast<int>(cap > (1u << 30) ? (1u << 30) : cap));
    if (rc > 0) return rc;
    int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) return -1;
    failed_ = true;
    reason_ = take_reason();
    return -2;
}

bool ViewerTls::write(const char* data, size_t len) {
    if (failed_ || !done_) return false;
    while (len > 0) {
        ERR_clear_error();
        int n = static_cast<int>(len > (1u << 30) ? (1u << 30) : len);
        int rc = SSL_write(ssl_, data, n);
        if (rc <= 0) {
            failed_ = true;
            reason_ = take_reason();
            return false;
        }
        data += rc;
        len -= static_cast<size_t>(rc);
    }
    return true;
}

size_t ViewerTls::output_pending() const {
    return wbio_ ? BIO_ctrl_pending(wbio_) : 0;
}

size_t ViewerTls::take_output(char* buf, size_t cap) {
    if (!wbio_ || cap == 0) return 0;
    int n = BIO_read(wbio_, buf, static_cast<int>(cap > (1u << 30) ? (1u << 30) : cap));
    return n > 0 ? static_cast<size_t>(n) : 0;
}

void ViewerTls::shutdown() {
    if (!ssl_ || !done_ || failed_) return;
    ERR_clear_error();
    SSL_shutdown(ssl_); // sends close_notify; we do not wait for the viewer's
    ERR_clear_error();
    failed_ = true; // nothing more is written or read
}

std::string_view ViewerTls::protocol() const {
    if (!ssl_ || !done_) return {};
    return SSL_get_version(ssl_);
}

std::string_view ViewerTls::cipher() const {
    if (!ssl_ || !done_) return {};
    const char* c = SSL_get_cipher_name(ssl_);
    return c ? std::string_view(c) : std::string_view();
}

} // namespace edge
