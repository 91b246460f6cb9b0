// The query log's file: opened at start, reopened on SIGUSR1 for log rotation. Workers write to fd() without a
// lock; reopen() swaps the file behind that same descriptor with dup2, so a write in flight goes to either the old
// or the new file, never to a closed descriptor, and the workers need no new settings.
//
// shared::DaemonApp has no reopen hook (run_daemon's SIGUSR1 only reopens the process log), so this class watches
// SIGUSR1 itself with its own uv_signal_t on the main loop; libuv calls every handle watching a signal.
// Main thread only (except fd(), which workers read).
#pragma once

#include <uv.h>

#include <string>

namespace dns {

class QueryLogFile {
public:
    QueryLogFile() = default;
    QueryLogFile(const QueryLogFile&) = delete;
    QueryLogFile& operator=(const QueryLogFile&) = delete;
    ~QueryLogFile();

    // Opens (appending, created 0644). False with errno set when it cannot be opened.
    bool open(const std::string& path);
    // Opens the path again (after rotation). On failure the old file stays in use and false is returned.
    bool reopen();
    // Reopens on every SIGUSR1 delivered to `loop` until close_watch(). 0 or a libuv error.
    int watch_reopen_signal(uv_loop_t* loop);
    // Stops watching (the loop must run afterwards to finish closing the handle).
    void close_watch();

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }
    uint64_t reopens() const { return reopens_; }

private:
    static void on_signal(uv_signal_t* h, int signum) noexcept;
    int fd_ = -1;
    std::string path_;
    uv_signal_t signal_{};
    bool watching_ = false;
    uint64_t reopens_ = 0;
};

} // namespace dns
