// A worker thread with its own uv_loop_t. The owner starts it with an on_start hook (runs on the worker thread,
// opens its listeners) and an on_stop hook (runs on the worker thread when stop is requested; must close or
// arrange to close every handle the worker's code owns). The loop then runs until no handle is left, and the
// worker checks that uv_loop_close() succeeds (a leaked handle is logged as an error and counted in
// leaked_handles()).
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shared {

class Worker {
public:
    using Hook = std::function<void(Worker&)>;
    explicit Worker(unsigned index);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Starts the thread. Blocks until on_start has returned on the worker thread; returns false if it reported
    // failure via fail().
    bool start(Hook on_start, Hook on_stop);
    // Thread-safe. Runs fn on the worker's loop thread (coalesced wake-ups, every fn runs once).
    void post(std::function<void()> fn);
    // Thread-safe. Runs on_stop on the worker thread, then lets the loop drain.
    void request_stop();
    void join();

    // For on_start: mark the start as failed (e.g. a listener could not bind).
    void fail() { failed_ = true; }
    uv_loop_t* loop() { return &loop_; }
    unsigned index() const { return index_; }
    bool leaked_handles() const { return leaked_; }

private:
    static void on_async(uv_async_t* a) noexcept;
    void run_posted();
    unsigned index_;
    uv_loop_t loop_{};
    uv_async_t async_{};
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::function<void()>> posted_;
    bool stop_requested_ = false;
    bool stopping_ = false;
    Hook on_stop_;
    std::atomic<bool> failed_{false};
    std::atomic<bool> leaked_{false};
};

// Closes every handle still open on `loop` (last-resort sweep, e.g. in tests) and runs the loop until they are
// closed. Returns uv_loop_close()'s result.
int close_loop(uv_loop_t* loop);

} // namespace shared
