#include "shared/process/signals.h"

#include <csignal>

#include "shared/log/log.h"

namespace shared {

SignalHandlers::SignalHandlers(uv_loop_t* loop, Callbacks cb) : cb_(std::move(cb)) {
    std::signal(SIGPIPE, SIG_IGN);
    struct {
        uv_signal_t* h;
        int sig;
    } all[] = {{&sigint_, SIGINT}, {&sigterm_, SIGTERM}, {&sighup_, SIGHUP}, {&sigusr1_, SIGUSR1}};
    for (auto& s : all) {
        uv_signal_init(loop, s.h);
        s.h->data = this;
        uv_signal_start(s.h, &SignalHandlers::on_signal, s.sig);
    }
}

SignalHandlers::~SignalHandlers() { close(); }

void SignalHandlers::close() {
    if (closed_) return;
    closed_ = true;
    for (uv_signal_t* h : {&sigint_, &sigterm_, &sighup_, &sigusr1_})
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(h))) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
}

void SignalHandlers::on_signal(uv_signal_t* h, int signum) noexcept {
    auto* self = static_cast<SignalHandlers*>(h->data);
    switch (signum) {
    case SIGINT:
    case SIGTERM:
        if (self->cb_.on_stop) self->cb_.on_stop(signum);
        break;
    case SIGHUP:
        if (self->cb_.on_reload) self->cb_.on_reload();
        break;
    case SIGUSR1:
        log::reopen();
        if (self->cb_.on_reopen) self->cb_.on_reopen();
        break;
    default: break;
    }
}

} // namespace shared
