#include "edge/server/loop_proxy_io.h"

#include <memory>
#include <thread>

namespace edge {

// Wakes from the loop's own thread (a fill fed by this worker's origin connection waking its session, the common
// case) skip the eventfd: an async send costs a write, an epoll turn and a read, and the session would run only
// after the next round of origin reads. Queued sessions run from a check handle, right after this turn's I/O
// callbacks, and an idle handle keeps the poll from blocking when the wake came from a timer.
class LocalWakeups {
  public:
    struct Link {
        Link* prev = this;
        Link* next = this;
        bool linked() const { return next != this; }
        void unlink() {
            prev->next = next;
            next->prev = prev;
            prev = next = this;
        }
    };

    explicit LocalWakeups(uv_loop_t* loop) {
        uv_check_init(loop, &check_);
        uv_idle_init(loop, &idle_);
        check_.data = idle_.data = this;
    }
    void push(Link* l) {
        l->prev = queue_.prev;
        l->next = &queue_;
        queue_.prev->next = l;
        queue_.prev = l;
        if (active_) return;
        active_ = true;
        uv_check_start(&check_, [](uv_check_t* h) noexcept { static_cast<LocalWakeups*>(h->data)->drain(); });
        uv_idle_start(&idle_, [](uv_idle_t* h) noexcept { static_cast<LocalWakeups*>(h->data)->drain(); });
    }
    bool closed() const { return closed_; }
    void add_user() { ++users_; }
    void drop_user() {
        --users_;
        free_if_done();
    }
    // The handles close; the memory goes once they have and no session io holds a pointer here.
    void close() {
        closed_ = true;
        // Whoever is still queued hears its wake through its own async handle.
        while (queue_.linked()) {
            Link* l = queue_.next;
            l->unlink();
            run_async(l);
        }
        auto on_closed = [](uv_handle_t* h) noexcept {
            auto* w = static_cast<LocalWakeups*>(h->data);
            --w->open_;
            w->free_if_done();
        };
        uv_close(reinterpret_cast<uv_handle_t*>(&check_), on_closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&idle_), on_closed);
    }

    static void run(Link* l); // defined with the session io
    static void run_async(Link* l);

  private:
    void drain() {
        // Wakes that a wakeup itself causes wait for the next drain, so no session can hold the loop here.
        Link batch;
        if (queue_.linked()) {
            batch.next = queue_.next;
            batch.prev = queue_.prev;
            batch.next->prev = &batch;
            batch.prev->next = &batch;
            queue_.next = queue_.prev = &queue_;
        }
        while (batch.linked()) {
            Link* l = batch.next;
            l->unlink();
            run(l);
        }
        if (!queue_.linked() && active_ && !closed_) {
            active_ = false;
            uv_check_stop(&check_);
            uv_idle_stop(&idle_);
        }
    }
    void free_if_done() {
        if (closed_ && open_ == 0 && users_ == 0) delete this;
    }

    uv_check_t check_{};
    uv_idle_t idle_{};
    Link queue_;
    bool active_ = false;
    bool closed_ = false;
    int open_ = 2;
    size_t users_ = 0;
};

namespace {

// Freed after both handles closed; the session hears on_io_closed() then.
class LoopSessionIo final : public SessionIo, public LocalWakeups::Link {
  public:
    LoopSessionIo(uv_loop_t* loop, SessionIoEvents* ev, LocalWakeups* local)
        : ev_(ev), local_(local), owner_(std::this_thread::get_id()) {
        uv_async_init(loop, &async_, on_async);
        async_.data = this;
        uv_timer_init(loop, &timer_);
        timer_.data = this;
        local_->add_user();
    }
    void wake() noexcept override {
        if (std::this_thread::get_id() != owner_) {
            uv_async_send(&async_);
        } else if (!closing_ && !linked()) {
            if (local_->closed())
                uv_async_send(&async_);
            else
                local_->push(this);
        }
    }
    void wake_async() { uv_async_send(&async_); }
    void start_timer(uint64_t ms) override { uv_timer_start(&timer_, on_timer, ms, 0); }
    void stop_timer() override { uv_timer_stop(&timer_); }
    void close() override {
        closing_ = true;
        unlink();
        uv_close(reinterpret_cast<uv_handle_t*>(&async_), on_closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
    }
    void woken() { ev_->on_wakeup(); }

  private:
    ~LoopSessionIo() = default;
    static void on_async(uv_async_t* a) noexcept { static_cast<LoopSessionIo*>(a->data)->ev_->on_wakeup(); }
    static void on_timer(uv_timer_t* t) noexcept { static_cast<LoopSessionIo*>(t->data)->ev_->on_timer(); }
    static void on_closed(uv_handle_t* h) noexcept {
        auto* io = static_cast<LoopSessionIo*>(h->data);
        if (--io->open_ != 0) return;
        SessionIoEvents* ev = io->ev_;
        LocalWakeups* local = io->local_;
        delete io;
        local->drop_user();
        ev->on_io_closed();
    }

    SessionIoEvents* ev_;
    LocalWakeups* local_;
    std::thread::id owner_;
    uv_async_t async_{};
    uv_timer_t timer_{};
    int open_ = 2;
    bool closing_ = false;
};

struct OffLoopJob {
    uv_work_t req{};
    std::function<void()> work;
    std::function<void(bool)> done;
};

} // namespace

void LocalWakeups::run(Link* l) {
    static_cast<LoopSessionIo*>(l)->woken();
}
void LocalWakeups::run_async(Link* l) {
    static_cast<LoopSessionIo*>(l)->wake_async();
}

LoopProxyIo::LoopProxyIo(uv_loop_t* loop, std::function<void(uint64_t ms)> first_byte_hook)
    : loop_(loop), pools_(loop, std::move(first_byte_hook)), local_wakeups_(new LocalWakeups(loop)) {}

// The tick's handle is closed by shutdown() on the loop; a destructor may run after the loop is gone.
LoopProxyIo::~LoopProxyIo() = default;

SessionIo* LoopProxyIo::open_session_io(SessionIoEvents* events) {
    return new LoopSessionIo(loop_, events, local_wakeups_);
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
    if (local_wakeups_) {
        local_wakeups_->close();
        local_wakeups_ = nullptr;
    }
}

} // namespace edge
