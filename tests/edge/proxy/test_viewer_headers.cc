#include <catch2/catch.hpp>

#include <string>

#include "edge/proxy/viewer_headers.h"

using namespace edge;

namespace {

std::shared_ptr<const ResponseHeadersPolicy> policy(const std::string& body) {
    shared::ConfigDiagnostics diags;
    auto file = shared::ConfigFile::parse("[[response_headers_policy]]\nname = \"p\"\n" + body, "edge.toml", diags);
    REQUIRE(file);
    shared::ConfigSection root = file->root();
    auto list = parse_response_headers_policies(root);
    INFO(diags.to_string());
    REQUIRE(list.size() == 1);
    return list[0];
}

const std::string kBlock = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nCache-Control: max-age=60\r\n"
                           "Server: nginx\r\nX-Powered-By: PHP\r\nx-amz-id-2: abc\r\nETag: \"1\"\r\n";

} // namespace

TEST_CASE("Viewer headers: dropped fields are stripped in place, policy lines appended", "[edge][proxy][headers]") {
    auto p = policy("cache_control = \"no-cache\"\nremove_headers = [\"Server\", \"X-Powered-By\", \"x-amz-*\"]\n"
                    "headers = [{ name = \"ETag\", value = \"\\\"policy\\\"\", override = false },"
                    " { name = \"X-Team\", value = \"web\", override = false }]\n");
    CHECK(block_has_dropped(*p, kBlock));
    std::string out = "prefix\r\n";
    size_t from = out.size();
    out += kBlock.substr(kBlock.find("\r\n") + 2);
    strip_dropped_lines(*p, out, from);
    CHECK(out == "prefix\r\nContent-Type: text/html\r\nETag: \"1\"\r\n");
    std::string lines;
    append_policy_lines_for_block(*p, "", kBlock, lines);
    // Cache-Control overrides; ETag is kept from the origin (override = false); X-Team is added (absent).
    CHECK(lines == "Cache-Control: no-cache\r\nX-Team: web\r\n");
    EdgeHeaders eh;
    apply_to_edge_headers(p.get(), &eh);
    CHECK_FALSE(eh.server);
    CHECK(eh.via == "1.1 meridian");

    auto clean = policy("content_type_options = true\n");
    CHECK_FALSE(block_has_dropped(*clean, kBlock)); // a hit then sends the stored block by reference
}

TEST_CASE("Viewer headers: CORS fields follow the request's Origin", "[edge][proxy][headers][cors]") {
    auto list = policy("cors_allow_origins = [\"https://app.example.com\"]\ncors_expose_headers = [\"ETag\"]\n"
                       "cors_allow_credentials = true\n");
    std::string lines;
    append_policy_lines_for_block(*list, "https://app.example.com", kBlock, lines);
    CHECK(lines == "Vary: Origin\r\nAccess-Control-Allow-Origin: https://app.example.com\r\n"
                   "Access-Control-Allow-Credentials: true\r\nAccess-Control-Expose-Headers: ETag\r\n");
    lines.clear();
    append_policy_lines_for_block(*list, "https://evil.example.net", kBlock, lines);
    CHECK(lines == "Vary: Origin\r\n"); // no ACAO, but browsers must not reuse it for an allowed origin
    lines.clear();
    append_policy_lines_for_block(*list, "", kBlock, lines);
    CHECK(lines == "Vary: Origin\r\n");

    auto any = policy("cors_allow_origins = \"*\"\n");
    lines.clear();
    append_policy_lines_for_block(*any, "", kBlock, lines);
    CHECK(lines == "Access-Control-Allow-Origin: *\r\n"); // on every answer: no Vary needed

    // cors_origin_override = false: an origin answer with its own CORS fields keeps them.
    auto keep = policy("cors_allow_origins = \"*\"\ncors_origin_override = false\n");
    lines.clear();
    append_policy_lines_for_block(*keep, "https://a.test", kBlock + "Access-Control-Allow-Origin: https://a.test\r\n",
                                  lines);
    CHECK(lines.empty());

    lines.clear();
    append_preflight_lines(*list, "https://app.example.com", "x-token", lines);
    CHECK(lines == "Access-Control-Allow-Origin: https://app.example.com\r\nVary: Origin\r\n"
                   "Access-Control-Allow-Methods: GET, HEAD\r\nAccess-Control-Allow-Credentials: true\r\n");
}
