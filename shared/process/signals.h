// Process signals on the main loop: SIGINT/SIGTERM → stop, SIGHUP → reload, SIGUSR1 → reopen logs (the log file is
// reopened here before on_reopen runs). SIGPIPE is ignored process-wide. Only the main thread's loop sees signals.
#pragma once

#include <uv.h>

#include <functional>

namespace shared {

class SignalHandlers {
public:
    struct Callbacks {
        std::function<void(int signum)> on_stop;
        std::function<void()> on_reload;
        std::function<void()> on_reopen; // optional, after the log file was reopened
    };
    SignalHandlers(uv_loop_t* loop, Callbacks cb);
    ~SignalHandlers();
    // Closes the signal handles (call before the main loop's last run).
    void close();

private:
    static void on_signal(uv_signal_t* h, int signum) noexcept;
    Callbacks cb_;
    uv_signal_t sigint_{}, sigterm_{}, sighup_{}, sigusr1_{};
    bool closed_ = false;
};

} // namespace shared
