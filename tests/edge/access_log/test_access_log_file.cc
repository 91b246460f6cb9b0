#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "edge/access_log/access_log.h"
#include "tests/support/proc_fds.h"

namespace fs = std::filesystem;
using namespace edge;
using test_support::fds_of;
using test_support::link_of;
using test_support::slurp;

TEST_CASE("AccessLogFile: turning the log off never frees the descriptor a worker may still write to",
          "[edge][access_log]") {
    char tmpl[] = "/tmp/meridian-alog-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl, a = dir + "/a.log", b = dir + "/b.log", body = dir + "/body";
    {
        AccessLogFile f;
        std::string err;
        REQUIRE(f.open(a, &err));
        f.write("one\n");
        auto fds = fds_of(a);
        REQUIRE(fds.size() == 1);
        const int n = fds[0]; // loaded by a worker just before the swap

        // SIGHUP with another file: same number, new file.
        REQUIRE(f.open(b, &err));
        CHECK(link_of(n) == b);
        CHECK(fds_of(a).empty());

        // SIGHUP with the log turned off.
        REQUIRE(f.open("", &err));
        CHECK_FALSE(f.enabled());
        CHECK(link_of(n) == "/dev/null"); // still open, writing nowhere
        CHECK((::fcntl(n, F_GETFD) & FD_CLOEXEC) != 0);
        // The next descriptor the process opens (a cached body file, a client socket) is another number, so the late
        // writer's line cannot land in it.
        int o = ::open(body.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        REQUIRE(o >= 0);
        CHECK(o != n);
        REQUIRE(::write(n, "late line\n", 10) == 10);
        ::close(o);
        CHECK(slurp(body).empty());
        f.write("dropped\n"); // off: nothing written
        CHECK(slurp(b) == "");

        // On again: the parked number is reused.
        REQUIRE(f.open(a, &err));
        CHECK(f.enabled());
        CHECK(link_of(n) == a);
        f.write("two\n");
        CHECK(slurp(a) == "one\ntwo\n");

        // Rotation (SIGUSR1): move the file away, reopen: same number, new file.
        fs::rename(a, dir + "/a.log.1");
        f.reopen();
        CHECK(link_of(n) == a);
        f.write("three\n");
        CHECK(slurp(a) == "three\n");
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}
