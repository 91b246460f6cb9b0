#include "shared/loop/worker.h"

#include <future>

#include "shared/log/log.h"

namespace shared {

Worker::Worker(unsigned index) : index_(index) {}

Worker::~Worker() {
    if (thread_.joinable()) {
        request_stop();
        thread_.join();
    }
}

bool Worker::start(Hook on_start, Hook on_stop) {
    on_stop_ = std::move(on_stop);
    std::promise<bool> started;
    auto fut = started.get_future();
    thread_ = std::thread([this, on_start = std::move(on_start), &started]() mutable {
        uv_loop_init(&loop_);
        uv_async_init(&loop_, &async_, &Worker::on_async);
        async_.data = this;
        on_start(*this);
        started.set_value(!failed_.load());
        uv_run(&loop_, UV_RUN_DEFAULT);
        int rc = uv_loop_close(&loop_);
        if (rc != 0) {
            leaked_ = true;
            log::error("worker", "handles left open at stop", {{"worker", std::to_string(index_)}, {"error", uv_err_name(rc)}});
            close_loop(&loop_);
        }
    });
    return fut.get();
}

// Both senders wake the loop while holding mu_: once run_posted has set stopping_ (under mu_) the worker closes
// the async handle and, when the loop ends, its eventfd, so a send made after unlocking could write to a closed
// descriptor, or to whatever file reused its number.
void Worker::post(std::function<void()> fn) {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return;
    posted_.push_back(std::move(fn));
    uv_async_send(&async_);
}

void Worker::request_stop() {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_requested_ || stopping_) return;
    stop_requested_ = true;
    uv_async_send(&async_);
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::run_posted() {
    std::vector<std::function<void()>> fns;
    bool stop = false;
    {
        std::lock_guard<std::mutex> lk(mu_);
        fns.swap(posted_);
        if (stop_requested_ && !stopping_) {
            stopping_ = true;
            stop = true;
        }
    }
    for (auto& f : fns) f();
    if (stop) {
        if (on_stop_) on_stop_(*this);
        uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    }
}

void Worker::on_async(uv_async_t* a) noexcept { static_cast<Worker*>(a->data)->run_posted(); }

int close_loop(uv_loop_t* loop) {
    uv_walk(
        loop,
        [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop);
}

} // namespace shared
