// The [tls] section: HTTPS listen addresses and certificates, each certificate loaded at parse time so a bad one
// is reported at its own key (file:line) with OpenSSL's reason.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "edge/config/edge_config.h"
#include "tests/edge/config/config_dir.h"

using namespace edge;
namespace fs = std::filesystem;

namespace {

// The fixture with the example certificates under "tls/"; load() wraps a [tls] section into a whole config.
struct TlsConfigDir : testing::ConfigDir {
    TlsConfigDir() { copy_example_certs(); }
    std::optional<EdgeConfig> load(const std::string& tls) {
        return testing::ConfigDir::load("listen = \"127.0.0.1:8080\"\n" + tls +
                                        "\n[[origin]]\nname = \"site\"\ntype = \"bucket\"\npath = \"site\"\n");
    }
};

const char* kTwoCerts = R"(
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certificate]]
cert = "tls/example.test.crt"
key = "tls/example.test.key"
default = true
[[tls.certificate]]
cert = "tls/www.example.test.crt"
key = "tls/www.example.test.key"
)";

} // namespace

TEST_CASE("TLS config: listeners and certificates, paths relative to the config", "[edge][config][tls]") {
    TlsConfigDir d;
    auto c = d.load(kTwoCerts);
    INFO(d.messages());
    REQUIRE(c);
    CHECK(d.diags.all().empty());
    REQUIRE(c->tls.enabled());
    CHECK(c->tls.listen.at(0).to_string() == "127.0.0.1:8443");
    REQUIRE(c->tls.options.certificates.size() == 2);
    CHECK(c->tls.options.certificates[0].is_default);
    CHECK(c->tls.options.certificates[0].pairs.at(0).cert_file == (d.dir / "tls/example.test.crt").string());
    CHECK(c->tls.options.alpn == std::vector<std::string>{"h2", "http/1.1"});
    CHECK(c->tls.session_ticket_rotation_ms == 3'600'000);
    std::string err;
    auto ctx = shared::TlsServerContext::create(c->tls.options, &err);
    REQUIRE(ctx);
    CHECK(ctx->select("www.example.test") != ctx->select("example.test"));
    CHECK(ctx->select("img.example.test") == ctx->select("example.test"));
}

TEST_CASE("TLS config: no [tls] means no HTTPS listener", "[edge][config][tls]") {
    TlsConfigDir d;
    auto c = d.load("");
    REQUIRE(c);
    CHECK(!c->tls.enabled());
}

TEST_CASE("TLS config: bad certificates are errors at their key, with the reason", "[edge][config][tls]") {
    TlsConfigDir d;
    SECTION("missing file") {
        CHECK(!d.load("[tls]\nlisten = \"127.0.0.1:8443\"\n[[tls.certificate]]\ncert = \"tls/nope.crt\"\n"
                      "key = \"tls/example.test.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("edge.toml:5") && Catch::Contains("tls.certificate[0].cert") &&
                                     Catch::Contains("cert") && Catch::Contains("nope.crt"));
    }
    SECTION("key of another certificate") {
        CHECK(!d.load("[tls]\nlisten = \"127.0.0.1:8443\"\n[[tls.certificate]]\ncert = \"tls/example.test.crt\"\n"
                      "key = \"tls/www.example.test.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("tls.certificate[0].key") && Catch::Contains("mismatch"));
    }
    SECTION("a key that is not a key") {
        std::ofstream(d.dir / "tls/bad.key") << "not a key\n";
        CHECK(!d.load("[tls]\nlisten = \"127.0.0.1:8443\"\n[[tls.certificate]]\ncert = \"tls/example.test.crt\"\n"
                      "key = \"tls/bad.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("bad.key"));
    }
    SECTION("cert and key lists of different lengths") {
        CHECK(!d.load(
            "[tls]\nlisten = \"127.0.0.1:8443\"\n[[tls.certificate]]\n"
            "cert = [\"tls/example.test.crt\", \"tls/www.example.test.crt\"]\nkey = \"tls/example.test.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("one key file per certificate file"));
    }
    SECTION("a listener without certificates") {
        CHECK(!d.load("[tls]\nlisten = \"127.0.0.1:8443\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("at least one [[tls.certificate]]"));
    }
    SECTION("two defaults") {
        CHECK(!d.load(std::string(kTwoCerts) + "default = true\n"));
        CHECK_THAT(d.messages(), Catch::Contains("only one certificate may be the default"));
    }
    SECTION("bad ciphers") {
        CHECK(!d.load(std::string("[tls]\nciphers = \"NOT-A-CIPHER\"\nlisten = \"127.0.0.1:8443\"\n") +
                      "[[tls.certificate]]\ncert = \"tls/example.test.crt\"\nkey = \"tls/example.test.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("ciphers") && Catch::Contains("NOT-A-CIPHER"));
    }
    SECTION("ALPN other than h2 and http/1.1") {
        CHECK(!d.load(std::string("[tls]\nalpn = [\"h3\", \"http/1.1\"]\nlisten = \"127.0.0.1:8443\"\n") +
                      "[[tls.certificate]]\ncert = \"tls/example.test.crt\"\nkey = \"tls/example.test.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("alpn") && Catch::Contains("h3"));
    }
    SECTION("ALPN h2 alone with HTTP/2 off") {
        CHECK(!d.load(std::string("[tls]\nalpn = [\"h2\"]\nlisten = \"127.0.0.1:8443\"\n") +
                      "[[tls.certificate]]\ncert = \"tls/example.test.crt\"\nkey = \"tls/example.test.key\"\n" +
                      "[http2]\nenabled = false\n"));
        CHECK_THAT(d.messages(), Catch::Contains("alpn") && Catch::Contains("h2"));
    }
    SECTION("a bad address") {
        CHECK(!d.load(std::string("[tls]\nlisten = \"nowhere\"\n") +
                      "[[tls.certificate]]\ncert = \"tls/example.test.crt\"\nkey = \"tls/example.test.key\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("listen"));
    }
}
