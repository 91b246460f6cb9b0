#include "edge/invalidation/invalidate_cli.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "shared/json/json_value.h"
#include "shared/net/address.h"

namespace edge {
namespace {

int usage(const char* why) {
    std::fprintf(stderr,
                 "meridian-edge invalidate: %s\n"
                 "usage: meridian-edge invalidate --admin HOST:PORT --token-file FILE [--site NAME] [--host HOST] "
                 "[--soft] "
                 "[--tag TAG]... [PATH]...\n",
                 why);
    return 2;
}

// One HTTP/1.1 exchange on a fresh connection (Connection: close): the whole answer, or "" with *err.
std::string exchange(const shared::SocketAddress& addr, const std::string& request, std::string* err) {
    int fd = ::socket(addr.sa()->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::strerror(errno);
        return {};
    }
    timeval tv{60, 0}; // a large invalidation takes its time; a hung listener does not hold a deploy forever
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(fd, addr.sa(), addr.len) != 0) {
        *err = std::string("connect: ") + std::strerror(errno);
    } else {
        size_t sent = 0;
        while (sent < request.size()) {
            ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) {
                *err = std::string("send: ") + std::strerror(errno);
                break;
            }
            sent += static_cast<size_t>(n);
        }
        char buf[16384];
        for (ssize_t n; err->empty() && (n = ::recv(fd, buf, sizeof buf, 0)) != 0;) {
            if (n < 0) {
                if (errno == EINTR) continue;
                *err = std::string("recv: ") + std::strerror(errno);
                break;
            }
            out.append(buf, static_cast<size_t>(n));
        }
    }
    ::close(fd);
    return err->empty() ? out : std::string();
}

} // namespace

bool run_invalidate_command(int argc, char** argv, int* exit_code) {
    if (argc < 2 || std::string(argv[1]) != "invalidate") return false;
    std::string admin, token_file, host;
    std::optional<std::string> site; // "" names the top-level site
    bool soft = false;
    std::vector<std::string> paths, tags;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](std::string* out) {
            if (i + 1 >= argc) return false;
            *out = argv[++i];
            return true;
        };
        std::string tag;
        if (a == "--admin") {
            if (!value(&admin)) return *exit_code = usage("--admin needs HOST:PORT"), true;
        } else if (a == "--token-file") {
            if (!value(&token_file)) return *exit_code = usage("--token-file needs a file"), true;
        } else if (a == "--site") {
            std::string name;
            if (!value(&name)) return *exit_code = usage("--site needs a site name (\"\" = the top-level site)"), true;
            site = name;
        } else if (a == "--host") {
            if (!value(&host)) return *exit_code = usage("--host needs a host name"), true;
        } else if (a == "--tag") {
            if (!value(&tag)) return *exit_code = usage("--tag needs a tag"), true;
            tags.push_back(tag);
        } else if (a == "--soft") {
            soft = true;
        } else if (a.size() > 1 && a[0] == '-') {
            return *exit_code = usage(("unknown option " + a).c_str()), true;
        } else {
            paths.push_back(a);
        }
    }
    if (admin.empty() || token_file.empty()) return *exit_code = usage("--admin and --token-file are required"), true;
    if (paths.empty() && tags.empty()) return *exit_code = usage("give paths, --tag or both"), true;
    std::string err;
    auto addr = shared::parse_socket_address(admin, &err);
    if (!addr) return *exit_code = usage(("--admin: " + err).c_str()), true;
    std::ifstream in(token_file);
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
        token.pop_back();
    if (token.empty()) return *exit_code = usage(("cannot read a token from " + token_file).c_str()), true;

    std::string body =
        "{\"paths\": " + shared::json_string_array(paths) + ", \"tags\": " + shared::json_string_array(tags);
    if (site) body += ", \"site\": " + shared::json_quote(*site);
    if (!host.empty()) body += ", \"host\": " + shared::json_quote(host);
    if (soft) body += ", \"mode\": \"soft\"";
    body += "}";
    std::string request =
        "POST /_meridian/invalidate HTTP/1.1\r\nHost: " + admin + "\r\nAuthorization: Bearer " + token +
        "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    std::string answer = exchange(*addr, request, &err);
    if (!err.empty()) {
        std::fprintf(stderr, "meridian-edge invalidate: %s: %s\n", admin.c_str(), err.c_str());
        *exit_code = 2;
        return true;
    }
    size_t head_end = answer.find("\r\n\r\n");
    std::string status_line = answer.substr(0, answer.find("\r\n"));
    std::string out = head_end == std::string::npos ? answer : answer.substr(head_end + 4);
    bool created = status_line.rfind("HTTP/1.1 201", 0) == 0;
    std::fputs(out.c_str(), created ? stdout : stderr);
    if (!created) std::fprintf(stderr, "meridian-edge invalidate: %s\n", status_line.c_str());
    *exit_code = created ? 0 : 1;
    return true;
}

} // namespace edge
