// ViewerTls without sockets: a client SSL and the viewer side exchange bytes through memory, as the connection
// moves them between its socket and the SSL.
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

#include "edge/server/viewer_tls.h"

using namespace edge;

namespace {

std::shared_ptr<shared::TlsServerContext> server_context() {
    shared::TlsServerOptions o;
    shared::TlsCertificateSpec www;
    www.pairs.push_back({std::string(MERIDIAN_SRC) + "/conf/examples/tls/www.example.test.crt",
                         std::string(MERIDIAN_SRC) + "/conf/examples/tls/www.example.test.key"});
    shared::TlsCertificateSpec def;
    def.pairs.push_back({std::string(MERIDIAN_SRC) + "/conf/examples/tls/example.test.crt",
                         std::string(MERIDIAN_SRC) + "/conf/examples/tls/example.test.key"});
    def.is_default = true;
    o.certificates = {def, www};
    std::string err;
    auto ctx = shared::TlsServerContext::create(o, &err);
    INFO(err);
    REQUIRE(ctx);
    return ctx;
}

// A TLS client over a memory BIO pair.
struct Client {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = nullptr;
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    explicit Client(const char* sni, int max_version = 0) {
        if (max_version) SSL_CTX_set_max_proto_version(ctx, max_version);
        ssl = SSL_new(ctx);
        SSL_set_bio(ssl, rbio, wbio);
        if (sni) SSL_set_tlsext_host_name(ssl, sni);
        SSL_set_connect_state(ssl);
    }
    ~Client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    std::string take() {
        std::string out;
        char buf[4096];
        int n;
        while ((n = BIO_read(wbio, buf, sizeof buf)) > 0)
            out.append(buf, static_cast<size_t>(n));
        return out;
    }
};

std::string take(ViewerTls& v) {
    std::string out(v.output_pending(), '\0');
    out.resize(v.take_output(out.data(), out.size()));
    return out;
}

// Runs the handshake to its end (or a failure); returns the viewer's last status.
ViewerTls::Status handshake(Client& c, ViewerTls& v) {
    ViewerTls::Status st = ViewerTls::Status::want_more;
    for (int i = 0; i < 10; ++i) {
        ERR_clear_error();
        SSL_do_handshake(c.ssl);
        std::string to_server = c.take();
        st = v.feed(to_server.data(), to_server.size());
        std::string to_client = take(v);
        BIO_write(c.rbio, to_client.data(), static_cast<int>(to_client.size()));
        if (st == ViewerTls::Status::error) return st;
        if (v.handshake_done() && SSL_is_init_finished(c.ssl)) return st;
    }
    return st;
}

std::string subject_cn(SSL* ssl) {
    X509* x = SSL_get1_peer_certificate(ssl);
    if (!x) return "";
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    X509_free(x);
    return cn;
}

} // namespace

TEST_CASE("ViewerTls: handshake by SNI, data both ways, close_notify", "[edge][server][tls]") {
    auto ctx = server_context();
    ViewerTls v(ctx);
    REQUIRE(v.ok());
    CHECK(v.protocol().empty());
    Client c("www.example.test");
    REQUIRE(handshake(c, v) == ViewerTls::Status::ok);
    CHECK(v.handshake_done());
    CHECK(subject_cn(c.ssl) == "www.example.test");
    CHECK(v.protocol() == "TLSv1.3");
    CHECK(!v.cipher().empty());

    // Viewer -> edge: the request comes out of read() whole.
    const std::string req = "GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n";
    REQUIRE(SSL_write(c.ssl, req.data(), static_cast<int>(req.size())) == static_cast<int>(req.size()));
    std::string wire = c.take();
    REQUIRE(v.feed(wire.data(), wire.size()) == ViewerTls::Status::ok);
    char buf[256];
    long n = v.read(buf, sizeof buf);
    REQUIRE(n == static_cast<long>(req.size()));
    CHECK(std::string(buf, static_cast<size_t>(n)) == req);
    CHECK(v.read(buf, sizeof buf) == 0); // nothing more now

    // Edge -> viewer: 100 KiB arrive intact.
    std::string body(100 << 10, 'x');
    for (size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<char>('a' + i % 26);
    REQUIRE(v.write(body.data(), body.size()));
    std::string out = take(v);
    CHECK(out.size() > body.size()); // records add framing and tags
    BIO_write(c.rbio, out.data(), static_cast<int>(out.size()));
    std::string got;
    int r;
    while ((r = SSL_read(c.ssl, buf, sizeof buf)) > 0)
        got.append(buf, static_cast<size_t>(r));
    CHECK(got == body);

    // The viewer's close_notify reads as the end of input.
    SSL_shutdown(c.ssl);
    wire = c.take();
    v.feed(wire.data(), wire.size());
    CHECK(v.read(buf, sizeof buf) == -1);
}

TEST_CASE("ViewerTls: no SNI gets the default certificate", "[edge][server][tls]") {
    auto ctx = server_context();
    ViewerTls v(ctx);
    Client c(nullptr);
    REQUIRE(handshake(c, v) == ViewerTls::Status::ok);
    CHECK(subject_cn(c.ssl) == "example.test");
}

TEST_CASE("ViewerTls: plain HTTP, garbage and TLS 1.1 fail the handshake and are counted", "[edge][server][tls]") {
    auto ctx = server_context();
    ViewerTlsStats& st = viewer_tls_stats();
    uint64_t before = st.handshake_errors_total();
    auto count = [&st](TlsHandshakeFailure f) { return st.handshake_errors[static_cast<size_t>(f)].load(); };
    uint64_t http0 = count(TlsHandshakeFailure::http_request), junk0 = count(TlsHandshakeFailure::not_tls),
             version0 = count(TlsHandshakeFailure::protocol_version);
    {
        ViewerTls v(ctx);
        const std::string http = "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n";
        CHECK(v.feed(http.data(), http.size()) == ViewerTls::Status::error);
        CHECK(!v.handshake_done());
        CHECK(v.failure() == TlsHandshakeFailure::http_request);
        CHECK(std::string(v.error_reason()).size() > 0);
        char buf[16];
        CHECK(v.read(buf, sizeof buf) == -2);
        CHECK(!v.write("x", 1));
    }
    {
        ViewerTls v(ctx);
        std::string junk(3000, '\0');
        for (size_t i = 0; i < junk.size(); ++i)
            junk[i] = static_cast<char>(i * 131 + 7);
        CHECK(v.feed(junk.data(), junk.size()) == ViewerTls::Status::error);
        CHECK(v.failure() == TlsHandshakeFailure::not_tls);
    }
    {
        ViewerTls v(ctx);
        Client c("example.test", TLS1_1_VERSION);
        SSL_CTX_set_security_level(c.ctx, 0);
        SSL_set_security_level(c.ssl, 0);
        SSL_set_min_proto_version(c.ssl, TLS1_VERSION);
        CHECK(handshake(c, v) == ViewerTls::Status::error);
        ERR_clear_error();
        CHECK(SSL_do_handshake(c.ssl) != 1); // the client got the protocol_version alert
        ERR_clear_error();
        CHECK(v.failure() == TlsHandshakeFailure::protocol_version);
    }
    CHECK(st.handshake_errors_total() == before + 3);
    CHECK(count(TlsHandshakeFailure::http_request) == http0 + 1);
    CHECK(count(TlsHandshakeFailure::not_tls) == junk0 + 1);
    CHECK(count(TlsHandshakeFailure::protocol_version) == version0 + 1);
}

TEST_CASE("ViewerTls: a handshake fed one byte at a time completes", "[edge][server][tls]") {
    auto ctx = server_context();
    ViewerTls v(ctx);
    Client c("www.example.test");
    SSL_do_handshake(c.ssl);
    std::string hello = c.take();
    for (size_t i = 0; i + 1 < hello.size(); ++i)
        REQUIRE(v.feed(hello.data() + i, 1) == ViewerTls::Status::want_more);
    REQUIRE(v.feed(hello.data() + hello.size() - 1, 1) == ViewerTls::Status::want_more); // server flight sent
    std::string flight = take(v);
    BIO_write(c.rbio, flight.data(), static_cast<int>(flight.size()));
    REQUIRE(SSL_do_handshake(c.ssl) == 1);
    std::string fin = c.take();
    CHECK(v.feed(fin.data(), fin.size()) == ViewerTls::Status::ok);
    CHECK(v.handshake_done());
}

TEST_CASE("ViewerTls: an unknown name without a default fails with unrecognized_name, counted as unknown_sni",
          "[edge][server][tls]") {
    shared::TlsServerOptions o;
    shared::TlsCertificateSpec www;
    www.pairs.push_back({std::string(MERIDIAN_SRC) + "/conf/examples/tls/www.example.test.crt",
                         std::string(MERIDIAN_SRC) + "/conf/examples/tls/www.example.test.key"});
    o.certificates = {www};
    std::string err;
    auto ctx = shared::TlsServerContext::create(o, &err);
    REQUIRE(ctx);
    auto& unknown = viewer_tls_stats().handshake_errors[static_cast<size_t>(TlsHandshakeFailure::unknown_sni)];
    uint64_t before = unknown.load();
    for (const char* name : {"other.invalid", static_cast<const char*>(nullptr)}) {
        ViewerTls v(ctx);
        Client c(name);
        REQUIRE(handshake(c, v) == ViewerTls::Status::error);
        CHECK(v.failure() == TlsHandshakeFailure::unknown_sni);
        ERR_clear_error();
        CHECK(SSL_do_handshake(c.ssl) != 1);
        CHECK(ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_TLSV1_UNRECOGNIZED_NAME);
        ERR_clear_error();
    }
    CHECK(unknown.load() == before + 2);
    ViewerTls v(ctx);
    Client c("www.example.test");
    CHECK(handshake(c, v) == ViewerTls::Status::ok); // a served name still works
}

TEST_CASE("ViewerTls: half a record is seen as pending, the whole one is read", "[edge][server][tls]") {
    auto ctx = server_context();
    ViewerTls v(ctx);
    Client c("www.example.test");
    REQUIRE(handshake(c, v) == ViewerTls::Status::ok);
    char buf[256];
    CHECK(v.read(buf, sizeof buf) == 0);
    CHECK(!v.partial_record());
    const std::string req = "GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n";
    REQUIRE(SSL_write(c.ssl, req.data(), static_cast<int>(req.size())) == static_cast<int>(req.size()));
    std::string wire = c.take();
    size_t half = wire.size() / 2;
    REQUIRE(v.feed(wire.data(), half) == ViewerTls::Status::ok);
    CHECK(v.read(buf, sizeof buf) == 0);
    CHECK(v.partial_record());
    REQUIRE(v.feed(wire.data() + half, wire.size() - half) == ViewerTls::Status::ok);
    CHECK(v.read(buf, sizeof buf) == static_cast<long>(req.size()));
    CHECK(!v.partial_record());
}
