#include <catch2/catch.hpp>

#include <string>

#include "edge/config/edge_config.h"
#include "tests/edge/config/config_dir.h"

using namespace edge;

namespace {

constexpr const char* kBucketOrigin = R"(
[[origin]]
name = "site"
type = "bucket"
path = "site"
)";

} // namespace

TEST_CASE("HTTP/2 config: defaults and every key", "[edge][config][h2]") {
    testing::ConfigDir d;
    auto c = d.load(kBucketOrigin);
    INFO(d.messages());
    REQUIRE(c);
    CHECK(c->http2.enabled);
    CHECK(c->http2.h2c);
    CHECK(c->http2.max_concurrent_streams == 128);
    CHECK(c->http2.max_header_list_size == 0); // = [limits] max_header_bytes
    CHECK(c->http2.max_stream_resets == 400);
    CHECK(c->http2.reset_window_ms == 10'000);
    CHECK(c->http2.stream_buffer_bytes == 64 * 1024);

    auto e = d.load(std::string(kBucketOrigin) + R"(
[http2]
enabled = true
h2c = false
max_concurrent_streams = 32
max_header_list_size = "16KiB"
max_stream_resets = 100
reset_window = "5s"
stream_buffer_bytes = "128KiB"
)");
    INFO(d.messages());
    REQUIRE(e);
    CHECK(!e->http2.h2c);
    CHECK(e->http2.max_concurrent_streams == 32);
    CHECK(e->http2.max_header_list_size == 16 * 1024);
    CHECK(e->http2.max_stream_resets == 100);
    CHECK(e->http2.reset_window_ms == 5'000);
    CHECK(e->http2.stream_buffer_bytes == 128 * 1024);
}

TEST_CASE("HTTP/2 config: bad values name their key", "[edge][config][h2]") {
    testing::ConfigDir d;
    SECTION("zero streams") {
        CHECK(!d.load(std::string(kBucketOrigin) + "[http2]\nmax_concurrent_streams = 0\n"));
        CHECK_THAT(d.messages(), Catch::Contains("max_concurrent_streams"));
    }
    SECTION("tiny header list") {
        CHECK(!d.load(std::string(kBucketOrigin) + "[http2]\nmax_header_list_size = 100\n"));
        CHECK_THAT(d.messages(), Catch::Contains("max_header_list_size"));
    }
    SECTION("tiny reset window") {
        CHECK(!d.load(std::string(kBucketOrigin) + "[http2]\nreset_window = \"10ms\"\n"));
        CHECK_THAT(d.messages(), Catch::Contains("reset_window"));
    }
    SECTION("unknown key") {
        CHECK(!d.load(std::string(kBucketOrigin) + "[http2]\nmax_streams = 5\n"));
        CHECK_THAT(d.messages(), Catch::Contains("max_streams"));
    }
}
