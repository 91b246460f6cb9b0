#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "edge/access/signed_policy.h"
#include "edge/access/signed_request.h"
#include "edge/access/trusted_key_group.h"
#include "edge/access/url_safe_base64.h"
#include "edge/access/url_signer.h"

using namespace edge;

namespace {

PrivateKey rsa_key() {
    static PrivateKey k(EVP_RSA_gen(2048), EVP_PKEY_free);
    return k;
}
PrivateKey other_rsa_key() {
    static PrivateKey k(EVP_RSA_gen(2048), EVP_PKEY_free);
    return k;
}
PrivateKey ec_key() {
    static PrivateKey k(EVP_EC_gen("P-256"), EVP_PKEY_free);
    return k;
}

TrustedKeys trusted(std::initializer_list<std::pair<const char*, PrivateKey>> keys) {
    TrustedKeys t;
    t.group_names = {"g"};
    for (auto& [id, k] : keys)
        t.keys.push_back(TrustedKey{id, k, EVP_PKEY_get_base_id(k.get()) == EVP_PKEY_EC});
    return t;
}

constexpr int64_t kNow = 1'800'000'000;
const std::string kUrl = "http://cdn.example.test/private/a.jpg?size=large";

SignedParams params(const SignedValues& v) {
    SignedParams p;
    p.expires = v.expires;
    p.policy = v.policy;
    p.signature = v.signature;
    p.key_pair_id = v.key_pair_id;
    return p;
}

std::string custom(const std::string& resource, int64_t less, const std::string& extra = "") {
    return R"({"Statement":[{"Resource":")" + resource + R"(","Condition":{"DateLessThan":{"AWS:EpochTime":)" +
           std::to_string(less) + "}" + extra + "}}]}";
}

} // namespace

TEST_CASE("URL-safe base64: CloudFront's alphabet round-trips every length", "[edge][access]") {
    std::string bytes;
    for (int i = 0; i < 70; ++i) {
        std::string enc = url_safe_base64_encode(bytes);
        CHECK(enc.find_first_of("+/=") == std::string::npos);
        std::string dec;
        REQUIRE(url_safe_base64_decode(enc, &dec));
        CHECK(dec == bytes);
        bytes.push_back(static_cast<char>(i * 37 + 251)); // includes 0xfb/0xff: '+' and '/' in standard base64
    }
    CHECK(url_safe_base64_encode("\xfb\xff\xbf") == "-~-~");
    CHECK(url_safe_base64_encode("a") == "YQ__");
    std::string out;
    CHECK(url_safe_base64_decode("YQ", &out));
    CHECK(out == "a");
    CHECK(url_safe_base64_decode("YQ==", &out)); // the standard alphabet, as percent-decoded by some clients
    CHECK_FALSE(url_safe_base64_decode("Y", &out));
    CHECK_FALSE(url_safe_base64_decode("YQ_ _", &out));
    CHECK_FALSE(url_safe_base64_decode("YQ*_", &out));
    CHECK_FALSE(url_safe_base64_decode("YWJj_", &out));
}

TEST_CASE("Signed URL: canned policy string is CloudFront's, byte for byte", "[edge][access]") {
    CHECK(
        canned_policy("http://d.test/a.jpg", 1357034400) ==
        R"({"Statement":[{"Resource":"http://d.test/a.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]})");
}

TEST_CASE("Signed URL: canned policy with RSA-SHA1 and ECDSA P-256", "[edge][access]") {
    for (PrivateKey k : {rsa_key(), ec_key()}) {
        TrustedKeys t = trusted({{"K1", k}});
        SignedValues v = sign_request(k.get(), "K1", kUrl, kNow + 60, "");
        REQUIRE(!v.signature.empty());
        CHECK(verify_signed_request(t, params(v), kUrl, kNow, "127.0.0.1") == SignedDenial::none);
        // Expiry is exclusive: valid while now < Expires.
        CHECK(verify_signed_request(t, params(v), kUrl, kNow + 60, "127.0.0.1") == SignedDenial::expired);
        // Another URL (the canned policy is rebuilt from the request): the signature does not hold.
        CHECK(verify_signed_request(t, params(v), kUrl + "&x=1", kNow, "127.0.0.1") == SignedDenial::bad_signature);
        // Tampered Expires.
        SignedParams p = params(v);
        std::string later = std::to_string(kNow + 3600);
        p.expires = later;
        CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::bad_signature);
        // Tampered signature (one character changed).
        std::string sig = v.signature;
        sig[10] = sig[10] == 'A' ? 'B' : 'A';
        p = params(v);
        p.signature = sig;
        CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::bad_signature);
    }
}

TEST_CASE("Signed URL: RSA with Hash-Algorithm=SHA256", "[edge][access]") {
    TrustedKeys t = trusted({{"K1", rsa_key()}});
    // Signed with SHA-256 by hand (url_signer always uses SHA-1 for RSA, CloudFront's default).
    std::string policy = canned_policy(kUrl, kNow + 60);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, rsa_key().get()) == 1);
    REQUIRE(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(policy.data()), policy.size()) ==
            1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(policy.data()), policy.size()) == 1);
    EVP_MD_CTX_free(ctx);
    std::string b64 = url_safe_base64_encode(sig.substr(0, len));
    std::string exp = std::to_string(kNow + 60);
    SignedParams p;
    p.expires = exp;
    p.signature = b64;
    p.key_pair_id = "K1";
    CHECK(verify_signed_request(t, p, kUrl, kNow, "::1") == SignedDenial::bad_signature); // SHA-1 assumed
    p.hash_algorithm = "SHA256";
    CHECK(verify_signed_request(t, p, kUrl, kNow, "::1") == SignedDenial::none);
    p.hash_algorithm = "MD5";
    CHECK(verify_signed_request(t, p, kUrl, kNow, "::1") == SignedDenial::malformed);
}

TEST_CASE("Signed URL: unknown key id, wrong key, missing and malformed", "[edge][access]") {
    TrustedKeys t = trusted({{"K1", rsa_key()}, {"K2", ec_key()}});
    SignedValues v = sign_request(rsa_key().get(), "K9", kUrl, kNow + 60, "");
    CHECK(verify_signed_request(t, params(v), kUrl, kNow, "127.0.0.1") == SignedDenial::unknown_key);
    // Signed by a key the group does not hold, under a trusted id.
    v = sign_request(other_rsa_key().get(), "K1", kUrl, kNow + 60, "");
    CHECK(verify_signed_request(t, params(v), kUrl, kNow, "127.0.0.1") == SignedDenial::bad_signature);
    // An RSA signature presented under the EC key's id.
    v = sign_request(rsa_key().get(), "K2", kUrl, kNow + 60, "");
    CHECK(verify_signed_request(t, params(v), kUrl, kNow, "127.0.0.1") == SignedDenial::bad_signature);

    CHECK(verify_signed_request(t, SignedParams{}, kUrl, kNow, "127.0.0.1") == SignedDenial::missing);
    v = sign_request(rsa_key().get(), "K1", kUrl, kNow + 60, "");
    SignedParams p = params(v);
    p.key_pair_id = {};
    CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::malformed);
    p = params(v);
    p.expires = "12x";
    CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::malformed);
    p = params(v);
    p.signature = "not*base64";
    CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::malformed);
    p = params(v);
    p.policy = "%%%";
    CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::malformed);
}

TEST_CASE("Signed URL: custom policy conditions", "[edge][access]") {
    for (PrivateKey k : {rsa_key(), ec_key()}) {
        TrustedKeys t = trusted({{"K1", k}});
        auto check = [&](const std::string& policy, const std::string& url, int64_t now, const char* ip) {
            SignedValues v = sign_request(k.get(), "K1", url, 0, policy);
            return verify_signed_request(t, params(v), url, now, ip);
        };
        CHECK(check(custom(kUrl, kNow + 60), kUrl, kNow, "127.0.0.1") == SignedDenial::none);
        CHECK(check(custom(kUrl, kNow + 60), kUrl, kNow + 61, "127.0.0.1") == SignedDenial::expired);
        std::string dgt = R"(,"DateGreaterThan":{"AWS:EpochTime":)" + std::to_string(kNow + 10) + "}";
        CHECK(check(custom(kUrl, kNow + 60, dgt), kUrl, kNow, "127.0.0.1") == SignedDenial::not_yet_valid);
        CHECK(check(custom(kUrl, kNow + 60, dgt), kUrl, kNow + 10, "127.0.0.1") == SignedDenial::none);
        // Wildcards: `*` any run, `?` one character.
        std::string wild = "http://cdn.example.test/private/*";
        CHECK(check(custom(wild, kNow + 60), kUrl, kNow, "127.0.0.1") == SignedDenial::none);
        CHECK(check(custom(wild, kNow + 60), "http://cdn.example.test/public/a.jpg", kNow, "127.0.0.1") ==
              SignedDenial::resource_mismatch);
        CHECK(check(custom("http://cdn.example.test/private/?.jpg*", kNow + 60), kUrl, kNow, "127.0.0.1") ==
              SignedDenial::none);
        CHECK(check(custom("http://cdn.example.test/private/??.jpg*", kNow + 60), kUrl, kNow, "127.0.0.1") ==
              SignedDenial::resource_mismatch);
        CHECK(check(custom("https://cdn.example.test/*", kNow + 60), kUrl, kNow, "127.0.0.1") ==
              SignedDenial::resource_mismatch);
        // IpAddress, v4 and v6.
        auto ip = [](const char* cidr) { return std::string(R"(,"IpAddress":{"AWS:SourceIp":")") + cidr + "\"}"; };
        CHECK(check(custom(wild, kNow + 60, ip("192.0.2.0/24")), kUrl, kNow, "192.0.2.77") == SignedDenial::none);
        CHECK(check(custom(wild, kNow + 60, ip("192.0.2.0/24")), kUrl, kNow, "192.0.3.1") == SignedDenial::wrong_ip);
        CHECK(check(custom(wild, kNow + 60, ip("192.0.2.0/24")), kUrl, kNow, "::ffff:192.0.2.9") == SignedDenial::none);
        CHECK(check(custom(wild, kNow + 60, ip("192.0.2.0/24")), kUrl, kNow, "2001:db8::1") == SignedDenial::wrong_ip);
        CHECK(check(custom(wild, kNow + 60, ip("2001:db8:1::/48")), kUrl, kNow, "2001:db8:1:ff::2") ==
              SignedDenial::none);
        CHECK(check(custom(wild, kNow + 60, ip("2001:db8:1::/48")), kUrl, kNow, "2001:db8:2::2") ==
              SignedDenial::wrong_ip);
        CHECK(check(custom(wild, kNow + 60, ip("2001:db8:1::/48")), kUrl, kNow, "192.0.2.1") == SignedDenial::wrong_ip);
        // Conditions this edge cannot enforce, or a policy without DateLessThan, are refused.
        CHECK(check(custom(wild, kNow + 60, R"(,"StringLike":{"x":"y"})"), kUrl, kNow, "127.0.0.1") ==
              SignedDenial::malformed);
        CHECK(check(R"({"Statement":[{"Resource":"*","Condition":{}}]})", kUrl, kNow, "127.0.0.1") ==
              SignedDenial::malformed);
        // A tampered policy (signed one, sent another) is a bad signature, whatever it says.
        SignedValues v = sign_request(k.get(), "K1", kUrl, 0, custom(kUrl, kNow + 60));
        SignedParams p = params(v);
        std::string forged = url_safe_base64_encode(custom("*", kNow + 60));
        p.policy = forged;
        CHECK(verify_signed_request(t, p, kUrl, kNow, "127.0.0.1") == SignedDenial::bad_signature);
    }
}

TEST_CASE("Signed URL: query parameters, cookies and the rebuilt URL", "[edge][access]") {
    std::string buf;
    CHECK(query_without_signing_params("a=1&b=2", &buf) == "a=1&b=2");
    CHECK(query_without_signing_params("b=2&Expires=1&a=1&Signature=x~y&Key-Pair-Id=K", &buf) == "b=2&a=1");
    CHECK(query_without_signing_params("Policy=p&Signature=s&Key-Pair-Id=K&Hash-Algorithm=SHA256", &buf) == "");
    CHECK(query_without_signing_params("expires=1", &buf) == "expires=1"); // names are case-sensitive
    SignedParams q = signed_params_from_query("x=1&Expires=5&Signature=s_&Key-Pair-Id=K1");
    CHECK(q.expires == "5");
    CHECK(q.signature == "s_");
    CHECK(q.key_pair_id == "K1");
    CHECK(q.policy.empty());
    CHECK(viewer_url("http", "CDN.Example.test:8080", "/a b", "") == "http://cdn.example.test:8080/a b");
    CHECK(viewer_url("https", "h", "/p", "z=1&a=2") == "https://h/p?z=1&a=2");

    std::vector<HeaderField> h = {{"Cookie", "session=1; CloudFront-Policy=eyJ9; CloudFront-Signature=abc~"},
                                  {"cookie", "CloudFront-Key-Pair-Id=K2"}};
    SignedParams c = signed_params_from_cookies(h);
    CHECK(c.policy == "eyJ9");
    CHECK(c.signature == "abc~");
    CHECK(c.key_pair_id == "K2");
    CHECK(c.expires.empty());
}

TEST_CASE("Signed URL: CIDR parsing", "[edge][access]") {
    IpPrefix p;
    CHECK(parse_ip_prefix("10.0.0.0/8", &p));
    CHECK(p.bits == 8);
    CHECK(parse_ip_prefix("10.1.2.3", &p));
    CHECK(p.bits == 32);
    CHECK(parse_ip_prefix("::/0", &p));
    CHECK(ip_in_prefix(p, "2001:db8::1"));
    CHECK_FALSE(parse_ip_prefix("10.0.0.1/8", &p)); // host bits set
    CHECK_FALSE(parse_ip_prefix("10.0.0.0/33", &p));
    CHECK_FALSE(parse_ip_prefix("10.0.0.0/", &p));
    CHECK_FALSE(parse_ip_prefix("nope/8", &p));
    CHECK(parse_ip_prefix("0.0.0.0/0", &p));
    CHECK(ip_in_prefix(p, "203.0.113.5"));
    CHECK_FALSE(ip_in_prefix(p, "garbage"));
}

TEST_CASE("Signed URL: resource wildcard matching", "[edge][access]") {
    CHECK(resource_matches("*", ""));
    CHECK(resource_matches("http://h/*", "http://h/a/b?c=d"));
    CHECK(resource_matches("http://h/a?c", "http://h/abc"));
    CHECK_FALSE(resource_matches("http://h/a?c", "http://h/ac"));
    CHECK(resource_matches("http://h/*.jpg", "http://h/x/y.jpg"));
    CHECK_FALSE(resource_matches("http://h/*.jpg", "http://h/x/y.jpg?z=1"));
    CHECK(resource_matches("*a*a*a*a*b", std::string(40, 'a') + "b"));
    CHECK_FALSE(resource_matches("*a*a*a*a*b", std::string(4000, 'a')));
}

TEST_CASE("Trusted keys: PEM public keys of RSA and EC P-256 load; others are refused", "[edge][access]") {
    namespace fs = std::filesystem;
    char tmpl[] = "/tmp/meridian-keys-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    fs::path dir = tmpl;
    auto write_pub = [&](const char* name, EVP_PKEY* k) {
        std::string path = (dir / name).string();
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f);
        PEM_write_PUBKEY(f, k);
        std::fclose(f);
        return path;
    };
    std::string err;
    CHECK(load_public_key(write_pub("rsa.pem", rsa_key().get()), &err));
    PublicKey ec = load_public_key(write_pub("ec.pem", ec_key().get()), &err);
    REQUIRE(ec);
    CHECK(EVP_PKEY_get_base_id(ec.get()) == EVP_PKEY_EC);
    PrivateKey p384(EVP_EC_gen("P-384"), EVP_PKEY_free);
    CHECK_FALSE(load_public_key(write_pub("p384.pem", p384.get()), &err));
    CHECK(err.find("P-256") != std::string::npos);
    CHECK_FALSE(load_public_key((dir / "absent.pem").string(), &err));
    CHECK(err.find("cannot be read") != std::string::npos);
    {
        FILE* f = std::fopen((dir / "junk.pem").c_str(), "w");
        std::fputs("not a key\n", f);
        std::fclose(f);
    }
    CHECK_FALSE(load_public_key((dir / "junk.pem").string(), &err));
    CHECK(err.find("not a PEM public key") != std::string::npos);
    {
        FILE* f = std::fopen((dir / "private.pem").c_str(), "w");
        PEM_write_PrivateKey(f, ec_key().get(), nullptr, nullptr, 0, nullptr, nullptr);
        std::fclose(f);
    }
    CHECK_FALSE(load_public_key((dir / "private.pem").string(), &err));
    CHECK(err.find("a private key: the edge needs only the public one") != std::string::npos);
    fs::remove_all(dir);
}
