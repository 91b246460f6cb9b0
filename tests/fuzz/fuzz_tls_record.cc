// libFuzzer harness for the viewer TLS record path (edge/server/viewer_tls.h): the fuzzer's bytes are what a
// viewer sends to the HTTPS listener, handed to ViewerTls in pieces whose sizes come from the input, exactly as the
// connection hands over what it reads (a real server context with the example certificates, SNI, ALPN, OCSP off).
//
// The first byte chooses the scene: bit 0 clear, the bytes are the viewer's stream from its first byte (ClientHello
// parsing, SNI and ALPN callbacks, record framing, alerts, SSLv2-style hellos, plain HTTP); bit 0 set, an in-memory
// client first completes a real handshake (bit 1: TLS 1.2 instead of 1.3), then the bytes follow as the viewer's
// next records (record headers and lengths, records that do not decrypt, renegotiation and key-update attempts,
// close_notify). Either way the server reads, answers with a response and shuts down, as the connection does. It
// must never crash, leak, or hand out more than it was asked for.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "edge/server/viewer_tls.h"

namespace {

std::shared_ptr<shared::TlsServerContext> server_context() {
    static std::shared_ptr<shared::TlsServerContext> ctx = [] {
        const std::string dir = std::string(MERIDIAN_SOURCE_DIR) + "/conf/examples/tls/";
        shared::TlsServerOptions o;
        shared::TlsCertificateSpec def;
        def.pairs.push_back({dir + "example.test.crt", dir + "example.test.key"});
        def.is_default = true;
        shared::TlsCertificateSpec www;
        www.pairs.push_back({dir + "www.example.test.crt", dir + "www.example.test.key"});
        o.certificates = {def, www};
        o.alpn = {"h2", "http/1.1"};
        o.session_cache_size = 0; // no state carried from one input to the next
        std::string err;
        auto c = shared::TlsServerContext::create(o, &err);
        if (!c) std::abort();
        return c;
    }();
    return ctx;
}

SSL_CTX* client_context() {
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        return c;
    }();
    return ctx;
}

std::string drain(BIO* b) {
    std::string out;
    char buf[4096];
    int n;
    while ((n = BIO_read(b, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

std::string take(edge::ViewerTls& v) {
    std::string out(v.output_pending(), '\0');
    size_t n = v.take_output(out.data(), out.size());
    if (n != out.size() || v.output_pending() != 0) std::abort();
    return out;
}

// A real handshake with an in-memory client; false when it does not complete (it always should).
bool handshake(edge::ViewerTls& v, bool tls12) {
    SSL* c = SSL_new(client_context());
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c, rbio, wbio);
    SSL_set_tlsext_host_name(c, "www.example.test");
    if (tls12) SSL_set_max_proto_version(c, TLS1_2_VERSION);
    SSL_set_connect_state(c);
    bool ok = false;
    for (int i = 0; i < 8 && !ok; ++i) {
        ERR_clear_error();
        SSL_do_handshake(c);
        std::string to_server = drain(wbio);
        if (v.feed(to_server.data(), to_server.size()) == edge::ViewerTls::Status::error) break;
        std::string to_client = take(v);
        BIO_write(rbio, to_client.data(), static_cast<int>(to_client.size()));
        ok = v.handshake_done() && SSL_is_init_finished(c);
    }
    SSL_free(c);
    ERR_clear_error();
    return ok;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t mode = data[0];
    const size_t piece = (static_cast<size_t>(data[1]) * 37) % 1500 + 1; // 1 byte up to a segment's worth
    data += 2;
    size -= 2;

    edge::ViewerTls v(server_context());
    if (!v.ok()) std::abort();
    const bool after_handshake = mode & 1;
    if (after_handshake && !handshake(v, mode & 2)) std::abort();

    const char* s = reinterpret_cast<const char*>(data);
    size_t off = 0;
    char plain[512];
    bool failed = false;
    while (off < size && !failed) {
        size_t n = size - off < piece ? size - off : piece;
        edge::ViewerTls::Status st = v.feed(s + off, n);
        off += n;
        take(v); // handshake flights, alerts, tickets: what the connection would send
        if (st == edge::ViewerTls::Status::error) {
            if (v.handshake_done() && !after_handshake) std::abort(); // the fuzzer cannot finish a handshake
            failed = true;
            break;
        }
        if (!v.handshake_done()) {
            (void)v.partial_record();
            continue;
        }
        for (int reads = 0; reads < 64; ++reads) {
            long r = v.read(plain, sizeof plain);
            if (r > static_cast<long>(sizeof plain)) std::abort();
            if (r <= 0) {
                failed = r < 0;
                break;
            }
        }
        (void)v.partial_record();
        take(v);
    }
    if (v.handshake_done() && !failed) {
        static const char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if (!v.write(kResponse, sizeof kResponse - 1)) std::abort();
        if (take(v).size() <= sizeof kResponse - 1) std::abort(); // a record adds a header and a tag
    }
    (void)v.protocol();
    (void)v.cipher();
    v.shutdown();
    take(v);
    ERR_clear_error();
    return 0;
}
