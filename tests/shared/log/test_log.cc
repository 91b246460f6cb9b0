#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "shared/log/log.h"

namespace fs = std::filesystem;

namespace {

std::string link_of(int fd) {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    return ec ? std::string() : p.string();
}

// The descriptor numbers of this process that refer to `path`.
std::vector<int> fds_of(const std::string& path) {
    std::vector<int> out;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        auto target = fs::read_symlink(e.path(), ec);
        if (!ec && target == path) out.push_back(std::stoi(e.path().filename().string()));
    }
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct TempDir {
    std::string dir;
    TempDir() {
        char tmpl[] = "/tmp/meridian-log-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

} // namespace

TEST_CASE("Log: swapping the log file keeps the descriptor number (a late writer never hits a reused fd)",
          "[shared][log]") {
    TempDir t;
    const std::string a = t.dir + "/a.log", b = t.dir + "/b.log", other = t.dir + "/body";
    std::string err;
    REQUIRE(shared::log::set_file(a, &err));
    shared::log::info("test", "to a");
    auto fds = fds_of(a);
    REQUIRE(fds.size() == 1);
    const int n = fds[0]; // what a worker that loaded the fd before the swap still holds

    REQUIRE(shared::log::set_file(b, &err)); // a SIGHUP with another log.file
    CHECK(link_of(n) == b);                  // same number, new file
    CHECK(fds_of(a).empty());                // the old file is let go
    CHECK((::fcntl(n, F_GETFD) & FD_CLOEXEC) != 0);
    // Whatever the process opens next (a client socket, a cached body file) never gets that number.
    int o = ::open(other.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(o >= 0);
    CHECK(o != n);
    REQUIRE(::write(n, "late line\n", 10) == 10); // the late writer
    ::close(o);
    CHECK(slurp(other).empty());
    shared::log::info("test", "to b");
    CHECK(slurp(b).find("late line") != std::string::npos);
    CHECK(slurp(b).find("msg=\"to b\"") != std::string::npos);
    CHECK(slurp(a).find("to b") == std::string::npos);

    // Back to stderr: the number stays open (now stderr) rather than being closed.
    REQUIRE(shared::log::set_file("", &err));
    CHECK(link_of(n) == link_of(2));
    o = ::open(other.c_str(), O_WRONLY | O_CLOEXEC);
    CHECK(o != n);
    ::close(o);
    // And to a file again, through the same number.
    REQUIRE(shared::log::set_file(a, &err));
    CHECK(link_of(n) == a);
    REQUIRE(shared::log::set_file("stderr", &err));
}
