#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "edge/config/edge_config.h"
#include "tests/edge/config/config_dir.h"

using namespace edge;
namespace fs = std::filesystem;

namespace {

// The config fixture with keys/cf.pem (an EC P-256 public key) and keys/junk.pem.
struct KeyDir : testing::ConfigDir {
    KeyDir() {
        fs::create_directories(dir / "keys");
        std::shared_ptr<EVP_PKEY> ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
        FILE* f = std::fopen((dir / "keys" / "cf.pem").c_str(), "w");
        REQUIRE(f);
        PEM_write_PUBKEY(f, ec.get());
        std::fclose(f);
        write("keys/junk.pem", "junk\n");
    }
};

constexpr const char* kOrigin = R"(
[[origin]]
name = "site"
type = "bucket"
path = "site"
)";

} // namespace

TEST_CASE("Key groups: behaviors trust named top-level groups, in every site", "[edge][access][config]") {
    KeyDir d;
    auto c = d.load(std::string(R"(
[[key_group]]
name = "signers"
keys = [{ id = "K2JCJMDEHXQW5F", public_key = "keys/cf.pem" }]
)") + kOrigin + R"(
[[behavior]]
path_pattern = "/private/*"
origin = "site"
trusted_key_groups = ["signers"]

[[behavior]]
origin = "site"

[[site]]
name = "other"
hosts = ["other.test"]
[[site.origin]]
name = "o"
type = "bucket"
path = "site"
[[site.behavior]]
origin = "o"
trusted_key_groups = "signers"
)");
    INFO(d.diags.to_string());
    REQUIRE(c);
    REQUIRE(c->key_groups.size() == 1);
    const BehaviorConfig& priv = c->sites[0].behaviors[0];
    REQUIRE(priv.trusted_keys);
    REQUIRE(priv.trusted_keys->keys.size() == 1);
    CHECK(priv.trusted_keys->keys[0].id == "K2JCJMDEHXQW5F");
    CHECK(priv.trusted_keys->keys[0].ec);
    CHECK_FALSE(c->sites[0].behaviors[1].trusted_keys);
    REQUIRE(c->sites[1].behaviors[0].trusted_keys);
    CHECK(c->sites[1].behaviors[0].trusted_keys->keys.size() == 1);
}

TEST_CASE("Key groups: bad key files, unknown groups and missing fields are errors by file:line and key",
          "[edge][access][config]") {
    KeyDir d;
    auto c = d.load(std::string(R"(
[[key_group]]
name = "signers"
keys = [{ id = "K1", public_key = "keys/junk.pem" },
        { id = "K2", public_key = "keys/absent.pem" },
        { id = "bad id", public_key = "keys/cf.pem" },
        { id = "K4" }]
)") + kOrigin + R"(
[[behavior]]
origin = "site"
trusted_key_groups = ["nobody"]
)");
    CHECK_FALSE(c);
    std::string m = d.diags.to_string();
    INFO(m);
    CHECK(m.find("edge.toml:4:35: key_group[0].keys[0].public_key: key \"K1\": ") != std::string::npos);
    CHECK(m.find("junk.pem\": not a PEM public key") != std::string::npos);
    CHECK(m.find("absent.pem\": cannot be read") != std::string::npos);
    CHECK(m.find("\"bad id\" is not a key pair id") != std::string::npos);
    CHECK(m.find("key_group[0].keys[3].public_key: required") != std::string::npos);
    CHECK(m.find("no [[key_group]] named \"nobody\"") != std::string::npos);
}
