// EagerReadBudget: a listener's reads at the accept are bounded per loop turn, and the budget is renewed by the end
// of the turn that used it, not by the clock (turns within one millisecond each get their own; a long turn is one).
#include <catch2/catch.hpp>

#include <time.h>
#include <uv.h>

#include "shared/net/deferred_accept.h"

namespace {

unsigned take_all(shared::EagerReadBudget& b, unsigned tries) {
    unsigned n = 0;
    for (unsigned i = 0; i < tries; i++)
        n += b.take() ? 1 : 0;
    return n;
}

void sleep_ms(long ms) {
    timespec ts{0, ms * 1'000'000};
    nanosleep(&ts, nullptr);
}

// What keeps a server's loop turning (its listener); the budget itself keeps no loop alive.
struct Busy {
    uv_idle_t idle{};
    explicit Busy(uv_loop_t* loop) {
        uv_idle_init(loop, &idle);
        uv_idle_start(&idle, [](uv_idle_t*) {});
    }
    void close() { uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr); }
};

void close_loop(uv_loop_t* loop, shared::EagerReadBudget& b) {
    b.close(nullptr, nullptr);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(loop) == 0);
}

} // namespace

TEST_CASE("eager read budget: bounded within a turn, renewed by every turn however fast", "[shared][net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Busy busy(&loop);
    shared::EagerReadBudget b(3);
    b.init(&loop);
    CHECK(take_all(b, 10) == 3);
    // Ten turns back to back: most share uv_now's millisecond, and each has its own budget all the same.
    for (int turn = 0; turn < 10; turn++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        CHECK(take_all(b, 10) == 3);
    }
    busy.close();
    close_loop(&loop, b);
}

TEST_CASE("eager read budget: a long turn is one turn", "[shared][net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct Turn {
        shared::EagerReadBudget budget{4};
        unsigned before = 0, after = 0;
    } t;
    t.budget.init(&loop);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &t;
    // Inside one callback (as libuv's accept loop calls the connection callback again and again): the clock moves
    // on, the budget does not come back.
    uv_timer_start(
        &timer,
        [](uv_timer_t* h) {
            auto* t = static_cast<Turn*>(h->data);
            t->before = take_all(t->budget, 3);
            sleep_ms(3);
            uv_update_time(h->loop);
            t->after = take_all(t->budget, 10);
        },
        0, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(t.before == 3);
    CHECK(t.after == 1);
    CHECK(take_all(t.budget, 10) == 4); // that turn ended (its check phase ran after the callback)
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    close_loop(&loop, t.budget);
}

TEST_CASE("eager read budget: keeps no loop alive; close calls back with the owner", "[shared][net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    shared::EagerReadBudget b(2);
    b.init(&loop);
    CHECK(b.initialized());
    CHECK(uv_loop_alive(&loop) == 0);
    CHECK(b.take());
    CHECK(uv_loop_alive(&loop) == 0); // taking keeps no loop alive either
    Busy busy(&loop);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(take_all(b, 5) == 2);
    busy.close();

    int owner = 0;
    b.close(&owner, [](uv_handle_t* h) { ++*static_cast<int*>(h->data); });
    b.close(&owner, [](uv_handle_t* h) { ++*static_cast<int*>(h->data); }); // a second close is a no-op
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(owner == 1);
    CHECK(uv_loop_close(&loop) == 0);

    shared::EagerReadBudget never;
    never.close(&owner, nullptr); // never initialized: nothing to close
    CHECK_FALSE(never.initialized());
}
