#include "shared/tls/tls_client_session.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace shared {

namespace {
bool is_ip_literal(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
} // namespace

TlsClientSession::TlsClientSession(std::shared_ptr<TlsClientContext> ctx, const std::string& server_name,
                                   const std::string& session_key)
    : ctx_(std::move(ctx)), server_name_(server_name), session_key_(session_key.empty() ? server_name : session_key) {}

bool TlsClientSession::resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

TlsClientSession::~TlsClientSession() {
    if (!ssl_) return;
    // We close without close_notify (HTTP framing tells where responses end). Mark the shutdown as done so
    // that SSL_free does not treat the cached session as bad and make it non-resumable; sessions of failed
    // connections are left to be invalidated.
    if (handshake_done_ && status_ != Status::Error)
        SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl_);  // frees both BIOs too
}

void TlsClientSession::record_error(int ssl_rc, const char* what) {
    status_ = Status::Error;
    if (ssl_ && ctx_->verify()) {
        long vr = SSL_get_verify_result(ssl_);
        if (vr != X509_V_OK) {
            error_ = std::string("certificate verification failed: ") + X509_verify_cert_error_string(vr);
            ERR_clear_error();
            return;
        }
    }
    unsigned long e = ERR_get_error();
    if (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        error_ = std::string(what) + ": " + buf;
    } else {
        error_ = std::string(what) + " failed (SSL error " + std::to_string(ssl_rc) + ")";
    }
    ERR_clear_error();
}

TlsClientSession::Status TlsClientSession::start() {
    ERR_clear_error();
    ssl_ = SSL_new(ctx_->ctx());
    if (!ssl_) {
        record_error(0, "SSL_new");
        return status_;
    }
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    if (!rbio_ || !wbio_) {
        if (rbio_) BIO_free(rbio_);
        if (wbio_) BIO_free(wbio_);
        rbio_ = wbio_ = nullptr;
        record_error(0, "BIO_new");
        return status_;
    }
    // An empty read BIO means "no data yet", not EOF.
    BIO_set_mem_eof_return(rbio_, -1);
    SSL_set_bio(ssl_, rbio_, wbio_);
    SSL_set_connect_state(ssl_);
    bool ip = is_ip_literal(server_name_);
    // RFC 6066 §3: literal IP addresses are not permitted in SNI.
    if (!server_name_.empty() && !ip) SSL_set_tlsext_host_name(ssl_, server_name_.c_str());
    SSL_set_ex_data(ssl_, tls_client_session_key_index(), &session_key_);
    if (SSL_SESSION* cached = ctx_->find_session(session_key_)) {
        SSL_set_session(ssl_, cached);  // a session verified for this key before: resumption skips the chain
        SSL_SESSION_free(cached);
    }
    if (ctx_->verify() && !server_name_.empty()) {
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name_.c_str())
                    : SSL_set1_host(ssl_, server_name_.c_str());
        if (ok != 1) {
            record_error(0, "setting the expected host name");
            return status_;
        }
    }
    return drive_handshake();
}

TlsClientSession::Status TlsClientSession::drive_handshake() {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
        handshake_done_ = true;
        return status_ = Status::Ok;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::WantMore;
    record_error(err, "TLS handshake");
    return status_;
}

TlsClientSession::Status TlsClientSession::feed_ciphertext(const char* data, size_t len) {
    if (status_ != Status::Ok) return status_;
    if (len && BIO_write(rbio_, data, int(len)) != int(len)) {
        record_error(0, "BIO_write");
        return status_;
    }
    if (!handshake_done_) return drive_handshake();
    return Status::Ok;
}

long TlsClientSession::read_plaintext(char* buf, size_t cap) {
    if (status_ != Status::Ok || !handshake_done_) return status_ == Status::Ok ? 0 : -1;
    ERR_clear_error();
    int rc = SSL_read(ssl_, buf, int(cap));
    if (rc > 0) return rc;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
    if (err == SSL_ERROR_ZERO_RETURN) {
        status_ = Status::Closed;  // close_notify: a clean end of stream
        return -1;
    }
    record_error(err, "TLS read");
    return -1;
}

bool TlsClientSession::write_plaintext(std::string_view data) {
    if (status_ != Status::Ok || !handshake_done_) return false;
    while (!data.empty()) {
        ERR_clear_error();
        int rc = SSL_write(ssl_, data.data(), int(data.size()));
        if (rc <= 0) {
            record_error(SSL_get_error(ssl_, rc), "TLS write");
            return false;
        }
        data.remove_prefix(size_t(rc));
    }
    return true;
}

bool TlsClientSession::take_output(std::string* out) {
    if (!wbio_) return false;
    size_t pending = BIO_ctrl_pending(wbio_);
    if (pending == 0) return false;
    size_t old = out->size();
    out->resize(old + pending);
    int n = BIO_read(wbio_, out->data() + old, int(pending));
    out->resize(old + (n > 0 ? size_t(n) : 0));
    return n > 0;
}

} // namespace shared
