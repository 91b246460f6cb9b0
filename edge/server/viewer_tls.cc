#include "edge/server/viewer_tls.h"

#include <openssl/err.h>

#include <cstring>

namespace edge {

ViewerTlsStats& viewer_tls_stats() {
    static ViewerTlsStats s;
    return s;
}

uint64_t ViewerTlsStats::handshake_errors_total() const {
    uint64_t n = 0;
    for (const auto& c : handshake_errors)
        n += c.load(std::memory_order_relaxed);
    return n;
}

const char* tls_handshake_failure_name(TlsHandshakeFailure f) {
    switch (f) {
    case TlsHandshakeFailure::http_request:
        return "http_request";
    case TlsHandshakeFailure::not_tls:
        return "not_tls";
    case TlsHandshakeFailure::protocol_version:
        return "protocol_version";
    case TlsHandshakeFailure::no_shared_cipher:
        return "no_shared_cipher";
    case TlsHandshakeFailure::unknown_sni:
        return "unknown_sni";
    case TlsHandshakeFailure::peer_alert:
        return "peer_alert";
    case TlsHandshakeFailure::timeout:
        return "timeout";
    case TlsHandshakeFailure::closed:
        return "closed";
    case TlsHandshakeFailure::other:
        break;
    }
    return "other";
}

const char* tls_connection_error_name(TlsConnectionError e) {
    switch (e) {
    case TlsConnectionError::renegotiation:
        return "renegotiation";
    case TlsConnectionError::bad_record:
        return "bad_record";
    case TlsConnectionError::stalled_record:
        return "stalled_record";
    case TlsConnectionError::reset:
        return "reset";
    case TlsConnectionError::send_timeout:
        return "send_timeout";
    case TlsConnectionError::eof_mid_response:
        break;
    }
    return "eof_mid_response";
}

namespace {
// SSL_get_error needs an empty error queue before the call it explains. ERR_clear_error resets all 16 slots of the
// thread's queue every time (about 300 instructions); the queue is almost always empty already.
void clear_errors() {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

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
    SSL_set_app_data(ssl_, this);
    SSL_set_info_callback(ssl_, on_info);
    // An idle keep-alive connection gives OpenSSL's record buffers back (tens of KiB each, per connection).
    SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
    SSL_set_accept_state(ssl_);
}

ViewerTls::~ViewerTls() {
    if (ssl_) SSL_free(ssl_);
}

void ViewerTls::on_info(const SSL* ssl, int where, int) {
    // A handshake starting on an established TLS 1.2 connection is a renegotiation attempt: OpenSSL refuses it
    // (SSL_OP_NO_RENEGOTIATION sends no_renegotiation); count it. TLS 1.3 has none (its post-handshake messages,
    // key updates and tickets, also pass through here).
    if (!(where & SSL_CB_HANDSHAKE_START)) return;
    auto* self = static_cast<ViewerTls*>(SSL_get_app_data(ssl));
    if (self && self->done_ && SSL_version(ssl) < TLS1_3_VERSION)
        viewer_tls_stats().count(TlsConnectionError::renegotiation);
}

TlsHandshakeFailure ViewerTls::classify_failure() {
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) return TlsHandshakeFailure::http_request;
    if (fed_ && first_byte_ != 0x16) return TlsHandshakeFailure::not_tls; // SSL3_RT_HANDSHAKE
    if (reason >= SSL_AD_REASON_OFFSET) return TlsHandshakeFailure::peer_alert;
    switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_WRONG_SSL_VERSION:
    case SSL_R_WRONG_VERSION_NUMBER:
        return TlsHandshakeFailure::protocol_version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
        return TlsHandshakeFailure::no_shared_cipher;
    case SSL_R_CALLBACK_FAILED: {
        // The servername callback refused a name no entry serves (there is no default).
        const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
        if (!ctx_->select(sni ? sni : "")) return TlsHandshakeFailure::unknown_sni;
        break;
    }
    default:
        break;
    }
    return TlsHandshakeFailure::other;
}

bool ViewerTls::partial_record() const {
    return ssl_ && !failed_ && (BIO_ctrl_pending(rbio_) > 0 || SSL_has_pending(ssl_));
}

ViewerTls::Status ViewerTls::feed(const char* data, size_t len) {
    if (failed_ || !ssl_) return Status::error;
    if (!fed_ && len > 0) {
        fed_ = true;
        first_byte_ = static_cast<unsigned char>(data[0]);
    }
    if (len > 0 && BIO_write(rbio_, data, static_cast<int>(len)) != static_cast<int>(len)) {
        failed_ = true;
        reason_ = "out of memory";
        return Status::error;
    }
    if (done_) return Status::ok;
    clear_errors();
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
    failure_ = classify_failure();
    reason_ = take_reason();
    viewer_tls_stats().count(failure_);
    return Status::error;
}

long ViewerTls::read(char* buf, size_t cap) {
    if (failed_ || !done_) return failed_ ? -2 : 0;
    // Nothing received and nothing decrypted waits: SSL_read could only answer WANT_READ. The connection asks
    // after each read and after each request it parsed, so this skips two of every three calls on a keep-alive hit.
    if (BIO_ctrl_pending(rbio_) == 0 && !SSL_has_pending(ssl_)) return 0;
    clear_errors();
    int rc = SSL_read(ssl_, buf, static_cast<int>(cap > (1u << 30) ? (1u << 30) : cap));
    if (rc > 0) return rc;
    int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) return -1;
    failed_ = true;
    reason_ = take_reason();
    viewer_tls_stats().count(TlsConnectionError::bad_record);
    return -2;
}

bool ViewerTls::write(const char* data, size_t len) {
    if (failed_ || !done_) return false;
    while (len > 0) {
        clear_errors();
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

std::string_view ViewerTls::alpn() const {
    if (!ssl_) return {};
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

std::string_view ViewerTls::cipher() const {
    if (!ssl_ || !done_) return {};
    const char* c = SSL_get_cipher_name(ssl_);
    return c ? std::string_view(c) : std::string_view();
}

} // namespace edge
