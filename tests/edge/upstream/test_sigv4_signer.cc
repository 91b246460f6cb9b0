// AWS Signature Version 4 against the examples AWS publishes for S3 ("Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk"); it_sigv4_origin.py checks generated requests against botocore.
#include <catch2/catch.hpp>

#include <string>

#include "edge/upstream/sigv4_signer.h"

using namespace edge;

namespace {
SigV4Config example_config() {
    SigV4Config c;
    c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
    c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    c.region = "us-east-1";
    c.service = "s3";
    return c;
}
const std::string kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kCredential = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ";
} // namespace

TEST_CASE("SigV4: AWS's S3 examples", "[edge][sigv4]") {
    SigV4Config cfg = example_config();
    SECTION("GET Object with a Range") {
        SigV4Input in;
        in.method = "GET";
        std::string uri = sigv4_canonical_uri("/test.txt");
        in.canonical_uri = uri;
        in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"Range", "bytes=0-9"},
                      {"x-amz-content-sha256", kEmptySha},
                      {"x-amz-date", "20130524T000000Z"}};
        in.payload_hash = kEmptySha;
        in.amz_date = "20130524T000000Z";
        std::string creq;
        CHECK(sigv4_authorization(cfg, in, &creq) ==
              kCredential + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        CHECK(creq == "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:" +
                          kEmptySha + "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                          kEmptySha);
    }
    SECTION("PUT Object: '$' in the key, a body") {
        std::string body = "Welcome to Amazon S3.";
        std::string hash = sha256_hex(body);
        CHECK(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        SigV4Input in;
        in.method = "PUT";
        std::string uri = sigv4_canonical_uri("/test$file.text");
        CHECK(uri == "/test%24file.text");
        in.canonical_uri = uri;
        in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                      {"x-amz-date", "20130524T000000Z"},
                      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                      {"x-amz-content-sha256", hash}};
        in.payload_hash = hash;
        in.amz_date = "20130524T000000Z";
        CHECK(sigv4_authorization(cfg, in) ==
              kCredential + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
                            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    }
    SECTION("GET Bucket lifecycle: a parameter without a value") {
        SigV4Input in;
        in.method = "GET";
        in.canonical_uri = "/";
        std::string q = sigv4_canonical_query("lifecycle");
        CHECK(q == "lifecycle=");
        in.canonical_query = q;
        in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"x-amz-date", "20130524T000000Z"},
                      {"x-amz-content-sha256", kEmptySha}};
        in.payload_hash = kEmptySha;
        in.amz_date = "20130524T000000Z";
        CHECK(sigv4_authorization(cfg, in) ==
              kCredential + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    }
    SECTION("GET Bucket (list objects): parameters sorted") {
        SigV4Input in;
        in.method = "GET";
        in.canonical_uri = "/";
        std::string q = sigv4_canonical_query("prefix=J&max-keys=2");
        CHECK(q == "max-keys=2&prefix=J");
        in.canonical_query = q;
        in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"x-amz-date", "20130524T000000Z"},
                      {"x-amz-content-sha256", kEmptySha}};
        in.payload_hash = kEmptySha;
        in.amz_date = "20130524T000000Z";
        CHECK(sigv4_authorization(cfg, in) ==
              kCredential + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    }
}

TEST_CASE("SigV4: canonical forms of paths and queries", "[edge][sigv4]") {
    // Decoded once, encoded once: never double-encoded, '/' kept in paths, everything but unreserved encoded.
    // (The edge sends its decoded path re-encoded, so a %2F it was given is a '/' by then.)
    CHECK(sigv4_canonical_uri("/a b/c%20d/%7Ee~/%2F") == "/a%20b/c%20d/~e~//");
    CHECK(sigv4_canonical_uri("/caf%C3%A9/!*'()+,;=:@$&") == "/caf%C3%A9/%21%2A%27%28%29%2B%2C%3B%3D%3A%40%24%26");
    CHECK(sigv4_canonical_uri("") == "/");
    CHECK(sigv4_canonical_uri("/50%") == "/50%25"); // a stray '%' is a character
    CHECK(sigv4_canonical_query("b=2&a=1&a=0&c") == "a=0&a=1&b=2&c=");
    CHECK(sigv4_canonical_query("q=a+b&s=%2F/x&t=%7e") == "q=a%2Bb&s=%2F%2Fx&t=~");
    CHECK(sigv4_canonical_query("") == "");
    CHECK(sigv4_amz_date(1369353600) == "20130524T000000Z");
}

TEST_CASE("SigV4: a request signed for sending", "[edge][sigv4]") {
    SigV4Config cfg = example_config();
    cfg.session_token = "token/with+chars=";
    std::string target = "/dir/a%20file!.txt?z=1&a=%7e";
    shared::HttpHeaders h = {{"Host", "bucket.example"},
                             {"Authorization", "Basic dmlld2VyOnNlY3JldA=="},
                             {"X-Amz-Meta-Evil", "1"},
                             {"Accept", "*/*"}};
    std::string creq;
    sigv4_sign(cfg, 1369353600, "GET", "", &target, &h, &creq);
    CHECK(target == "/dir/a%20file%21.txt?a=~&z=1");
    auto value = [&](std::string_view name) -> std::string {
        std::string v;
        int n = 0;
        for (const auto& x : h)
            if (x.name == name) {
                v = x.value;
                n++;
            }
        return n == 1 ? v : "<" + std::to_string(n) + ">";
    };
    CHECK(value("X-Amz-Meta-Evil") == "<0>"); // a viewer's x-amz-* header would be unsigned: dropped
    CHECK(value("Accept") == "*/*");
    CHECK(value("x-amz-content-sha256") == "UNSIGNED-PAYLOAD");
    CHECK(value("x-amz-date") == "20130524T000000Z");
    CHECK(value("x-amz-security-token") == "token/with+chars=");
    std::string auth = value("Authorization");
    CHECK(auth.rfind(kCredential + "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
                                   "Signature=",
                     0) == 0);
    CHECK(creq.rfind("GET\n/dir/a%20file%21.txt\na=~&z=1\nhost:bucket.example\n", 0) == 0);
    // A body is hashed.
    std::string t2 = "/up";
    shared::HttpHeaders h2 = {{"Host", "bucket.example"}};
    sigv4_sign(cfg, 1369353600, "PUT", "Welcome to Amazon S3.", &t2, &h2);
    bool hashed = false;
    for (const auto& x : h2)
        hashed |= x.name == "x-amz-content-sha256" &&
                  x.value == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    CHECK(hashed);
}
