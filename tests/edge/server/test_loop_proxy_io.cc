#include <catch2/catch.hpp>

#include <uv.h>

#include <atomic>
#include <thread>

#include "edge/server/loop_proxy_io.h"

using namespace edge;

namespace {

// Counts loop iterations with a prepare handle (it runs once per turn, just before the poll).
struct Turns {
    uv_prepare_t prepare{};
    int n = 0;
};

struct Events final : SessionIoEvents {
    Turns* turns;
    int wakeups = 0;
    int woken_at_turn = -1;
    bool closed = false;
    explicit Events(Turns* t) : turns(t) {}
    void on_wakeup() override {
        ++wakeups;
        woken_at_turn = turns->n;
    }
    void on_timer() override {}
    void on_io_closed() override { closed = true; }
};

struct Fixture {
    uv_loop_t loop{};
    Turns turns;
    uv_async_t trigger{}; // its callback runs among the turn's I/O callbacks, as an origin read does
    LoopProxyIo* io = nullptr;
    SessionIo* sio = nullptr;
    int trigger_turn = -1;
    bool shut = false;

    Fixture() {
        uv_loop_init(&loop);
        uv_prepare_init(&loop, &turns.prepare);
        turns.prepare.data = &turns;
        uv_prepare_start(&turns.prepare, [](uv_prepare_t* p) noexcept { ++static_cast<Turns*>(p->data)->n; });
        uv_unref(reinterpret_cast<uv_handle_t*>(&turns.prepare));
        io = new LoopProxyIo(&loop, nullptr);
    }
    ~Fixture() {
        if (!shut) io->shutdown();
        uv_close(reinterpret_cast<uv_handle_t*>(&turns.prepare), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
        delete io;
        uv_loop_close(&loop);
    }
};

} // namespace

TEST_CASE("loop proxy io: a wake from the loop's own I/O callback runs in the same turn", "[edge][server][wake]") {
    Fixture fx;
    Events ev(&fx.turns);
    fx.sio = fx.io->open_session_io(&ev);
    fx.trigger.data = &fx;
    uv_async_init(&fx.loop, &fx.trigger, [](uv_async_t* a) noexcept {
        auto* f = static_cast<Fixture*>(a->data);
        f->trigger_turn = f->turns.n;
        f->sio->wake();
        f->sio->wake(); // coalesces with the first
        uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    });
    uv_async_send(&fx.trigger);
    while (ev.wakeups == 0 && fx.turns.n < 10)
        uv_run(&fx.loop, UV_RUN_ONCE);
    CHECK(ev.wakeups == 1);
    // Through the eventfd it ran one turn later, after the next round of I/O callbacks.
    CHECK(ev.woken_at_turn == fx.trigger_turn);
    fx.sio->close();
    while (!ev.closed)
        uv_run(&fx.loop, UV_RUN_ONCE);
}

TEST_CASE("loop proxy io: wakes from other threads and from timers still arrive", "[edge][server][wake]") {
    Fixture fx;
    Events ev(&fx.turns);
    fx.sio = fx.io->open_session_io(&ev);
    std::thread t([&] { fx.sio->wake(); });
    t.join();
    while (ev.wakeups == 0 && fx.turns.n < 100)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    CHECK(ev.wakeups == 1);

    // From a timer callback: the idle handle keeps the poll from blocking until some unrelated event.
    struct TimerCtx {
        Fixture* fx;
        bool fired = false;
    } tc{&fx};
    uv_timer_t timer{};
    uv_timer_init(&fx.loop, &timer);
    timer.data = &tc;
    uv_timer_start(
        &timer,
        [](uv_timer_t* tm) noexcept {
            auto* c = static_cast<TimerCtx*>(tm->data);
            c->fired = true;
            c->fx->sio->wake();
        },
        1, 0);
    // Bounds the poll below, so a wake that waits for an unrelated event fails the check instead of hanging.
    uv_timer_t guard{};
    uv_timer_init(&fx.loop, &guard);
    uv_timer_start(
        &guard, [](uv_timer_t*) noexcept {}, 2000, 0);
    // The timer. On a busy machine it is due when the turn starts, and its wake runs in the same turn: a second
    // blocking turn would then wait for the guard.
    while (!tc.fired)
        uv_run(&fx.loop, UV_RUN_ONCE);
    if (ev.wakeups < 2) uv_run(&fx.loop, UV_RUN_ONCE); // the wake, without waiting
    CHECK(ev.wakeups == 2);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);

    // A wake still queued at shutdown goes through the session's own async handle.
    fx.sio->close();
    while (!ev.closed)
        uv_run(&fx.loop, UV_RUN_ONCE);
    Events ev2(&fx.turns);
    SessionIo* s2 = fx.io->open_session_io(&ev2);
    s2->wake();
    fx.io->shutdown();
    fx.shut = true;
    for (int i = 0; i < 10 && ev2.wakeups == 0; ++i)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    CHECK(ev2.wakeups == 1);
    s2->close();
    while (!ev2.closed)
        uv_run(&fx.loop, UV_RUN_ONCE);
}
