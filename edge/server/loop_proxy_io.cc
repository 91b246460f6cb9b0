#include "edge/server/loop_proxy_io.h"

#include <memory>

namespace edge {
namespace {

// Freed after both handles closed; the session hears on_io_closed() then.
class LoopSessionIo final : public SessionIo {
  public:
    LoopSessionIo(uv_loop_t* loop, SessionIoEvents* ev) : ev_(ev) {
        uv_async_init(loop, &async_, on_async);
        async_.data = this;
        uv_timer_init(loop, &timer_);
        timer_.data = this;
    }
    void wake() noexcept override { uv_async_send(&async_); }
    void start_timer(uint64_t ms) override { uv_timer_start(&timer_, on_timer, ms, 0); }
    void stop_timer() override { uv_timer_stop(&timer_); }
    void close() override {
        uv_close(reinterpret_cast<uv_handle_t*>(&async_), on_closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
    }

  private:
    ~LoopSessionIo() = default;
    static void on_async(uv_async_t* a) noexcept { static_cast<LoopSessionIo*>(a->data)->ev_->on_wakeup(); }
    static void on_timer(uv_timer_t* t) noexcept { static_cast<LoopSessionIo*>(t->data)->ev_->on_timer(); }
    static void on_closed(uv_handle_t* h) noexcept {
        auto* io = static_cast<LoopSessionIo*>(h->data);
        if (--io->open_ != 0) return;
        SessionIoEvents* ev = io->ev_;
        delete io;
        ev->on_io_closed();
    }

    SessionIoEvents* ev_;
    uv_async_t async_{};
    uv_timer_t timer_{};
    int open_ = 2;
};

struct OffLoopJob {
    uv_work_t req{};
    std::function<void()> work;
    std::function<void(bool)> done;
};

} // namespace

LoopProxyIo::LoopProxyIo(uv_loop_t* loop, std::function<void(uint64_t ms)> first_byte_hook)
    : loop_(loop), pools_(loop, std::move(first_byte_hook)) {}

// The tick's handle is closed by shutdown() on the loop; a destructor may run after the loop is gone.
LoopProxyIo::~LoopProxyIo() = default;

SessionIo* LoopProxyIo::open_session_io(SessionIoEvents* events) {
    return new LoopSessionIo(loop_, events);
}

void LoopProxyIo::run_off_loop(std::function<void()> work, std::function<void(bool ran)> done) {
    auto* job = new OffLoopJob;
    job->work = std::move(work);
    job->done = std::move(done);
    job->req.data = job;
    auto run = [](uv_work_t* w) noexcept { static_cast<OffLoopJob*>(w->data)->work(); };
    auto after = [](uv_work_t* w, int status) noexcept {
        std::unique_ptr<OffLoopJob> j(static_cast<OffLoopJob*>(w->data));
        j->done(status == 0);
    };
    if (uv_queue_work(loop_, &job->req, run, after) != 0) {
        std::unique_ptr<OffLoopJob> j(job);
        j->done(false);
    }
}

void LoopProxyIo::set_tick(std::function<void()> tick) {
    tick_ = std::move(tick);
    if (tick_timer_) return;
    tick_timer_ = new uv_timer_t;
    uv_timer_init(loop_, tick_timer_);
    tick_timer_->data = this;
    uv_timer_start(
        tick_timer_,
        [](uv_timer_t* t) noexcept {
            auto* io = static_cast<LoopProxyIo*>(t->data);
            if (io->tick_) io->tick_();
        },
        1000, 1000);
    // The tick alone does not keep the loop running.
    uv_unref(reinterpret_cast<uv_handle_t*>(tick_timer_));
}

void LoopProxyIo::shutdown() {
    if (tick_timer_) {
        uv_close(reinterpret_cast<uv_handle_t*>(tick_timer_),
                 [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
        tick_timer_ = nullptr;
    }
    tick_ = nullptr;
    pools_.close();
}

} // namespace edge
