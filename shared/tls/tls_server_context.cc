#include "shared/tls/tls_server_context.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

#include "shared/http/http_tokens.h"
#include "shared/log/log.h"
#include "shared/tls/openssl_error.h"

namespace shared {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = ascii_lower(c);
    return out;
}

// The DNS names a certificate is for: its subjectAltName DNS entries, else its subject CN (RFC 6125 §6.4.4).
bool cert_names(const std::string& file, std::vector<std::string>* names, std::string* err) {
    FILE* f = std::fopen(file.c_str(), "r");
    if (!f) {
        *err = "cannot open certificate " + file + ": " + std::strerror(errno);
        return false;
    }
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!x) {
        *err = "certificate " + file + ": " + openssl_reason();
        return false;
    }
    size_t before = names->size();
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS) continue;
        const auto* s = reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName));
        names->push_back(lower(std::string_view(s, static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)))));
    }
    GENERAL_NAMES_free(sans);
    if (names->size() == before) {
        char cn[256];
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        if (n > 0) names->push_back(lower(std::string_view(cn, static_cast<size_t>(n))));
    }
    X509_free(x);
    return true;
}

constexpr unsigned char kSessionContext[] = "meridian";

// Clock skew allowed between the OCSP responder and us (OpenSSL's own default for `openssl ocsp` is 5 minutes).
constexpr long kOcspSkewSeconds = 300;

time_t asn1_to_time(const ASN1_GENERALIZEDTIME* t) {
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return timegm(&tm);
}

std::string asn1_text(const ASN1_GENERALIZEDTIME* t) {
    BIO* b = BIO_new(BIO_s_mem());
    ASN1_TIME_print(b, t);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string out(p, static_cast<size_t>(n > 0 ? n : 0));
    BIO_free(b);
    return out;
}

// Checks a DER OCSP response against the certificates it is stapled for (the leaf of each key pair, with its chain
// loaded in ctx): it must be a successful basic response with a "good" status for at least one of them. Fills the
// certificates it covers and its nextUpdate (0 = none). A response past its nextUpdate (or not yet valid) is not an
// error: it goes in *stale, and it is not stapled (clients treat an expired staple as worse than none), so a late
// refresh job degrades stapling instead of stopping a restart.
bool check_ocsp(const std::string& file, const std::string& der, SSL_CTX* ctx, const std::vector<X509*>& leaves,
                std::vector<X509*>* covered, time_t* next_update, std::string* stale, std::string* err) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    OCSP_RESPONSE* r = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()));
    if (r && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
        OCSP_RESPONSE_free(r);
        r = nullptr;
    }
    if (!r) {
        *err = "OCSP response " + file + ": not a DER OCSP response";
        return false;
    }
    int status = OCSP_response_status(r);
    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        *err = "OCSP response " + file + ": responder status " + OCSP_response_status_str(status);
        OCSP_RESPONSE_free(r);
        return false;
    }
    OCSP_BASICRESP* basic = OCSP_response_get1_basic(r);
    OCSP_RESPONSE_free(r);
    if (!basic) {
        *err = "OCSP response " + file + ": not a basic OCSP response";
        return false;
    }
    bool ok = true;
    for (X509* leaf : leaves) {
        // The chain file's certificates name the issuer; without one the serial number alone identifies the leaf.
        SSL_CTX_select_current_cert(ctx, leaf);
        STACK_OF(X509)* chain = nullptr;
        SSL_CTX_get0_chain_certs(ctx, &chain);
        X509* issuer = nullptr;
        for (int i = 0; chain && i < sk_X509_num(chain); ++i)
            if (X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK) issuer = sk_X509_value(chain, i);
        int cert_status = -1, reason = 0;
        ASN1_GENERALIZEDTIME *this_upd = nullptr, *next_upd = nullptr;
        if (issuer) {
            OCSP_CERTID* id = OCSP_cert_to_id(nullptr, leaf, issuer);
            if (id) OCSP_resp_find_status(basic, id, &cert_status, &reason, nullptr, &this_upd, &next_upd);
            OCSP_CERTID_free(id);
        } else {
            for (int i = 0; i < OCSP_resp_count(basic) && cert_status < 0; ++i) {
                OCSP_SINGLERESP* single = OCSP_resp_get0(basic, i);
                ASN1_INTEGER* serial = nullptr;
                OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial,
                                  const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single)));
                if (serial && ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)) == 0)
                    cert_status = OCSP_single_get0_status(single, &reason, nullptr, &this_upd, &next_upd);
            }
        }
        if (cert_status < 0) continue; // not for this one (an entry's other key type may be)
        if (cert_status != V_OCSP_CERTSTATUS_GOOD) {
            *err = "OCSP response " + file + ": the certificate's status is " + OCSP_cert_status_str(cert_status);
            ok = false;
            break;
        }
        covered->push_back(leaf);
        time_t next = asn1_to_time(next_upd);
        if (next && (!*next_update || next < *next_update)) *next_update = next;
        if (stale->empty() && OCSP_check_validity(this_upd, next_upd, kOcspSkewSeconds, -1) != 1) {
            *stale = "OCSP response " + file + " is not valid now (thisUpdate " + asn1_text(this_upd) +
                     (next_upd ? ", nextUpdate " + asn1_text(next_upd) : std::string()) +
                     "): it is not stapled until the file is refreshed (then SIGHUP)";
        }
    }
    OCSP_BASICRESP_free(basic);
    SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);
    ERR_clear_error();
    if (ok && covered->empty()) {
        *err = "OCSP response " + file + " is not for the certificate" + (leaves.size() > 1 ? "s" : "") +
               " of this entry (no response for its serial number and issuer)";
        ok = false;
    }
    return ok;
}

} // namespace

std::shared_ptr<TlsServerContext> TlsServerContext::create(const TlsServerOptions& opts, std::string* err) {
    if (opts.certificates.empty()) {
        *err = "no certificate";
        return nullptr;
    }
    std::shared_ptr<TlsServerContext> t(new TlsServerContext);
    t->ticket_keys_ = opts.ticket_keys;
    for (const std::string& p : opts.alpn) {
        if (p.empty() || p.size() > 255) {
            *err = "bad ALPN protocol name \"" + p + "\"";
            return nullptr;
        }
        t->alpn_wire_.push_back(static_cast<char>(p.size()));
        t->alpn_wire_ += p;
    }
    ERR_clear_error();
    for (const TlsCertificateSpec& spec : opts.certificates) {
        if (spec.pairs.empty()) {
            *err = "a certificate entry without a certificate";
            return nullptr;
        }
        Entry e;
        e.ctx = SSL_CTX_new(TLS_server_method());
        if (!e.ctx) {
            *err = "SSL_CTX_new: " + openssl_reason();
            return nullptr;
        }
        t->entries_.push_back(e); // owns ctx from here on (freed by the destructor)
        Entry& en = t->entries_.back();
        SSL_CTX* ctx = en.ctx;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
        // No renegotiation (a CPU-exhaustion vector and never needed by HTTP/1.1 or h2), no compression (CRIME);
        // the server's cipher order, since clients list weak ones first for compatibility.
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     (t->ticket_keys_ ? 0 : SSL_OP_NO_TICKET));
        const std::string ciphers = opts.ciphers.empty() ? kMozillaIntermediateCiphers : opts.ciphers;
        if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
            *err = "ciphers \"" + ciphers + "\": " + openssl_reason();
            return nullptr;
        }
        if (!opts.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, opts.ciphersuites.c_str()) != 1) {
            *err = "ciphersuites \"" + opts.ciphersuites + "\": " + openssl_reason();
            return nullptr;
        }
        std::vector<X509*> leaves; // owned by ctx
        for (const TlsKeyPair& kp : spec.pairs) {
            if (SSL_CTX_use_certificate_chain_file(ctx, kp.cert_file.c_str()) != 1) {
                *err = "certificate " + kp.cert_file + ": " + openssl_reason();
                return nullptr;
            }
            if (SSL_CTX_use_PrivateKey_file(ctx, kp.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
                *err = "key " + kp.key_file + ": " + openssl_reason();
                return nullptr;
            }
            if (SSL_CTX_check_private_key(ctx) != 1) {
                *err = "key " + kp.key_file + " does not match certificate " + kp.cert_file + ": " + openssl_reason();
                return nullptr;
            }
            if (!cert_names(kp.cert_file, &en.names, err)) return nullptr;
            leaves.push_back(SSL_CTX_get0_certificate(ctx));
        }
        if (!spec.ocsp_file.empty()) {
            std::ifstream in(spec.ocsp_file, std::ios::binary);
            if (!in) {
                *err = "OCSP response " + spec.ocsp_file + ": cannot read: " + std::strerror(errno);
                return nullptr;
            }
            en.ocsp.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            std::string stale;
            if (!check_ocsp(spec.ocsp_file, en.ocsp, ctx, leaves, &en.ocsp_covers, &en.ocsp_next_update, &stale, err)) {
                ERR_clear_error();
                return nullptr;
            }
            if (!stale.empty()) {
                t->warnings_.push_back(stale);
                en.ocsp.clear(); // nothing to staple
            }
            SSL_CTX_set_tlsext_status_cb(ctx, on_status);
            SSL_CTX_set_tlsext_status_arg(ctx, t.get());
        }
        SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
        if (opts.session_cache_size > 0) {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
            SSL_CTX_sess_set_cache_size(ctx, opts.session_cache_size);
        } else {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        }
        SSL_CTX_set_timeout(ctx, opts.session_timeout_s);
        if (t->ticket_keys_) t->ticket_keys_->install(ctx);
        SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
        SSL_CTX_set_tlsext_servername_arg(ctx, t.get());
        SSL_CTX_set_alpn_select_cb(ctx, on_alpn, t.get());

        size_t idx = t->entries_.size() - 1;
        if (spec.is_default && t->default_ < 0) t->default_ = static_cast<int>(idx);
        for (const std::string& n : en.names) {
            // The first entry to name a host wins (as in the config's order).
            if (n.size() > 2 && n[0] == '*' && n[1] == '.')
                t->wildcard_.emplace(n.substr(2), idx);
            else
                t->exact_.emplace(n, idx);
        }
    }
    return t;
}

TlsServerContext::~TlsServerContext() {
    for (Entry& e : entries_)
        SSL_CTX_free(e.ctx);
}

SSL_CTX* TlsServerContext::select(std::string_view name) const noexcept {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    char buf[256];
    if (name.size() >= sizeof buf) return default_ >= 0 ? entries_[static_cast<size_t>(default_)].ctx : nullptr;
    for (size_t i = 0; i < name.size(); i++)
        buf[i] = ascii_lower(name[i]);
    std::string_view n(buf, name.size());
    if (auto it = exact_.find(n); it != exact_.end()) return entries_[it->second].ctx;
    // A wildcard stands for exactly one label (RFC 6125 §6.4.3, as browsers match).
    size_t dot = n.find('.');
    if (dot != std::string_view::npos && dot > 0)
        if (auto it = wildcard_.find(n.substr(dot + 1)); it != wildcard_.end()) return entries_[it->second].ctx;
    return default_ >= 0 ? entries_[static_cast<size_t>(default_)].ctx : nullptr;
}

std::vector<std::vector<std::string>> TlsServerContext::names() const {
    std::vector<std::vector<std::string>> out;
    for (const Entry& e : entries_)
        out.push_back(e.names);
    return out;
}

int TlsServerContext::on_servername(SSL* ssl, int* alert, void* arg) noexcept {
    auto* self = static_cast<TlsServerContext*>(arg);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_CTX* ctx = sni ? self->select(sni)
                       : (self->default_ >= 0 ? self->entries_[static_cast<size_t>(self->default_)].ctx : nullptr);
    if (!ctx) {
        // No certificate for this name and no default: refuse rather than show another site's certificate.
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}

int TlsServerContext::on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                              unsigned int inlen, void* arg) noexcept {
    auto* self = static_cast<TlsServerContext*>(arg);
    const std::string& ours = self->alpn_wire_;
    // Our preference first; the answer points into the client's list (OpenSSL copies it).
    for (size_t i = 0; i < ours.size(); i += 1 + static_cast<unsigned char>(ours[i])) {
        size_t len = static_cast<unsigned char>(ours[i]);
        for (unsigned int j = 0; j < inlen; j += 1u + in[j]) {
            if (j + 1u + in[j] > inlen) break; // a malformed list: stop
            if (in[j] == len && std::memcmp(in + j + 1, ours.data() + i + 1, len) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK; // no common protocol: carry on without ALPN (HTTP/1.1)
}

int TlsServerContext::on_status(SSL* ssl, void* arg) noexcept {
    auto* self = static_cast<TlsServerContext*>(arg);
    SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
    for (const Entry& e : self->entries_) {
        if (e.ctx != ctx || e.ocsp.empty()) continue;
        // Only for a certificate the response is about (an entry's ECDSA and RSA certificates have their own).
        X509* served = SSL_get_certificate(ssl);
        bool covers = false;
        for (X509* c : e.ocsp_covers)
            covers = covers || (served && X509_cmp(c, served) == 0);
        if (!covers) return SSL_TLSEXT_ERR_NOACK;
        if (e.ocsp_next_update && std::time(nullptr) > e.ocsp_next_update + kOcspSkewSeconds) {
            // Expired while running: stop stapling it, say so once.
            if (!e.ocsp_expired_logged->exchange(true))
                shared::log::warn("tls", "OCSP response expired: no longer stapled until the file is refreshed "
                                         "(then SIGHUP)");
            return SSL_TLSEXT_ERR_NOACK;
        }
        // OpenSSL takes ownership of the buffer it is given.
        auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(e.ocsp.size()));
        if (!copy) return SSL_TLSEXT_ERR_NOACK;
        std::memcpy(copy, e.ocsp.data(), e.ocsp.size());
        SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(e.ocsp.size()));
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

} // namespace shared
