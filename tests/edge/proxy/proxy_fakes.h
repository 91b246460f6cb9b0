// Fakes for driving ProxyHandler and ProxySession without a socket or an event loop: a viewer that records what
// it is sent and can leave at any moment (even from inside a write), a ProxyIo whose wakeups, timers, thread-pool
// jobs and closes the test delivers by hand, and an origin whose answers the test writes event by event. With
// them every phase of a session can be reached deterministically, as Knot tests its query layer without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edge/proxy/proxy_io.h"
#include "edge/proxy/viewer.h"
#include "edge/upstream/origin_stream.h"

namespace test_support {

class FakeViewer final : public edge::Viewer {
  public:
    std::string out;                     // every byte queued, in order
    size_t leave_after_bytes = SIZE_MAX; // the viewer goes away inside the write that would pass this many bytes
    bool congested_flag = false;
    bool is_gone = false;
    bool ended = false;
    bool ended_keep_alive = false;
    bool aborted = false;
    int writes_after_gone = 0; // a session that keeps writing to a viewer it was told is gone
    int writes = 0;            // write calls that queued bytes (each is a syscall on a real connection)
    int holds = 0;
    std::vector<edge::Ref<edge::CachedObject>> pins;
    edge::ViewerEvents* events = nullptr;

    // The viewer resets its connection: the attached session hears on_viewer_gone() now.
    void leave() {
        if (is_gone) return;
        is_gone = true;
        pins.clear();
        if (edge::ViewerEvents* e = events) {
            events = nullptr;
            e->on_viewer_gone();
        }
    }
    // The output queue drained (after congested_flag was set): what the connection's write callback does.
    void drain() {
        congested_flag = false;
        if (events) events->on_writable();
    }
    // The body after the head (the whole output when no head ended yet).
    std::string body() const {
        size_t p = out.find("\r\n\r\n");
        return p == std::string::npos ? std::string() : out.substr(p + 4);
    }
    std::string status_line() const { return out.substr(0, out.find("\r\n")); }

    bool gone() const override { return is_gone; }
    std::string& head_buffer() override { return head_; }
    bool write(const edge::OutBuf* bufs, unsigned n) override {
        if (is_gone) {
            ++writes_after_gone;
            return false;
        }
        size_t total = 0;
        for (unsigned i = 0; i < n; ++i)
            total += bufs[i].len;
        if (out.size() + total > leave_after_bytes) {
            leave();
            return false;
        }
        for (unsigned i = 0; i < n; ++i)
            out.append(bufs[i].data, bufs[i].len);
        if (total > 0) ++writes;
        return true;
    }
    using edge::Viewer::write;
    bool write_file(const edge::OutBuf* head, unsigned n, const edge::FileSpan& body) override {
        if (!write(head, n)) return false;
        edge::OutBuf b{body.mem, body.len};
        return write(&b, 1);
    }
    bool write_copy(std::string_view s) override { return write(s); }
    void pin(edge::Ref<edge::CachedObject> obj) override {
        if (!is_gone) pins.push_back(std::move(obj));
    }
    bool congested() const override { return congested_flag; }
    void end_response(bool keep_alive) override {
        if (is_gone) {
            ++writes_after_gone;
            return;
        }
        ended = true;
        ended_keep_alive = keep_alive;
        events = nullptr;
        head_.clear();
    }
    void abort() override {
        aborted = true;
        leave();
    }
    void attach(edge::ViewerEvents* e) override { events = e; }
    void detach() override { events = nullptr; }
    void hold() override { ++holds; }
    void release() override { --holds; }
    std::string_view peer_ip() const override { return "192.0.2.7"; }
    uint64_t request_elapsed_ms() const override { return 1; }

  private:
    std::string head_;
};

// One fetch the proxy started; the test answers it with head()/body()/complete()/error().
struct FakeFetch {
    edge::OriginRequest req;
    edge::OriginCallbacks cb;
    bool cancelled = false; // the proxy destroyed its OriginStream
    bool finished = false;  // complete() or error() ran
    bool paused = false;
    int resumes = 0;

    bool live() const { return !cancelled && !finished; }
    void head(int status, shared::HttpHeaders headers) {
        if (!live()) return;
        shared::HttpResponseHead h;
        h.status = status;
        h.headers = std::move(headers);
        cb.on_response_headers(h);
    }
    // An interim (1xx) response before the final head.
    void interim(int status, std::string reason, shared::HttpHeaders headers) {
        if (!live() || !cb.on_interim) return;
        shared::HttpResponseHead h;
        h.status = status;
        h.reason = std::move(reason);
        h.headers = std::move(headers);
        cb.on_interim(h);
    }
    // Returns on_body's answer (false: the proxy paused the fetch); true when the fetch is no longer live.
    bool body(std::string_view data) {
        if (!live()) return true;
        bool go_on = cb.on_body(data);
        if (!go_on) paused = true;
        return go_on;
    }
    void complete() {
        if (!live()) return;
        finished = true;
        cb.on_complete();
    }
    void error(shared::HttpError e) {
        if (!live()) return;
        finished = true;
        cb.on_error(e);
    }
};

class FakeOrigin final : public edge::OriginClient {
  public:
    std::vector<std::shared_ptr<FakeFetch>> fetches;

    std::unique_ptr<edge::OriginStream> fetch(const edge::OriginConfig&, edge::OriginRequest req,
                                              edge::OriginCallbacks cb) override {
        auto f = std::make_shared<FakeFetch>();
        f->req = std::move(req);
        f->cb = std::move(cb);
        fetches.push_back(f);
        return std::make_unique<Stream>(f);
    }
    FakeFetch& last() { return *fetches.back(); }

  private:
    class Stream final : public edge::OriginStream {
      public:
        explicit Stream(std::shared_ptr<FakeFetch> f) : f_(std::move(f)) {}
        ~Stream() override { f_->cancelled = true; }
        void pause() override { f_->paused = true; }
        void resume() override {
            f_->paused = false;
            ++f_->resumes;
        }

      private:
        std::shared_ptr<FakeFetch> f_;
    };
};

class FakeProxyIo final : public edge::ProxyIo {
  public:
    FakeOrigin origin;

    ~FakeProxyIo() {
        for (FakeSessionIo* s : ios_)
            delete s;
    }
    // Delivers wakeups, finished thread-pool jobs (when `run_jobs`) and closes until nothing is pending: one pass
    // of the loop as often as it takes.
    void run(bool run_jobs = true) {
        for (bool progress = true; progress;) {
            progress = false;
            for (size_t i = 0; i < ios_.size(); ++i) {
                FakeSessionIo* s = ios_[i];
                if (s->closed) {
                    ios_.erase(ios_.begin() + static_cast<std::ptrdiff_t>(i));
                    edge::SessionIoEvents* ev = s->ev;
                    delete s;
                    ev->on_io_closed();
                    progress = true;
                    break;
                }
                if (s->woken) {
                    s->woken = false;
                    s->ev->on_wakeup();
                    progress = true;
                    break;
                }
            }
            if (run_jobs && !jobs_.empty()) {
                auto job = std::move(jobs_.front());
                jobs_.erase(jobs_.begin());
                job.first();
                job.second(true);
                progress = true;
            }
        }
    }
    // Fires every armed session timer once.
    void fire_timers() {
        std::vector<FakeSessionIo*> armed;
        for (FakeSessionIo* s : ios_)
            if (s->timer_armed && !s->closed) armed.push_back(s);
        for (FakeSessionIo* s : armed) {
            s->timer_armed = false;
            s->ev->on_timer();
        }
        run();
    }
    size_t pending_jobs() const { return jobs_.size(); }
    // Runs the oldest thread-pool job and its completion only (nothing else).
    void run_one_job() {
        if (jobs_.empty()) return;
        auto job = std::move(jobs_.front());
        jobs_.erase(jobs_.begin());
        job.first();
        job.second(true);
    }
    size_t open_ios() const { return ios_.size(); }
    bool shut_down = false;

    edge::SessionIo* open_session_io(edge::SessionIoEvents* events) override {
        auto* s = new FakeSessionIo(events);
        ios_.push_back(s);
        return s;
    }
    void run_off_loop(std::function<void()> work, std::function<void(bool ran)> done) override {
        jobs_.emplace_back(std::move(work), std::move(done));
    }
    edge::OriginClient& origins() override { return origin; }
    void set_tick(std::function<void()>) override {}
    void shutdown() override { shut_down = true; }

  private:
    struct FakeSessionIo final : edge::SessionIo {
        explicit FakeSessionIo(edge::SessionIoEvents* e) : ev(e) {}
        edge::SessionIoEvents* ev;
        bool woken = false;
        bool timer_armed = false;
        bool closed = false;
        void wake() noexcept override { woken = true; }
        void start_timer(uint64_t) override { timer_armed = true; }
        void stop_timer() override { timer_armed = false; }
        void close() override {
            closed = true;
            timer_armed = false;
            woken = false;
        }
    };
    std::vector<FakeSessionIo*> ios_;
    std::vector<std::pair<std::function<void()>, std::function<void(bool)>>> jobs_;
};

} // namespace test_support
