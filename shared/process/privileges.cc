#include "shared/process/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shared {

namespace {

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// 0, or the errno of opening `f` the way the daemon will. A missing file to read is not this check's business
// (loading it already reported that).
// A missing log is fine when the daemon starts as root: it creates it for the user before switching.
int probe(const NamedFile& f, bool root_creates) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0) {
        if (errno != ENOENT) return errno;
        if (!f.write || root_creates) return 0;
        return ::access(dir_of(f.path).c_str(), W_OK | X_OK) == 0 ? 0 : errno;
    }
    if (S_ISDIR(st.st_mode)) return ::access(f.path.c_str(), R_OK | X_OK) == 0 ? 0 : errno;
    int fd = ::open(f.path.c_str(), (f.write ? O_WRONLY | O_APPEND : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
}

bool full_write(int fd, const void* p, size_t n) {
    auto* b = static_cast<const char*>(p);
    while (n > 0) {
        ssize_t w = ::write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

} // namespace

bool resolve_run_as(const std::string& user, const std::string& group, RunAs* out, std::string* err) {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* pwr = nullptr;
    int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &pwr);
    if (rc != 0 || !pwr) {
        *err = "no such user \"" + user + "\"" + (rc ? std::string(": ") + std::strerror(rc) : std::string());
        return false;
    }
    out->user = user;
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    out->group.clear();
    struct group gr {};
    struct group* grr = nullptr;
    if (!group.empty()) {
        rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &grr);
        if (rc != 0 || !grr) {
            *err = "no such group \"" + group + "\"" + (rc ? std::string(": ") + std::strerror(rc) : std::string());
            return false;
        }
        out->gid = gr.gr_gid;
        out->group = group;
    } else if (::getgrgid_r(out->gid, &gr, buf.data(), buf.size(), &grr) == 0 && grr) {
        out->group = gr.gr_name;
    } else {
        out->group = std::to_string(out->gid);
    }
    return true;
}

bool drop_privileges(const RunAs& as, std::string* err) {
    // Order matters: groups first (setgroups and setgid need root), the user last.
    if (::setgroups(0, nullptr) != 0) {
        *err = std::string("setgroups(0): ") + std::strerror(errno);
        return false;
    }
    if (::setresgid(as.gid, as.gid, as.gid) != 0) {
        *err = "setgid(" + std::to_string(as.gid) + "): " + std::strerror(errno);
        return false;
    }
    if (::setresuid(as.uid, as.uid, as.uid) != 0) {
        *err = "setuid(" + std::to_string(as.uid) + "): " + std::strerror(errno);
        return false;
    }
    if (as.uid != 0 && ::setuid(0) == 0) {
        *err = "root could be regained after switching to user " + as.user;
        return false;
    }
    return true;
}

void prepare_output_files(const RunAs& as, const std::vector<NamedFile>& files) {
    for (const NamedFile& f : files) {
        if (!f.write) continue;
        int fd = ::open(f.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0) continue; // exists already, or the open that follows reports why not
        if (::fchown(fd, as.uid, as.gid) != 0) {
            // Leave it: check_named_files reports a log the user cannot reopen.
        }
        ::close(fd);
    }
}

void check_named_files(const RunAs* as, const std::vector<NamedFile>& files, ConfigDiagnostics& diags) {
    std::vector<int> result(files.size(), 0);
    if (as) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            diags.error_at("", 0, std::string("cannot check file access: pipe: ") + std::strerror(errno));
            return;
        }
        pid_t pid = ::fork();
        if (pid < 0) {
            diags.error_at("", 0, std::string("cannot check file access: fork: ") + std::strerror(errno));
            ::close(p[0]);
            ::close(p[1]);
            return;
        }
        if (pid == 0) {
            ::close(p[0]);
            std::string err;
            int status = drop_privileges(*as, &err) ? 0 : 1;
            if (status == 0) {
                for (size_t i = 0; i < files.size(); ++i)
                    result[i] = probe(files[i], true);
                if (!full_write(p[1], result.data(), result.size() * sizeof(int))) status = 2;
            }
            ::_exit(status);
        }
        ::close(p[1]);
        size_t got = 0;
        auto* b = reinterpret_cast<char*>(result.data());
        const size_t want = result.size() * sizeof(int);
        while (got < want) {
            ssize_t r = ::read(p[0], b + got, want - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += static_cast<size_t>(r);
        }
        ::close(p[0]);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (got != want || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            diags.error_at("", 0, "cannot check file access as user " + as->user + ": the switch to it failed");
            return;
        }
    } else {
        for (size_t i = 0; i < files.size(); ++i)
            result[i] = probe(files[i], false);
    }
    const std::string who =
        as ? "user " + as->user + " (uid " + std::to_string(as->uid) + ", gid " + std::to_string(as->gid) + ")"
           : "uid " + std::to_string(::geteuid());
    for (size_t i = 0; i < files.size(); ++i) {
        if (result[i] == 0) continue;
        ConfigError e = files[i].at;
        const bool missing_log = files[i].write && ::access(files[i].path.c_str(), F_OK) != 0;
        e.message = files[i].path + ": " +
                    (missing_log      ? "its folder is not writable by "
                     : files[i].write ? "not writable by "
                                      : "not readable by ") +
                    who + ": " + std::strerror(result[i]) +
                    (files[i].write ? " (reopened on SIGUSR1)" : " (read again on SIGHUP)");
        diags.error(std::move(e));
    }
}

} // namespace shared
