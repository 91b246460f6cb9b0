#include "edge/server/viewer_tls.h"

#include <openssl/err.h>

#include <cstring>

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

// The write side: a sink that appends to the std::string in its data pointer.
int out_write(BIO* b, const char* data, int len) {
    static_cast<std::string*>(BIO_get_data(b))->append(data, static_cast<size_t>(len));
    return len;
}
long out_ctrl(BIO*, int cmd, long, void*) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; // SSL flushes after each flight; nothing else applies
}
int out_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}
BIO_METHOD* out_method() {
    static BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "meridian viewer output");
        BIO_meth_set_write(bm, out_write);
        BIO_meth_set_ctrl(bm, out_ctrl);
        BIO_meth_set_create(bm, out_create);
        return bm;
    }();
    return m;
}
} // namespace

ViewerTls::ViewerTls(std::shared_ptr<shared::TlsServerContext> ctx) : ctx_(std::move(ctx)) {
    ERR_clear_error();
    ssl_ = SSL_new(ctx_->initial());
    if (!ssl_) return;
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(out_method());
    if (!rbio_ || !wbio_) {
        BIO_free(rbio_);
        BIO_free(wbio_);
        SSL_free(ssl_);
        ssl_ = nullptr;
        return;
    }
    // An empty memory BIO reads as "retry later" (not EOF), which SSL turns into SSL_ERROR_WANT_READ.
    BIO_set_mem_eof_return(rbio_, -1);
    BIO_set_data(wbio_, &out_);
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

size_t ViewerTls::take_output(char* buf, size_t cap) {
    size_t n = out_.size() < cap ? out_.size() : cap;
    std::memcpy(buf, out_.data(), n);
    out_.erase(0, n);
    return n;
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
