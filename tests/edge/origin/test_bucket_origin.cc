#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "edge/http/http_date.h"
#include "edge/origin/bucket_origin.h"
#include "edge/origin/request_path.h"

using namespace edge;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, std::string_view content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

// A bucket folder with a sibling "outside" folder that must never be reachable.
struct Bucket {
    fs::path base;
    fs::path root;
    std::unique_ptr<BucketOrigin> origin;

    explicit Bucket(bool with_error_doc = true) {
        char tmpl[] = "/tmp/meridian-bucket-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        base = tmpl;
        root = base / "site";
        write_file(root / "index.html", "<h1>home</h1>");
        if (with_error_doc) write_file(root / "404.html", "<h1>missing</h1>");
        write_file(root / "assets/app.css", "body{}");
        write_file(root / "docs/index.html", "<h1>docs</h1>");
        write_file(root / "data.bin", std::string(1000, 'x'));
        write_file(root / "%2e%2e", "literal name");
        fs::create_directories(root / "empty");
        write_file(base / "outside/secret.txt", "SECRET");
        fs::create_symlink(base / "outside/secret.txt", root / "leak.txt");
        fs::create_symlink("../outside", root / "leakdir");
        fs::create_symlink("assets/app.css", root / "alias.css");
        ::mkfifo((root / "pipe").c_str(), 0600);
        std::string err;
        origin = BucketOrigin::open(root.string(), "index.html", with_error_doc ? "404.html" : "", &err);
        REQUIRE(origin);
    }
    ~Bucket() {
        std::error_code ec;
        fs::remove_all(base, ec);
    }

    BucketResponse get(std::string_view path, std::string_view method = "GET") {
        BucketRequest r;
        r.method = method;
        r.path = path;
        return origin->get(r);
    }
    std::string body(std::string_view path) {
        BucketResponse r = get(path);
        std::string b;
        REQUIRE(r.read_body(&b));
        return b;
    }
};

} // namespace

TEST_CASE("Bucket: index documents, files, content types", "[edge][origin][bucket]") {
    Bucket b;
    BucketResponse home = b.get("/");
    CHECK(home.status == 200);
    CHECK(home.content_type == "text/html; charset=utf-8");
    CHECK(b.body("/") == "<h1>home</h1>");
    CHECK(b.body("/docs/") == "<h1>docs</h1>");
    BucketResponse css = b.get("/assets/app.css");
    CHECK(css.status == 200);
    CHECK(css.content_type == "text/css; charset=utf-8");
    CHECK(css.length == 6);
    CHECK(css.fd >= 0);
    CHECK(b.get("/data.bin").content_type == "application/octet-stream");
    CHECK(b.body("/index.html") == "<h1>home</h1>");
    // A symlink that stays inside the root works.
    CHECK(b.body("/alias.css") == "body{}");
    // The double-encoded traversal reaches a file literally named "%2e%2e", inside the root.
    CHECK(b.body("/%2e%2e") == "literal name");
    BucketResponse head = b.get("/assets/app.css", "HEAD");
    CHECK(head.status == 200);
    CHECK(head.head);
    CHECK(head.length == 6);
}

TEST_CASE("Bucket: a folder without its slash redirects like S3 website endpoints", "[edge][origin][bucket]") {
    Bucket b;
    BucketResponse r = b.get("/docs");
    CHECK(r.status == 302);
    CHECK(r.location == "/docs/");
    BucketRequest q;
    q.path = "/docs";
    q.query = "a=1";
    CHECK(b.origin->get(q).location == "/docs/?a=1");
    // A folder with no index document is simply missing.
    CHECK(b.get("/empty").status == 404);
    CHECK(b.get("/empty/").status == 404);
}

TEST_CASE("Bucket: missing keys get the error document with 404, or a plain 404", "[edge][origin][bucket]") {
    Bucket b;
    BucketResponse r = b.get("/nope.html");
    CHECK(r.status == 404);
    CHECK(r.content_type == "text/html; charset=utf-8");
    std::string body;
    REQUIRE(r.read_body(&body));
    CHECK(body == "<h1>missing</h1>");

    Bucket plain(false);
    BucketResponse p = plain.get("/nope.html");
    CHECK(p.status == 404);
    CHECK(p.fd < 0);
    CHECK(p.body == "Not Found\n");
    CHECK(p.length == p.body.size());
}

TEST_CASE("Bucket: nothing outside the root is reachable", "[edge][origin][bucket][confinement]") {
    Bucket b;
    SECTION("openat2 (when the kernel has it)") {}
    SECTION("/proc/self/fd fallback") { b.origin->disable_openat2_for_testing(); }
    CHECK(b.body("/alias.css") == "body{}"); // relative symlink inside the root
    CHECK(b.body("/docs/") == "<h1>docs</h1>");
    fs::create_symlink(b.root / "index.html", b.root / "abs-inside.html");
    CHECK(b.get("/abs-inside.html").status == (b.origin->uses_openat2() ? 404 : 200));
    for (const char* path : {"/leak.txt", "/leakdir/secret.txt", "/leakdir/", "/pipe", "/../outside/secret.txt"}) {
        INFO(path);
        BucketResponse r = b.get(path);
        CHECK(r.status == 404);
        std::string body;
        r.read_body(&body);
        CHECK(body.find("SECRET") == std::string::npos);
    }
    // Through the normalizer first, as the proxy does: escapes are 400 before the bucket is touched.
    for (const char* raw : {"/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/a/..%2f..%2foutside",
                            "/..\\outside\\secret.txt"}) {
        INFO(raw);
        char buf[256];
        PathError err;
        normalize_request_path(raw, buf, sizeof buf, &err);
        CHECK(err != PathError::none);
    }
}

TEST_CASE("Bucket: strong ETag, Last-Modified and conditional requests", "[edge][origin][bucket][conditional]") {
    Bucket b;
    BucketResponse r = b.get("/assets/app.css");
    REQUIRE(r.status == 200);
    CHECK(r.etag.size() > 2);
    CHECK(r.etag.front() == '"');
    CHECK(r.etag.back() == '"');
    CHECK(r.etag.rfind("W/", 0) == std::string::npos);
    REQUIRE(parse_http_date(r.last_modified).has_value());
    CHECK(b.get("/assets/app.css").etag == r.etag); // stable

    BucketRequest q;
    q.path = "/assets/app.css";
    q.if_none_match = r.etag;
    BucketResponse nm = b.origin->get(q);
    CHECK(nm.status == 304);
    CHECK(nm.etag == r.etag);
    CHECK(nm.fd < 0);
    CHECK(nm.length == 0);
    std::string list = "\"other\", W/" + r.etag;
    q.if_none_match = list;
    CHECK(b.origin->get(q).status == 304); // weak comparison, list
    q.if_none_match = "*";
    CHECK(b.origin->get(q).status == 304);
    q.if_none_match = "\"other\"";
    CHECK(b.origin->get(q).status == 200);
    // If-None-Match present: If-Modified-Since is ignored.
    q.if_modified_since = r.last_modified;
    CHECK(b.origin->get(q).status == 200);
    q.if_none_match = "";
    CHECK(b.origin->get(q).status == 304);
    q.if_modified_since = "Thu, 01 Jan 1970 00:00:00 GMT";
    CHECK(b.origin->get(q).status == 200);
    q.if_modified_since = "garbage";
    CHECK(b.origin->get(q).status == 200);

    // Content changes → a different ETag.
    write_file(b.root / "assets/app.css", "body{color:red}");
    CHECK(b.get("/assets/app.css").etag != r.etag);
}

TEST_CASE("Bucket: byte ranges", "[edge][origin][bucket][range]") {
    Bucket b;
    BucketRequest q;
    q.path = "/data.bin";
    q.range = "bytes=10-19";
    BucketResponse r = b.origin->get(q);
    CHECK(r.status == 206);
    CHECK(r.offset == 10);
    CHECK(r.length == 10);
    CHECK(r.content_range == "bytes 10-19/1000");
    q.range = "bytes=990-";
    r = b.origin->get(q);
    CHECK(r.content_range == "bytes 990-999/1000");
    q.range = "bytes=-5";
    r = b.origin->get(q);
    CHECK(r.content_range == "bytes 995-999/1000");
    q.range = "bytes=900-5000";
    CHECK(b.origin->get(q).content_range == "bytes 900-999/1000");
    q.range = "bytes=1000-";
    r = b.origin->get(q);
    CHECK(r.status == 416);
    CHECK(r.content_range == "bytes */1000");
    q.range = "bytes=0-1,5-6"; // multiple ranges: full answer
    CHECK(b.origin->get(q).status == 200);
    q.range = "items=0-1";
    CHECK(b.origin->get(q).status == 200);
    q.range = "bytes=5-1";
    CHECK(b.origin->get(q).status == 200);
    q.range = "bytes=0-9";
    q.if_range = "\"stale-etag\"";
    CHECK(b.origin->get(q).status == 200);
    std::string etag = b.get("/data.bin").etag; // BucketRequest holds views: keep the string alive
    q.if_range = etag;
    CHECK(b.origin->get(q).status == 206);
}

TEST_CASE("Bucket: other methods get 405 with Allow", "[edge][origin][bucket]") {
    Bucket b;
    for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS"}) {
        BucketResponse r = b.get("/index.html", m);
        CHECK(r.status == 405);
        CHECK(r.allow == "GET, HEAD");
    }
    CHECK(b.get("no-slash").status == 400);
}

TEST_CASE("Bucket: opening a missing root fails with a reason", "[edge][origin][bucket]") {
    std::string err;
    CHECK_FALSE(BucketOrigin::open("/nonexistent/meridian/bucket", "index.html", "", &err));
    CHECK(err.find("/nonexistent/meridian/bucket") != std::string::npos);
}
