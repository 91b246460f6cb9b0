#include <catch2/catch.hpp>

#include <vector>

#include "shared/http/admin_limits.h"

using shared::AdminConnClock;
using shared::AdminConnPhase;
using shared::AdminLimits;

TEST_CASE("admin deadlines count from the start of the phase, each phase with its own timeout", "[shared][http]") {
    AdminLimits l;
    l.request_timeout_ms = 10000;
    l.idle_timeout_ms = 30000;
    l.send_timeout_ms = 5000;
    CHECK(AdminConnClock{AdminConnPhase::request, 1000}.deadline_ms(l) == 11000);
    CHECK(AdminConnClock{AdminConnPhase::idle, 1000}.deadline_ms(l) == 31000);
    CHECK(AdminConnClock{AdminConnPhase::sending, 1000}.deadline_ms(l) == 6000);
}

TEST_CASE("a full admin listener evicts the longest-idle keep-alive connection first", "[shared][http]") {
    AdminLimits l;
    std::vector<AdminConnClock> c{{AdminConnPhase::request, 100},
                                  {AdminConnPhase::idle, 500},
                                  {AdminConnPhase::sending, 50},
                                  {AdminConnPhase::idle, 300},
                                  {AdminConnPhase::idle, 900}};
    CHECK(shared::pick_admin_eviction(c, l) == 3);
}

TEST_CASE("without idle connections the admin listener evicts the one whose deadline comes first", "[shared][http]") {
    AdminLimits l;
    l.request_timeout_ms = 10000;
    l.send_timeout_ms = 2000;
    // Dribblers that started at 100, 200, 300 and a response queued at 7000 (deadline 9000 < 10100).
    std::vector<AdminConnClock> c{{AdminConnPhase::request, 300},
                                  {AdminConnPhase::request, 100},
                                  {AdminConnPhase::sending, 7000},
                                  {AdminConnPhase::request, 200}};
    CHECK(shared::pick_admin_eviction(c, l) == 2);
    c[2].since_ms = 9000; // now its deadline (11000) is later than the oldest dribbler's (10100)
    CHECK(shared::pick_admin_eviction(c, l) == 1);
    std::vector<AdminConnClock> one{{AdminConnPhase::sending, 0}};
    CHECK(shared::pick_admin_eviction(one, l) == 0);
}
