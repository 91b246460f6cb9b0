#include <catch2/catch.hpp>

#include <fstream>

#include "shared/config/common_config.h"
#include "shared/config/config.h"
#include "shared/http/bearer_token.h"
#include "support/temp_dir.h"

TEST_CASE("bearer tokens: Bearer or Basic (token as password), missing or wrong", "[shared][http][token]") {
    const std::string tok = "console-token-0123456789";
    using shared::BearerCheck;
    CHECK(shared::check_bearer("Bearer console-token-0123456789", tok) == BearerCheck::ok);
    CHECK(shared::check_bearer("bearer   console-token-0123456789 ", tok) == BearerCheck::ok);
    CHECK(shared::check_bearer("", tok) == BearerCheck::missing);
    CHECK(shared::check_bearer("Token console-token-0123456789", tok) == BearerCheck::missing);
    CHECK(shared::check_bearer("Bearer console-token-012345678", tok) == BearerCheck::wrong);
    CHECK(shared::check_bearer("Bearer console-token-01234567890", tok) == BearerCheck::wrong);
    // base64("admin:console-token-0123456789"), base64("x:nope")
    CHECK(shared::check_bearer("Basic YWRtaW46Y29uc29sZS10b2tlbi0wMTIzNDU2Nzg5", tok) == BearerCheck::ok);
    CHECK(shared::check_bearer("Basic eDpub3Bl", tok) == BearerCheck::wrong);
    CHECK(shared::check_bearer("Basic !!!", tok) == BearerCheck::wrong);
    CHECK(shared::same_secret("abc", "abc"));
    CHECK_FALSE(shared::same_secret("abc", "abd"));
    CHECK_FALSE(shared::same_secret("abc", "abcd"));
}

TEST_CASE("admin.token_file: read from its file, short or multi-line tokens refused by key", "[shared][http][token]") {
    test_support::TempDir dir;
    std::string good = dir.write("admin.token", "console-token-0123456789\n");
    std::string bad = dir.write("short.token", "short\n");
    auto parse = [&](const std::string& file, shared::ConfigDiagnostics& d) {
        auto f = shared::ConfigFile::parse("[admin]\nlisten = \"127.0.0.1:9080\"\ntoken_file = \"" + file + "\"\n",
                                           dir.path + "/edge.toml", d);
        REQUIRE(f);
        auto r = f->root();
        return shared::parse_common_config(r, {"127.0.0.1:1"});
    };
    shared::ConfigDiagnostics d1;
    CHECK(parse(good, d1).admin_token == "console-token-0123456789");
    CHECK(d1.ok());
    shared::ConfigDiagnostics d2;
    CHECK(parse(bad, d2).admin_token.empty());
    CHECK(d2.to_string().find("admin.token_file") != std::string::npos);
    CHECK(d2.to_string().find("at least 16 characters") != std::string::npos);
    shared::ConfigDiagnostics d3;
    CHECK(parse(dir.path + "/missing.token", d3).admin_token.empty());
    CHECK_FALSE(d3.ok());
}
