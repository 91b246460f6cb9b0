#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shared/json/json_value.h"
#include "shared/log/log.h"
#include "tests/support/proc_fds.h"
#include "tests/support/temp_dir.h"

using test_support::fds_of;
using test_support::link_of;
using test_support::slurp;
using test_support::TempDir;

TEST_CASE("Log: swapping the log file keeps the descriptor number (a late writer never hits a reused fd)",
          "[shared][log]") {
    TempDir t;
    const std::string a = t.path + "/a.log", b = t.path + "/b.log", other = t.path + "/body";
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

// Workers log while the main thread swaps the file (SIGHUP) and reopens it (SIGUSR1): every line lands whole in one
// of the files and nowhere else. Run under ThreadSanitizer by ./run test.
TEST_CASE("Log: lines written by several threads during swaps and reopens land whole in the log files",
          "[shared][log]") {
    TempDir t;
    const std::string a = t.path + "/a.log", b = t.path + "/b.log";
    std::string err;
    REQUIRE(shared::log::set_file(a, &err));
    constexpr int kThreads = 4, kLines = 2000;
    std::vector<std::thread> writers;
    for (int w = 0; w < kThreads; ++w)
        writers.emplace_back([w] {
            for (int i = 0; i < kLines; ++i)
                shared::log::info("test", "line", {{"writer", std::to_string(w)}, {"n", std::to_string(i)}});
        });
    for (int i = 0; i < 50; ++i) {
        REQUIRE(shared::log::set_file(i % 2 ? a : b, &err));
        shared::log::reopen();
    }
    for (auto& th : writers)
        th.join();
    REQUIRE(shared::log::set_file("stderr", &err));
    size_t lines = 0;
    for (const std::string& f : {a, b}) {
        std::istringstream in(slurp(f));
        for (std::string line; std::getline(in, line);) {
            if (line.find("msg=line") == std::string::npos) continue;
            ++lines;
            CHECK(line.find(" writer=") != std::string::npos); // whole: the line's fields were not cut off
            CHECK(line.find(" n=") != std::string::npos);
        }
    }
    CHECK(lines == size_t(kThreads) * kLines);
}

TEST_CASE("Log: the text format is key=value, quoted where needed", "[shared][log]") {
    std::string line;
    shared::log::format_line(line, shared::log::Format::text, "meridian-edge", 784111777123, shared::log::Level::warn,
                             "edge", "origin failed", {{"addr", "127.0.0.1:9"}, {"error", "a \"b\"\nc"}});
    CHECK(line ==
          "1994-11-06T08:49:37.123Z warn edge msg=\"origin failed\" addr=127.0.0.1:9 error=\"a \\\"b\\\"\\nc\"\n");
}

TEST_CASE("Log: the JSON format is one valid object per line whatever the bytes", "[shared][log]") {
    std::string line;
    const std::string nasty = std::string("q\"uote \\ back\nnew\ttab\x01\x7f bad\xff\xc3 ok\xc3\xa9") + '\0' + "end";
    shared::log::format_line(line, shared::log::Format::json, "meridian-dns", 784111777123, shared::log::Level::error,
                             "dns", nasty, {{"zone", "example.test."}, {"why", nasty}, {"k\"ey", ""}});
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1); // one line
    shared::JsonValue v;
    std::string err;
    INFO(line);
    REQUIRE(shared::parse_json(std::string_view(line).substr(0, line.size() - 1), &v, &err));
    CHECK(v.get("time")->string == "1994-11-06T08:49:37.123Z");
    CHECK(v.get("level")->string == "error");
    CHECK(v.get("daemon")->string == "meridian-dns");
    CHECK(v.get("component")->string == "dns");
    const std::string fixed = std::string("q\"uote \\ back\nnew\ttab\x01\x7f bad\xef\xbf\xbd\xef\xbf\xbd ok\xc3\xa9") +
                              '\0' + "end"; // invalid bytes read back as U+FFFD, the rest exactly
    CHECK(v.get("message")->string == fixed);
    const shared::JsonValue* fields = v.get("fields");
    REQUIRE(fields);
    REQUIRE(fields->members.size() == 3);
    CHECK(fields->get("zone")->string == "example.test.");
    CHECK(fields->get("why")->string == fixed);
    CHECK(fields->get("k\"ey")->string.empty());
    CHECK(line.find("\\u0000") != std::string::npos);
    CHECK(line.find("\\u007f") != std::string::npos);
}

TEST_CASE("Log: set_format(json) writes JSON lines with the daemon's name", "[shared][log]") {
    TempDir t;
    const std::string a = t.path + "/a.log";
    std::string err;
    REQUIRE(shared::log::set_file(a, &err));
    shared::log::set_daemon("meridian-test");
    shared::log::set_format(shared::log::Format::json);
    shared::log::info("test", "json line", {{"n", "1"}});
    shared::log::set_format(shared::log::Format::text);
    shared::log::info("test", "text line");
    REQUIRE(shared::log::set_file("stderr", &err));
    std::istringstream in(slurp(a));
    std::string first, second;
    std::getline(in, first);
    std::getline(in, second);
    shared::JsonValue v;
    REQUIRE(shared::parse_json(first, &v, &err));
    CHECK(v.get("daemon")->string == "meridian-test");
    CHECK(v.get("message")->string == "json line");
    CHECK(v.get("fields")->get("n")->string == "1");
    CHECK(second.find("info test msg=\"text line\"") != std::string::npos);
}
