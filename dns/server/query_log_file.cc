#include "dns/server/query_log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "shared/log/log.h"

namespace dns {

QueryLogFile::~QueryLogFile() {
    if (fd_ >= 0) ::close(fd_);
}

bool QueryLogFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    path_ = path;
    return true;
}

bool QueryLogFile::reopen() {
    if (fd_ < 0 || path_.empty()) return false;
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    // dup2 keeps O_CLOEXEC off the copy; set it again so the log never leaks into child processes.
    bool ok = ::dup3(fd, fd_, O_CLOEXEC) >= 0;
    ::close(fd);
    if (ok) reopens_++;
    return ok;
}

int QueryLogFile::watch_reopen_signal(uv_loop_t* loop) {
    if (watching_) return 0;
    int rc = uv_signal_init(loop, &signal_);
    if (rc) return rc;
    signal_.data = this;
    watching_ = true;
    rc = uv_signal_start(&signal_, on_signal, SIGUSR1);
    if (rc) close_watch();
    return rc;
}

void QueryLogFile::close_watch() {
    if (!watching_) return;
    watching_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&signal_), nullptr);
}

void QueryLogFile::on_signal(uv_signal_t* h, int) noexcept {
    auto* self = static_cast<QueryLogFile*>(h->data);
    if (self->reopen())
        shared::log::info("dns", "query log reopened", {{"file", self->path_}});
    else
        shared::log::error("dns", "cannot reopen query log; still writing to the old file",
                           {{"file", self->path_}, {"error", std::strerror(errno)}});
}

} // namespace dns
