#include <catch2/catch.hpp>

#include <string>

#include "edge/origin/request_path.h"

using namespace edge;

namespace {

std::string norm(std::string_view raw, PathError* err_out = nullptr) {
    std::string out(raw.size() + 1, '\0');
    PathError err;
    size_t n = normalize_request_path(raw, out.data(), out.size(), &err);
    if (err_out) *err_out = err;
    if (err != PathError::none) return "ERR:" + std::string(to_string(err));
    out.resize(n);
    return out;
}

PathError error_of(std::string_view raw) {
    PathError e;
    norm(raw, &e);
    return e;
}

} // namespace

TEST_CASE("Request path: normalization of slashes and dot segments", "[edge][origin][path]") {
    CHECK(norm("/") == "/");
    CHECK(norm("/index.html") == "/index.html");
    CHECK(norm("//a///b//") == "/a/b/");
    CHECK(norm("/a/./b") == "/a/b");
    CHECK(norm("/a/.") == "/a/");
    CHECK(norm("/a/b/..") == "/a/");
    CHECK(norm("/a/..") == "/");
    CHECK(norm("/a/b/../c") == "/a/c");
    CHECK(norm("/a/b/../../c/") == "/c/");
    CHECK(norm("/./") == "/");
    CHECK(norm("/...") == "/...");         // three dots is a name
    CHECK(norm("/..a/b..") == "/..a/b.."); // dots inside names are names
    CHECK(norm("/docs/") == "/docs/");     // a folder request keeps its slash
}

TEST_CASE("Request path: decoded once", "[edge][origin][path]") {
    CHECK(norm("/a%20b") == "/a b");
    CHECK(norm("/%41%62c") == "/Abc");
    CHECK(norm("/caf%C3%A9") == "/caf\xC3\xA9");
    CHECK(norm("/a/%2e/b") == "/a/b");
    CHECK(norm("/a/%2E%2e/b") == "/b"); // encoded dots are dots
    // Double encoding: one decode gives a literal "%2e%2e", a plain name, never a traversal.
    CHECK(norm("/%252e%252e/etc/passwd") == "/%2e%2e/etc/passwd");
    CHECK(norm("/a%252fb") == "/a%2fb");
}

TEST_CASE("Request path: every escape attempt is rejected", "[edge][origin][path]") {
    CHECK(error_of("/..") == PathError::escapes_root);
    CHECK(error_of("/../etc/passwd") == PathError::escapes_root);
    CHECK(error_of("/a/../../etc/passwd") == PathError::escapes_root);
    CHECK(error_of("/%2e%2e/etc/passwd") == PathError::escapes_root);
    CHECK(error_of("/%2E%2E/") == PathError::escapes_root);
    CHECK(error_of("/.%2e/x") == PathError::escapes_root);
    CHECK(error_of("/a/..%2f..%2fetc") == PathError::encoded_slash);
    CHECK(error_of("/a%2fb") == PathError::encoded_slash);
    CHECK(error_of("/a%2Fb") == PathError::encoded_slash);
    CHECK(error_of("/a%00b") == PathError::nul);
    CHECK(error_of(std::string_view("/a\0b", 4)) == PathError::nul);
    CHECK(error_of("/a\\..\\b") == PathError::backslash);
    CHECK(error_of("/a%5cb") == PathError::backslash);
    CHECK(error_of("/a%5C..%5Cb") == PathError::backslash);
    CHECK(error_of("/a%0d%0aX: y") == PathError::control);
    CHECK(error_of("/a\x7f") == PathError::control);
    CHECK(error_of("/%") == PathError::bad_escape);
    CHECK(error_of("/%4") == PathError::bad_escape);
    CHECK(error_of("/%zz") == PathError::bad_escape);
    CHECK(error_of("/%%41") == PathError::bad_escape);
    CHECK(error_of("") == PathError::not_origin_form);
    CHECK(error_of("a/b") == PathError::not_origin_form);
    CHECK(error_of("http://x/y") == PathError::not_origin_form);
    CHECK(error_of("*") == PathError::not_origin_form);
}

TEST_CASE("Request path: buffer bounds", "[edge][origin][path]") {
    char small[4];
    PathError err;
    CHECK(normalize_request_path("/abcdef", small, sizeof small, &err) == 0);
    CHECK(err == PathError::too_long);
    CHECK(normalize_request_path("/abc", small, sizeof small, &err) == 4);
    CHECK(err == PathError::none);
    CHECK(normalize_request_path("/", small, 0, &err) == 0);
    CHECK(err == PathError::too_long);
}

TEST_CASE("Request target split", "[edge][origin][path]") {
    auto t = split_target("/a/b?x=1&y=2");
    CHECK(t.path == "/a/b");
    CHECK(t.query == "x=1&y=2");
    CHECK(t.has_query);
    auto n = split_target("/a");
    CHECK(n.path == "/a");
    CHECK_FALSE(n.has_query);
    auto e = split_target("/a?");
    CHECK(e.has_query);
    CHECK(e.query.empty());
    auto f = split_target("/a#frag?no");
    CHECK(f.path == "/a");
    CHECK_FALSE(f.has_query);
    auto q = split_target("/a?b?c");
    CHECK(q.query == "b?c");
}
