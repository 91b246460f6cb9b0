// What this process's descriptors point at, read from /proc/self/fd, for tests that check a file swap keeps the
// descriptor number a late writer still holds (the log and the access log swap files with dup2, never close).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace test_support {

// The path descriptor `fd` refers to, or "" when it is not open.
inline std::string link_of(int fd) {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    return ec ? std::string() : p.string();
}

// The descriptor numbers of this process that refer to `path`.
inline std::vector<int> fds_of(const std::string& path) {
    std::vector<int> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(e.path(), ec);
        if (!ec && target == path) out.push_back(std::stoi(e.path().filename().string()));
    }
    return out;
}

// The whole content of a file ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace test_support
