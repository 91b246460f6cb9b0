// The HTTPS listener's TLS side, handshaking in process over memory BIOs with an OpenSSL client: certificates by
// SNI (exact, one-label wildcard, default, none), ECDSA and RSA for one name, TLS 1.1 refused, ALPN, resumption by
// ticket across two contexts sharing one key ring (two workers, or a reload) and after a key rotation, renegotiation
// refused, OCSP stapling. Certificates are made by the openssl command at test time.
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "shared/tls/tls_server_context.h"

using namespace shared;
namespace fs = std::filesystem;

namespace {

struct CertDir {
    fs::path dir;
    CertDir() {
        char tmpl[] = "/tmp/meridian-tls-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
    }
    ~CertDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    // Self-signed, for `cn` and the given SANs ("DNS:a,DNS:*.b"); `type` "ec" or "rsa".
    TlsKeyPair make(const std::string& stem, const std::string& cn, const std::string& san, const std::string& type) {
        std::string key = (dir / (stem + ".key")).string(), crt = (dir / (stem + ".crt")).string();
        std::string newkey = type == "ec" ? "-newkey ec -pkeyopt ec_paramgen_curve:P-256" : "-newkey rsa:2048";
        std::string cmd = "openssl req -x509 " + newkey + " -nodes -days 2 -subj /CN=" + cn + " -keyout " + key +
                          " -out " + crt + (san.empty() ? "" : " -addext subjectAltName=" + san) + " 2>/dev/null";
        REQUIRE(std::system(cmd.c_str()) == 0);
        return {crt, key};
    }
};

// One client/server handshake over memory BIOs. Returns true when both sides finished.
struct Handshake {
    SSL* client = nullptr;
    SSL* server = nullptr;
    Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const char* sni) {
        client = SSL_new(client_ctx);
        server = SSL_new(server_ctx);
        BIO *c2s_r, *c2s_w, *s2c_r, *s2c_w;
        BIO_new_bio_pair(&c2s_w, 0, &c2s_r, 0);
        BIO_new_bio_pair(&s2c_w, 0, &s2c_r, 0);
        SSL_set_bio(client, s2c_r, c2s_w);
        SSL_set_bio(server, c2s_r, s2c_w);
        if (sni) SSL_set_tlsext_host_name(client, sni);
        SSL_set_connect_state(client);
        SSL_set_accept_state(server);
    }
    ~Handshake() {
        // As after a close_notify: a session freed without one is made non-resumable.
        SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_set_shutdown(server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(client);
        SSL_free(server);
    }
    bool run() {
        bool cdone = false, sdone = false;
        for (int i = 0; i < 50 && !(cdone && sdone); i++) {
            if (!cdone) {
                int r = SSL_do_handshake(client);
                if (r == 1)
                    cdone = true;
                else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
                    return false;
            }
            if (!sdone) {
                int r = SSL_do_handshake(server);
                if (r == 1)
                    sdone = true;
                else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
                    return false;
            }
        }
        // TLS 1.3 tickets arrive after the handshake: let the client read them.
        char buf[16];
        SSL_read(client, buf, sizeof buf);
        ERR_clear_error();
        return cdone && sdone;
    }
    std::string peer_cn() const {
        X509* x = SSL_get1_peer_certificate(client);
        if (!x) return "";
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        std::string key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(x)) == EVP_PKEY_EC ? "/ec" : "/rsa";
        X509_free(x);
        return cn + key_type;
    }
    std::string alpn() const {
        const unsigned char* p = nullptr;
        unsigned int n = 0;
        SSL_get0_alpn_selected(client, &p, &n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }
};

SSL_CTX* client_ctx(int max_version = 0) {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    if (max_version) {
        SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(c, max_version);
        SSL_CTX_set_security_level(c, 0);
    }
    return c;
}

} // namespace

TEST_CASE("TLS server: certificates by SNI, default, ECDSA and RSA side by side", "[shared][tls]") {
    CertDir d;
    TlsServerOptions o;
    TlsCertificateSpec site, apex, other;
    site.pairs = {d.make("www-ec", "www.example.test", "DNS:www.example.test,DNS:*.cdn.example.test", "ec"),
                  d.make("www-rsa", "www.example.test", "DNS:www.example.test,DNS:*.cdn.example.test", "rsa")};
    apex.pairs = {d.make("apex", "example.test", "DNS:example.test", "ec")};
    apex.is_default = true;
    other.pairs = {d.make("other", "other.test", "", "ec")}; // no SAN: its CN names it
    o.certificates = {site, apex, other};
    std::string err;
    auto t = TlsServerContext::create(o, &err);
    INFO(err);
    REQUIRE(t);
    CHECK(t->names()[2] == std::vector<std::string>{"other.test"});

    SSL_CTX* c = client_ctx();
    auto cn_for = [&](const char* sni) {
        Handshake h(t->initial(), c, sni);
        return h.run() ? h.peer_cn() : std::string("failed");
    };
    CHECK(cn_for("www.example.test") == "www.example.test/ec"); // ECDSA preferred when the client takes it
    CHECK(cn_for("WWW.Example.Test.") == "www.example.test/ec");
    CHECK(cn_for("img.cdn.example.test") == "www.example.test/ec"); // a wildcard: one label
    CHECK(cn_for("a.b.cdn.example.test") == "example.test/ec");     // two labels: not the wildcard's, the default
    CHECK(cn_for("other.test") == "other.test/ec");
    CHECK(cn_for("unknown.test") == "example.test/ec");
    CHECK(cn_for(nullptr) == "example.test/ec");
    // A client that only takes RSA signatures gets the RSA certificate of the same name.
    SSL_CTX* rsa_only = client_ctx();
    SSL_CTX_set1_sigalgs_list(rsa_only, "RSA-PSS+SHA256:RSA+SHA256");
    {
        Handshake h(t->initial(), rsa_only, "www.example.test");
        REQUIRE(h.run());
        CHECK(h.peer_cn() == "www.example.test/rsa");
    }
    SSL_CTX_free(rsa_only);

    // Without a default, an unknown name is refused rather than answered with another site's certificate.
    o.certificates[1].is_default = false;
    auto strict = TlsServerContext::create(o, &err);
    REQUIRE(strict);
    {
        Handshake h(strict->initial(), c, "unknown.test");
        CHECK_FALSE(h.run());
    }
    {
        Handshake h(strict->initial(), c, "other.test");
        CHECK(h.run());
    }
    SSL_CTX_free(c);
}

TEST_CASE("TLS server: versions, ALPN, renegotiation", "[shared][tls]") {
    CertDir d;
    TlsServerOptions o;
    TlsCertificateSpec s;
    s.pairs = {d.make("a", "a.test", "DNS:a.test", "ec")};
    o.certificates = {s};
    o.alpn = {"h2", "http/1.1"};
    std::string err;
    auto t = TlsServerContext::create(o, &err);
    REQUIRE(t);
    for (int v : {TLS1_VERSION, TLS1_1_VERSION}) {
        SSL_CTX* old = client_ctx(v);
        Handshake h(t->initial(), old, "a.test");
        CHECK_FALSE(h.run());
        SSL_CTX_free(old);
    }
    SSL_CTX* tls12 = client_ctx(TLS1_2_VERSION);
    {
        Handshake h(t->initial(), tls12, "a.test");
        REQUIRE(h.run());
        CHECK(SSL_version(h.client) == TLS1_2_VERSION);
        // Renegotiation is refused: the server answers a renegotiation request with an alert or ignores it, and the
        // connection never renegotiates.
        CHECK(SSL_renegotiate(h.client) == 1);
        SSL_do_handshake(h.client);
        char buf[8];
        SSL_read(h.server, buf, sizeof buf);
        CHECK(SSL_renegotiate_pending(h.client) == 1);
        ERR_clear_error();
    }
    SSL_CTX_free(tls12);

    auto alpn_with = [&](const std::vector<std::string>& offer) {
        SSL_CTX* c = client_ctx();
        std::string wire;
        for (const auto& p : offer) {
            wire.push_back(static_cast<char>(p.size()));
            wire += p;
        }
        if (!wire.empty())
            SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size()));
        Handshake h(t->initial(), c, "a.test");
        std::string r = h.run() ? h.alpn() : "failed";
        SSL_CTX_free(c);
        return r;
    };
    CHECK(alpn_with({"http/1.1", "h2"}) == "h2"); // the server's preference
    CHECK(alpn_with({"http/1.1"}) == "http/1.1");
    CHECK(alpn_with({"spdy/3", "acme-tls/1"}).empty()); // no overlap: no ALPN, not a failure
    CHECK(alpn_with({}).empty());
}

TEST_CASE("TLS server: resumption across contexts sharing a ticket key ring, and after a rotation", "[shared][tls]") {
    CertDir d;
    TlsServerOptions o;
    TlsCertificateSpec s;
    s.pairs = {d.make("a", "a.test", "DNS:a.test", "ec")};
    o.certificates = {s};
    o.ticket_keys = std::make_shared<TlsTicketKeys>(3600, 2);
    o.ticket_keys->rotate(1000);
    std::string err;
    auto worker1 = TlsServerContext::create(o, &err);
    auto worker2 = TlsServerContext::create(o, &err); // another worker, or the context of a reload
    REQUIRE(worker1);
    REQUIRE(worker2);
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        INFO("version " << version);
        SSL_CTX* c = client_ctx();
        SSL_CTX_set_min_proto_version(c, version);
        SSL_CTX_set_max_proto_version(c, version);
        SSL_SESSION* sess = nullptr;
        {
            Handshake h(worker1->initial(), c, "a.test");
            REQUIRE(h.run());
            CHECK_FALSE(SSL_session_reused(h.client));
            sess = SSL_get1_session(h.client);
        }
        REQUIRE(sess);
        {
            Handshake h(worker2->initial(), c, "a.test");
            SSL_set_session(h.client, sess);
            REQUIRE(h.run());
            CHECK(SSL_session_reused(h.client));
        }
        // One rotation later the old key still decrypts; two later (ring of 2) it is gone: a full handshake.
        o.ticket_keys->force_rotate(5000);
        {
            Handshake h(worker2->initial(), c, "a.test");
            SSL_set_session(h.client, sess);
            REQUIRE(h.run());
            CHECK(SSL_session_reused(h.client));
        }
        o.ticket_keys->force_rotate(9000);
        {
            Handshake h(worker1->initial(), c, "a.test");
            SSL_set_session(h.client, sess);
            REQUIRE(h.run());
            CHECK_FALSE(SSL_session_reused(h.client));
        }
        CHECK(o.ticket_keys->key_count() == 2);
        SSL_SESSION_free(sess);
        SSL_CTX_free(c);
    }
    CHECK_FALSE(o.ticket_keys->rotate(9000 + 3599)); // not yet due
    CHECK(o.ticket_keys->rotate(9000 + 3600));
}

TEST_CASE("TLS server: configuration errors name the file", "[shared][tls]") {
    CertDir d;
    TlsKeyPair a = d.make("a", "a.test", "DNS:a.test", "ec");
    TlsKeyPair b = d.make("b", "b.test", "DNS:b.test", "ec");
    std::string err;
    auto attempt = [&](TlsServerOptions o) {
        err.clear();
        return TlsServerContext::create(o, &err) != nullptr;
    };
    TlsServerOptions o;
    CHECK_FALSE(attempt(o));
    o.certificates = {TlsCertificateSpec{{{a.cert_file, b.key_file}}, "", false}};
    CHECK_FALSE(attempt(o));
    CHECK(err.find(b.key_file) != std::string::npos);
    CHECK(err.find("mismatch") != std::string::npos);
    o.certificates = {TlsCertificateSpec{{{a.cert_file + ".missing", a.key_file}}, "", false}};
    CHECK_FALSE(attempt(o));
    CHECK(err.find(".missing") != std::string::npos);
    o.certificates = {TlsCertificateSpec{{a}, "", false}};
    o.ciphers = "NO-SUCH-CIPHER";
    CHECK_FALSE(attempt(o));
    CHECK(err.find("ciphers") != std::string::npos);
    o.ciphers.clear();
    std::ofstream((d.dir / "bad.ocsp").string()) << "not DER";
    o.certificates[0].ocsp_file = (d.dir / "bad.ocsp").string();
    CHECK_FALSE(attempt(o));
    CHECK(err.find("OCSP") != std::string::npos);
    o.certificates[0].ocsp_file.clear();
    CHECK(attempt(o));
}

namespace {

// A DER OCSP response for the self-signed certificate `kp` (its own issuer and responder), valid from `this_days`
// to `next_days` (days from now, negative = past).
std::string ocsp_response(const TlsKeyPair& kp, int status, long this_days, long next_days) {
    FILE* f = std::fopen(kp.cert_file.c_str(), "r");
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    f = std::fopen(kp.key_file.c_str(), "r");
    EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE((cert && key));
    OCSP_BASICRESP* bs = OCSP_BASICRESP_new();
    OCSP_CERTID* id = OCSP_cert_to_id(nullptr, cert, cert);
    ASN1_TIME* this_upd = X509_gmtime_adj(nullptr, this_days * 86400);
    ASN1_TIME* next_upd = X509_gmtime_adj(nullptr, next_days * 86400);
    ASN1_TIME* rev = status == V_OCSP_CERTSTATUS_REVOKED ? X509_gmtime_adj(nullptr, -3600) : nullptr;
    REQUIRE(OCSP_basic_add1_status(bs, id, status, OCSP_REVOKED_STATUS_KEYCOMPROMISE, rev, this_upd, next_upd) !=
            nullptr);
    ASN1_TIME_free(rev);
    REQUIRE(OCSP_basic_sign(bs, cert, key, EVP_sha256(), nullptr, 0) == 1);
    OCSP_RESPONSE* resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    unsigned char* der = nullptr;
    int n = i2d_OCSP_RESPONSE(resp, &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(bs);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(this_upd);
    ASN1_TIME_free(next_upd);
    EVP_PKEY_free(key);
    X509_free(cert);
    return out;
}

// The stapled response the client got ("" when none).
std::string stapled(TlsServerContext& t, const char* sni) {
    SSL_CTX* c = client_ctx();
    std::string out;
    {
        Handshake h(t.initial(), c, sni);
        SSL_set_tlsext_status_type(h.client, TLSEXT_STATUSTYPE_ocsp);
        REQUIRE(h.run());
        const unsigned char* p = nullptr;
        long n = SSL_get_tlsext_status_ocsp_resp(h.client, &p);
        if (p && n > 0) out.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    }
    SSL_CTX_free(c);
    return out;
}

} // namespace

TEST_CASE("TLS server: OCSP responses stapled when current, stale ones warned about, wrong ones refused",
          "[shared][tls]") {
    CertDir d;
    TlsKeyPair a = d.make("a", "a.test", "DNS:a.test", "ec");
    TlsKeyPair b = d.make("b", "b.test", "DNS:b.test", "ec");
    auto with = [&](const std::string& name, const std::string& der, std::string* err) {
        std::string file = (d.dir / name).string();
        std::ofstream(file, std::ios::binary) << der;
        TlsServerOptions o;
        o.certificates = {TlsCertificateSpec{{a}, file, true}};
        return TlsServerContext::create(o, err);
    };
    std::string err;
    const std::string good = ocsp_response(a, V_OCSP_CERTSTATUS_GOOD, -1, 6);
    auto t = with("good.der", good, &err);
    REQUIRE(t);
    CHECK(t->warnings().empty());
    CHECK(stapled(*t, "a.test") == good);

    // Past its nextUpdate: loads (a late refresh must not stop a restart) with a warning, and nothing is stapled.
    t = with("stale.der", ocsp_response(a, V_OCSP_CERTSTATUS_GOOD, -10, -3), &err);
    REQUIRE(t);
    REQUIRE(t->warnings().size() == 1);
    CHECK(t->warnings()[0].find("stale.der is not valid now") != std::string::npos);
    CHECK(stapled(*t, "a.test").empty());
    // Not valid yet (beyond the clock skew allowed): the same.
    t = with("future.der", ocsp_response(a, V_OCSP_CERTSTATUS_GOOD, 2, 9), &err);
    REQUIRE(t);
    CHECK(t->warnings().size() == 1);
    CHECK(stapled(*t, "a.test").empty());

    // Errors name the file and say why.
    CHECK_FALSE(with("revoked.der", ocsp_response(a, V_OCSP_CERTSTATUS_REVOKED, -1, 6), &err));
    CHECK(err.find("revoked.der: the certificate's status is revoked") != std::string::npos);
    CHECK_FALSE(with("other.der", ocsp_response(b, V_OCSP_CERTSTATUS_GOOD, -1, 6), &err));
    CHECK(err.find("other.der is not for the certificate") != std::string::npos);
    CHECK_FALSE(with("trailing.der", good + "junk", &err));
    CHECK(err.find("not a DER OCSP response") != std::string::npos);
    CHECK_FALSE(with("empty.der", "", &err));
    CHECK(err.find("empty.der") != std::string::npos);
}
