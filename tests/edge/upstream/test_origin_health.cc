#include <catch2/catch.hpp>

#include "edge/upstream/origin_health.h"

using namespace edge;
using State = OriginHealth::State;

TEST_CASE("origin health: up until a failure, skipped for the cool-down, one trial, then back", "[edge][failover]") {
    OriginHealth h(10'000);
    uint64_t t = 1'000'000;
    CHECK(h.state(t) == State::up);
    CHECK(h.should_try(t));
    CHECK(h.should_try(t)); // up: every request
    CHECK_FALSE(h.record_success());

    CHECK(h.record_failure(t)); // up -> down
    CHECK(h.state(t) == State::down);
    CHECK_FALSE(h.should_try(t + 1));
    CHECK_FALSE(h.should_try(t + 9'990));

    // The cool-down is over: exactly one request is the trial, the others keep skipping.
    CHECK(h.should_try(t + 10'010));
    CHECK(h.state(t + 10'010) == State::trial);
    CHECK_FALSE(h.should_try(t + 10'011));
    CHECK_FALSE(h.should_try(t + 15'000));

    SECTION("the trial succeeds: up again") {
        CHECK(h.record_success()); // down -> up (logged)
        CHECK(h.state(t + 15'000) == State::up);
        CHECK(h.should_try(t + 15'000));
        CHECK(h.should_try(t + 15'000));
    }
    SECTION("the trial fails: a new cool-down from then") {
        CHECK_FALSE(h.record_failure(t + 12'000)); // already down: not a new "marked down"
        CHECK(h.state(t + 12'000) == State::down);
        CHECK_FALSE(h.should_try(t + 21'000));
        CHECK(h.should_try(t + 22'010));
    }
    SECTION("the trial never reports (its request was cancelled): another one after a further cool-down") {
        CHECK_FALSE(h.should_try(t + 20'000));
        CHECK(h.should_try(t + 20'020));
        CHECK_FALSE(h.should_try(t + 20'021));
    }
}

TEST_CASE("origin health: a failure while up at time 0 still counts as down", "[edge][failover]") {
    OriginHealth h(0);
    CHECK(h.record_failure(0));
    CHECK(h.state(0) != State::up);
    CHECK(h.should_try(10)); // zero cool-down: the next request is the trial
    CHECK(h.record_success());
}
