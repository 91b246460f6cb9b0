// The bucket origin follows deploys: the configured folder is resolved per request (a release symlink switch, a
// folder deleted and copied again), files being written are not served as complete, and pre-compressed siblings are
// read only when they belong to the same release as the file.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "edge/origin/bucket_origin.h"

using namespace edge;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, std::string_view content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

void write_release(const fs::path& dir, const std::string& v) {
    write_file(dir / "index.html", "<h1>" + v + "</h1>");
    write_file(dir / "404.html", "<h1>missing " + v + "</h1>");
    write_file(dir / "docs/index.html", "<h1>docs " + v + "</h1>");
    if (v == "v2") write_file(dir / "new.html", "only in v2");
}

// `ln -sfn target link` done atomically, as deploy scripts do: a new link renamed over the old one.
void switch_link(const fs::path& link, const fs::path& target) {
    fs::path tmp = link;
    tmp += ".tmp";
    fs::remove(tmp);
    fs::create_directory_symlink(target, tmp);
    REQUIRE(::rename(tmp.c_str(), link.c_str()) == 0);
}

struct Tmp {
    fs::path base;
    Tmp() {
        char tmpl[] = "/tmp/meridian-deploy-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        base = tmpl;
    }
    ~Tmp() {
        std::error_code ec;
        fs::remove_all(base, ec);
    }
};

BucketResponse get(const BucketOrigin& o, std::string_view path) {
    BucketRequest r;
    r.path = path;
    return o.get(r);
}

std::string body(const BucketOrigin& o, std::string_view path, int* status = nullptr) {
    BucketResponse r = get(o, path);
    if (status) *status = r.status;
    std::string b;
    REQUIRE(r.read_body(&b));
    return b;
}

void set_mtime(const fs::path& p, int64_t seconds_ago) {
    timespec ts[2];
    ::clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= seconds_ago;
    ts[1] = ts[0];
    REQUIRE(::utimensat(AT_FDCWD, p.c_str(), ts, 0) == 0);
}

} // namespace

TEST_CASE("Bucket deploy: a release symlink switch is seen by the next get()", "[edge][origin][bucket][deploy]") {
    Tmp t;
    write_release(t.base / "releases/v1", "v1");
    write_release(t.base / "releases/v2", "v2");
    fs::create_directory_symlink("releases/v1", t.base / "current");
    std::string err;
    auto o = BucketOrigin::open((t.base / "current").string(), "index.html", "404.html", &err);
    REQUIRE(o);
    CHECK(o->root() == (t.base / "current").string()); // kept as configured, not resolved
    CHECK(body(*o, "/") == "<h1>v1</h1>");
    int status = 0;
    CHECK(body(*o, "/new.html", &status) == "<h1>missing v1</h1>");
    CHECK(status == 404);
    // A response opened before the switch still reads its own release.
    BucketResponse before = get(*o, "/docs/");

    switch_link(t.base / "current", "releases/v2");
    CHECK(body(*o, "/") == "<h1>v2</h1>");
    CHECK(body(*o, "/docs/") == "<h1>docs v2</h1>");
    CHECK(body(*o, "/new.html", &status) == "only in v2");
    CHECK(status == 200);
    CHECK(body(*o, "/gone.html", &status) == "<h1>missing v2</h1>"); // the error document of the new release
    CHECK(status == 404);
    CHECK(get(*o, "/docs").status == 302);
    std::string old;
    REQUIRE(before.read_body(&old));
    CHECK(old == "<h1>docs v1</h1>");

    SECTION("and back, through the /proc/self/fd confinement too") {
        o->disable_openat2_for_testing();
        switch_link(t.base / "current", "releases/v1");
        CHECK(body(*o, "/") == "<h1>v1</h1>");
        CHECK(body(*o, "/new.html", &status) == "<h1>missing v1</h1>");
        // Confinement follows the release: the other release is outside it.
        fs::create_directory_symlink("../v2", t.base / "releases/v1/other");
        CHECK(get(*o, "/other/index.html").status == 404);
    }
}

TEST_CASE("Bucket deploy: a folder deleted and copied again is found again", "[edge][origin][bucket][deploy]") {
    Tmp t;
    fs::path site = t.base / "site";
    write_release(site, "v1");
    std::string err;
    auto o = BucketOrigin::open(site.string(), "index.html", "404.html", &err);
    REQUIRE(o);
    CHECK(body(*o, "/") == "<h1>v1</h1>");

    fs::remove_all(site);
    // Missing folder mid-deploy: 503 (uncached, the edge serves its stale copy), not a 404 for every key.
    BucketResponse gone = get(*o, "/");
    CHECK(gone.status == 503);
    CHECK(gone.retry_after == 1);
    CHECK(gone.fd < 0);
    CHECK(get(*o, "/nope.html").status == 503);

    write_release(site, "v2");
    CHECK(body(*o, "/") == "<h1>v2</h1>");
    int status = 0;
    CHECK(body(*o, "/new.html", &status) == "only in v2");
    CHECK(body(*o, "/nope.html", &status) == "<h1>missing v2</h1>");
    CHECK(status == 404);

    // A dangling release symlink is the same missing folder.
    fs::remove_all(site);
    fs::create_directory_symlink("releases/none", site);
    CHECK(get(*o, "/").status == 503);
}

TEST_CASE("Bucket deploy: a file still open for writing is not served", "[edge][origin][bucket][deploy]") {
    Tmp t;
    fs::path site = t.base / "site";
    write_release(site, "v1");
    std::string err;
    auto o = BucketOrigin::open(site.string(), "index.html", "404.html", &err);
    REQUIRE(o);
    CHECK(get(*o, "/").status == 200);
    {
        // A copy in progress: the writer still holds the file.
        int wfd = ::open((site / "app.js").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        REQUIRE(wfd >= 0);
        REQUIRE(::write(wfd, "half", 4) == 4);
        BucketResponse r = get(*o, "/app.js");
        CHECK(r.status == 503);
        CHECK(r.retry_after == 1);
        CHECK(r.fd < 0);
        ::close(wfd);
    }
    CHECK(body(*o, "/app.js") == "half");

    SECTION("an error document being written is waited for too") {
        int wfd = ::open((site / "404.html").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        REQUIRE(wfd >= 0);
        CHECK(get(*o, "/nope").status == 503);
        ::close(wfd);
    }
    SECTION("without lease rights, a file changed within the last second waits") {
        o->disable_lease_for_testing();
        write_file(site / "fresh.js", "fresh");
        CHECK(get(*o, "/fresh.js").status == 503);
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        CHECK(body(*o, "/fresh.js") == "fresh");
    }
}

TEST_CASE("Bucket deploy: same_file() notices a file changed after it was opened", "[edge][origin][bucket][deploy]") {
    Tmp t;
    fs::path site = t.base / "site";
    write_release(site, "v1");
    write_file(site / "app.js", std::string(100, 'a'));
    std::string err;
    auto o = BucketOrigin::open(site.string(), "index.html", "", &err);
    REQUIRE(o);
    BucketResponse r = get(*o, "/app.js");
    REQUIRE(r.status == 200);
    CHECK(r.same_file());
    { std::ofstream(site / "app.js", std::ios::binary | std::ios::app) << "more"; }
    CHECK_FALSE(r.same_file());
    BucketResponse same_size = get(*o, "/app.js");
    REQUIRE(same_size.status == 200);
    {
        // Rewritten in place with the same size: the times change.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::fstream f(site / "app.js", std::ios::binary | std::ios::in | std::ios::out);
        f << "b";
    }
    CHECK_FALSE(same_size.same_file());
    CHECK(get(*o, "/nope").same_file()); // generated bodies are always themselves
}

TEST_CASE("Bucket deploy: pre-compressed siblings of the same release", "[edge][origin][bucket][siblings]") {
    Tmp t;
    fs::path site = t.base / "site";
    write_release(site, "v1");
    write_file(site / "app.js", "console.log('identity')");
    write_file(site / "app.js.br", "BROTLI-BYTES");
    write_file(site / "app.js.gz", "GZIP-BYTES");
    set_mtime(site / "app.js", 10);
    std::string err;
    auto o = BucketOrigin::open(site.string(), "index.html", "", &err);
    REQUIRE(o);
    std::string etag = get(*o, "/app.js").etag;
    std::string out;
    CHECK(o->read_precompressed("/app.js", ".br", etag, 1 << 20, &out));
    CHECK(out == "BROTLI-BYTES");
    CHECK(o->read_precompressed("/app.js", ".gz", etag, 1 << 20, &out));
    CHECK(out == "GZIP-BYTES");
    // Too large for the cache: none.
    CHECK_FALSE(o->read_precompressed("/app.js", ".br", etag, 4, &out));
    // Another release's identity (an ETag the file no longer has): none, the bytes would not match.
    CHECK_FALSE(o->read_precompressed("/app.js", ".br", "\"1-2-3\"", 1 << 20, &out));
    // No sibling.
    CHECK_FALSE(o->read_precompressed("/index.html", ".br", get(*o, "/").etag, 1 << 20, &out));
    // A sibling older than the file (left from an older deploy): ignored.
    set_mtime(site / "app.js.gz", 20);
    CHECK_FALSE(o->read_precompressed("/app.js", ".gz", etag, 1 << 20, &out));
    CHECK(out.empty());
    // Index documents resolve like get().
    write_file(site / "index.html.gz", "GZ-INDEX");
    set_mtime(site / "index.html", 10);
    CHECK(o->read_precompressed("/", ".gz", get(*o, "/").etag, 1 << 20, &out));
    CHECK(out == "GZ-INDEX");
    // The sibling itself is an ordinary file.
    CHECK(body(*o, "/app.js.br") == "BROTLI-BYTES");
}

TEST_CASE("Bucket deploy: a writer breaking the lease probe's lease cannot end the process", "[edge][origin][bucket]") {
    // The kernel sends SIGIO to a lease holder when another process opens the file for writing, and SIGIO's default
    // action ends the process: opening a bucket makes sure it is ignored (unless a handler is installed).
    Tmp t;
    fs::create_directories(t.base / "site");
    std::string err;
    auto o = BucketOrigin::open((t.base / "site").string(), "index.html", "", &err);
    REQUIRE(o);
    struct sigaction sa {};
    REQUIRE(::sigaction(SIGIO, nullptr, &sa) == 0);
    CHECK(sa.sa_handler == SIG_IGN);
}
