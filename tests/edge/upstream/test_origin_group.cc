#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "edge/upstream/origin_group.h"
#include "edge/upstream/origin_health.h"
#include "edge/upstream/rendezvous_hash.h"

using namespace edge;

namespace {

uint64_t g_now = 1'000'000;
uint64_t clock_ms() {
    return g_now;
}

// One fetch the group started: which origin, and its callbacks to answer with.
struct Attempt {
    const OriginConfig* origin = nullptr;
    OriginRequest req;
    OriginCallbacks cb;
    bool cancelled = false;
};

class FakeClient final : public OriginClient {
  public:
    std::vector<std::shared_ptr<Attempt>> attempts;
    std::unique_ptr<OriginStream> fetch(const OriginConfig& o, OriginRequest req, OriginCallbacks cb) override {
        auto a = std::make_shared<Attempt>();
        a->origin = &o;
        a->req = std::move(req);
        a->cb = std::move(cb);
        attempts.push_back(a);
        return std::make_unique<Stream>(a);
    }

  private:
    struct Stream final : OriginStream {
        std::shared_ptr<Attempt> a;
        explicit Stream(std::shared_ptr<Attempt> x) : a(std::move(x)) {}
        ~Stream() override { a->cancelled = true; }
        void pause() override {}
        void resume() override {}
    };
};

OriginConfig http_origin(const std::string& name, const std::string& addr) {
    OriginConfig o;
    o.name = name;
    o.type = OriginType::http;
    o.address = addr;
    o.health = std::make_shared<OriginHealth>(10'000);
    o.cooldown_ms = 10'000;
    return o;
}

void head(Attempt& a, int status) {
    shared::HttpResponseHead h;
    h.status = status;
    a.cb.on_response_headers(h);
}

// What the proxy heard.
struct Heard {
    int status = 0;
    OriginError error = OriginError::None;
    bool complete = false;
    std::string body;
    std::vector<FailoverEvent> events;
};

struct Group {
    FakeClient client;
    OriginConfig primary = http_origin("primary", "10.0.0.1:80");
    OriginConfig secondary = http_origin("secondary", "10.0.0.2:80");
    BehaviorConfig behavior;
    Heard heard;
    std::unique_ptr<OriginStream> stream;

    void start(bool get = true, bool with_secondary = true) {
        OriginCallbacks cb;
        cb.on_response_headers = [this](const shared::HttpResponseHead& h) { heard.status = h.status; };
        cb.on_body = [this](std::string_view d) {
            heard.body.append(d);
            return true;
        };
        cb.on_complete = [this] { heard.complete = true; };
        cb.on_error = [this](OriginError e) { heard.error = e; };
        OriginGroupOptions opt;
        opt.may_fail_over = get;
        opt.behavior = &behavior;
        opt.clock_ms = &clock_ms;
        opt.on_failover = [this](const FailoverEvent& e) { heard.events.push_back(e); };
        stream = fetch_from_group(
            client, origin_candidates(primary, with_secondary ? &secondary : nullptr, "/k"),
            [](const OriginConfig& o) {
                OriginRequest r;
                r.headers.push_back({"Host", o.address});
                return r;
            },
            std::move(cb), std::move(opt));
    }
    Attempt& last() { return *client.attempts.back(); }
};

} // namespace

TEST_CASE("origin group: each failover status moves a GET to the secondary before the proxy hears it",
          "[edge][failover]") {
    for (int status : {500, 502, 503, 504}) {
        g_now += 100'000;
        Group g;
        g.start();
        REQUIRE(g.client.attempts.size() == 1);
        CHECK(g.last().origin == &g.primary);
        head(g.last(), status);
        INFO(status);
        REQUIRE(g.client.attempts.size() == 2);
        CHECK(g.client.attempts[0]->cancelled);
        CHECK(g.last().origin == &g.secondary);
        CHECK(g.last().req.headers[0].value == "10.0.0.2:80"); // built for the secondary
        CHECK(g.heard.status == 0);                            // nothing reached the proxy
        head(g.last(), 200);
        g.last().cb.on_body("ok");
        g.last().cb.on_complete();
        CHECK(g.heard.status == 200);
        CHECK(g.heard.body == "ok");
        CHECK(g.heard.complete);
        REQUIRE(g.heard.events.size() == 1);
        CHECK(g.heard.events[0].reason == FailoverReason::status);
        CHECK(g.heard.events[0].status == status);
        CHECK(g.heard.events[0].marked_down);
        CHECK(g.heard.events[0].from == &g.primary);
        CHECK(g.heard.events[0].to == &g.secondary);
    }
}

TEST_CASE("origin group: statuses outside the set, and 404/403 unless configured, are the answer", "[edge][failover]") {
    for (int status : {200, 304, 403, 404, 501}) {
        Group g;
        g.start();
        head(g.last(), status);
        INFO(status);
        CHECK(g.client.attempts.size() == 1);
        CHECK(g.heard.status == status);
        CHECK(g.heard.events.empty());
    }
    Group g;
    g.behavior.failover_status = {403, 404};
    g.start();
    head(g.last(), 404);
    CHECK(g.client.attempts.size() == 2);
    head(g.last(), 200);
    CHECK(g.heard.status == 200);
    Group h;
    h.behavior.failover_status = {403, 404};
    h.start();
    head(h.last(), 503); // no longer in the set
    CHECK(h.heard.status == 503);
}

TEST_CASE("origin group: connection errors and timeouts before the head fail over, later ones do not",
          "[edge][failover]") {
    struct Case {
        OriginError e;
        bool fails_over;
        FailoverReason reason;
    };
    for (Case c : {Case{OriginError::Refused, true, FailoverReason::connect},
                   Case{OriginError::Reset, true, FailoverReason::connect},
                   Case{OriginError::ResolveError, true, FailoverReason::connect},
                   Case{OriginError::TlsError, true, FailoverReason::connect},
                   Case{OriginError::BadResponse, true, FailoverReason::connect},
                   Case{OriginError::TimeoutConnect, true, FailoverReason::timeout},
                   Case{OriginError::TimeoutFirstByte, true, FailoverReason::timeout},
                   Case{OriginError::Internal, false, FailoverReason::none}}) {
        g_now += 100'000;
        Group g;
        g.start();
        g.last().cb.on_error(c.e);
        INFO(shared::http_error_name(c.e));
        CHECK(g.client.attempts.size() == (c.fails_over ? 2u : 1u));
        if (c.fails_over) {
            CHECK(g.heard.error == OriginError::None);
            REQUIRE(g.heard.events.size() == 1);
            CHECK(g.heard.events[0].reason == c.reason);
            CHECK(g.heard.events[0].error == c.e);
        } else {
            CHECK(g.heard.error == c.e);
        }
    }
    // After the head, a truncated body is the proxy's problem: bytes may have reached the viewer.
    g_now += 100'000;
    Group g;
    g.start();
    head(g.last(), 200);
    g.last().cb.on_body("par");
    g.last().cb.on_error(OriginError::Truncated);
    CHECK(g.client.attempts.size() == 1);
    CHECK(g.heard.error == OriginError::Truncated);
}

TEST_CASE("origin group: no failover for other methods, after a 1xx, or from the secondary", "[edge][failover]") {
    g_now += 100'000;
    {
        Group g;
        g.start(false);
        head(g.last(), 503);
        CHECK(g.client.attempts.size() == 1);
        CHECK(g.heard.status == 503);
    }
    g_now += 100'000;
    {
        Group g;
        g.start();
        shared::HttpResponseHead early;
        early.status = 103;
        g.last().cb.on_interim(early); // passed on to the viewer: the fetch is committed to this origin
        head(g.last(), 503);
        CHECK(g.client.attempts.size() == 1);
        CHECK(g.heard.status == 503);
    }
    g_now += 100'000;
    {
        Group g;
        g.start();
        head(g.last(), 503);
        head(g.last(), 502); // the secondary fails too: its answer is the answer
        CHECK(g.client.attempts.size() == 2);
        CHECK(g.heard.status == 502);
    }
}

TEST_CASE("origin group: a failed primary is skipped for its cool-down, tried once after it, and comes back",
          "[edge][failover]") {
    g_now += 100'000;
    Group g;
    g.start();
    g.last().cb.on_error(OriginError::Refused);
    head(g.last(), 200);
    REQUIRE(g.client.attempts.size() == 2);

    // Within the cool-down: straight to the secondary, counted as "down".
    g_now += 5'000;
    g.client.attempts.clear();
    g.heard = {};
    g.start();
    REQUIRE(g.client.attempts.size() == 1);
    CHECK(g.last().origin == &g.secondary);
    REQUIRE(g.heard.events.size() == 1);
    CHECK(g.heard.events[0].reason == FailoverReason::down);
    head(g.last(), 200);

    // After it: this request is the trial; the primary answers and is back.
    g_now += 6'000;
    g.client.attempts.clear();
    g.heard = {};
    g.start();
    REQUIRE(g.client.attempts.size() == 1);
    CHECK(g.last().origin == &g.primary);
    head(g.last(), 200);
    REQUIRE(g.heard.events.size() == 1);
    CHECK(g.heard.events[0].came_back);
    CHECK(g.primary.health->state(g_now) == OriginHealth::State::up);
}

TEST_CASE("origin group: a tier tries the key's parents in rendezvous order, skipping a down parent", "[edge][tier]") {
    g_now += 100'000;
    OriginConfig tier = http_origin("tier", "");
    for (const char* a : {"10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"}) {
        OriginConfig p = http_origin(std::string("tier/") + a, a);
        p.parent_hash = stable_hash(a);
        tier.parents.push_back(p);
    }
    auto cands = origin_candidates(tier, nullptr, " example.com/a.js");
    REQUIRE(cands.size() == 3);
    for (auto& c : cands)
        CHECK(c.parent);
    // A refused parent: the next one for this key; marked down, so the next request for the key skips it.
    Group g;
    g.primary = tier;
    FakeClient& client = g.client;
    OriginCallbacks cb;
    int status = 0;
    cb.on_response_headers = [&](const shared::HttpResponseHead& h) { status = h.status; };
    OriginGroupOptions opt;
    opt.clock_ms = &clock_ms;
    opt.behavior = &g.behavior;
    auto build = [](const OriginConfig&) { return OriginRequest{}; };
    auto s = fetch_from_group(client, origin_candidates(g.primary, nullptr, " example.com/a.js"), build, cb, opt);
    const OriginConfig* first = client.attempts.back()->origin;
    CHECK(first->address == cands[0].origin->address);
    client.attempts.back()->cb.on_error(OriginError::Refused);
    CHECK(client.attempts.back()->origin->address == cands[1].origin->address);
    head(*client.attempts.back(), 200);
    CHECK(status == 200);
    auto s2 = fetch_from_group(client, origin_candidates(g.primary, nullptr, " example.com/a.js"), build, cb, opt);
    CHECK(client.attempts.back()->origin->address == cands[1].origin->address);
    // A parent's 503 is its origin's: passed on, the parent stays up (every parent shares that origin).
    head(*client.attempts.back(), 503);
    CHECK(status == 503);
    CHECK(client.attempts.back()->origin->health->state(g_now) == OriginHealth::State::up);
}

TEST_CASE("origin group: with every candidate down the request still goes to the first one", "[edge][failover]") {
    g_now += 100'000;
    Group g;
    g.primary.health->record_failure(g_now);
    g.secondary.health->record_failure(g_now);
    g.start();
    REQUIRE(g.client.attempts.size() == 1);
    CHECK(g.last().origin == &g.primary); // a doubtful answer beats a certain error
    CHECK(g.heard.events.empty());        // not counted as a move
    head(g.last(), 200);
    CHECK(g.heard.status == 200);
    CHECK(g.primary.health->state(g_now) == OriginHealth::State::up);
}

TEST_CASE("origin group: without failover (a POST) the secondary is never asked, even with the primary down",
          "[edge][failover]") {
    g_now += 100'000;
    Group g;
    g.primary.health->record_failure(g_now);
    g.start(false);
    REQUIRE(g.client.attempts.size() == 1);
    CHECK(g.last().origin == &g.primary);
    g.last().cb.on_error(OriginError::Refused);
    CHECK(g.client.attempts.size() == 1);
    CHECK(g.heard.error == OriginError::Refused);
}
