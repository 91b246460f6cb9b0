#include "edge/upstream/origin_group.h"

#include <algorithm>

#include "edge/upstream/origin_health.h"
#include "edge/upstream/rendezvous_hash.h"

namespace edge {

const char* failover_reason_name(FailoverReason r) noexcept {
    switch (r) {
    case FailoverReason::status:
        return "status";
    case FailoverReason::connect:
        return "connect";
    case FailoverReason::timeout:
        return "timeout";
    case FailoverReason::down:
        return "down";
    case FailoverReason::none:
        break;
    }
    return "none";
}

FailoverReason failover_reason_for(OriginError e) noexcept {
    switch (e) {
    case OriginError::Refused:
    case OriginError::Reset:
    case OriginError::ResolveError:
    case OriginError::TlsError:
    case OriginError::BadResponse:
        return FailoverReason::connect;
    case OriginError::TimeoutConnect:
    case OriginError::TimeoutFirstByte:
        return FailoverReason::timeout;
    default:
        // Idle timeouts and truncation come after the head; an internal failure is ours, not the origin's.
        return FailoverReason::none;
    }
}

bool is_failover_status(const BehaviorConfig& b, int status) noexcept {
    return std::find(b.failover_status.begin(), b.failover_status.end(), status) != b.failover_status.end();
}

std::vector<OriginCandidate> origin_candidates(const OriginConfig& primary, const OriginConfig* secondary,
                                               std::string_view cache_key) {
    std::vector<OriginCandidate> out;
    size_t n = primary.parents.size();
    out.reserve(n + 2);
    if (n == 0) {
        out.push_back({&primary, false, false});
    } else {
        std::vector<uint64_t> hashes(n);
        std::vector<size_t> order(n);
        for (size_t i = 0; i < n; ++i)
            hashes[i] = primary.parents[i].parent_hash;
        rendezvous_order(stable_hash(cache_key), hashes.data(), n, order.data());
        for (size_t i : order)
            out.push_back({&primary.parents[i], true, false});
    }
    if (secondary) out.push_back({secondary, false, true});
    return out;
}

namespace {

class GroupFetch final : public OriginStream {
  public:
    GroupFetch(OriginClient& client, std::vector<OriginCandidate> cands, OriginRequestBuilder build, OriginCallbacks cb,
               OriginGroupOptions opt)
        : client_(client), cands_(std::move(cands)), build_(std::move(build)),
          cb_(std::make_shared<OriginCallbacks>(std::move(cb))), opt_(std::move(opt)) {
        // Without failover only the primary side is a choice (a down parent may still be skipped: nothing was sent).
        if (!opt_.may_fail_over) {
            cands_.erase(std::remove_if(cands_.begin(), cands_.end(), [](const auto& c) { return c.secondary; }),
                         cands_.end());
        }
    }

    void start() { attempt(pick(0)); }
    void pause() override {
        paused_ = true;
        if (stream_) stream_->pause();
    }
    void resume() override {
        paused_ = false;
        if (stream_) stream_->resume();
    }

  private:
    uint64_t now() const { return opt_.clock_ms ? opt_.clock_ms() : 0; }
    OriginHealth* health(size_t i) const { return opt_.clock_ms ? cands_[i].origin->health.get() : nullptr; }

    // The first candidate from `from` on that is not down, reporting each one skipped; when all are down, the
    // first of them anyway (an answer from a doubtful origin beats a certain error).
    size_t pick(size_t from) {
        for (size_t i = from; i < cands_.size(); ++i) {
            OriginHealth* h = health(i);
            if (!h || h->should_try(now())) {
                // Only now are the skipped ones moves: with nothing usable, the request stays on the first.
                for (size_t k = from; k < i; ++k)
                    report(k, i, FailoverReason::down, 0, OriginError::None, false);
                return i;
            }
            if (!opt_.may_fail_over && !cands_[i].parent) break;
        }
        return from < cands_.size() ? from : cands_.size() - 1;
    }

    void report(size_t from, size_t to, FailoverReason r, int status, OriginError e, bool marked_down) {
        if (!opt_.on_failover) return;
        FailoverEvent ev;
        ev.from = cands_[from].origin;
        ev.to = to < cands_.size() ? cands_[to].origin : nullptr;
        ev.reason = r;
        ev.status = status;
        ev.error = e;
        ev.marked_down = marked_down;
        opt_.on_failover(ev);
    }

    void attempt(size_t i) {
        cur_ = i;
        OriginCallbacks inner;
        std::shared_ptr<OriginCallbacks> cb = cb_;
        inner.on_response_headers = [this](const shared::HttpResponseHead& h) { on_head(h); };
        inner.on_interim = [this, cb](const shared::HttpResponseHead& h) {
            committed_ = true; // the viewer may have seen it: no other origin may answer now
            if (cb->on_interim) cb->on_interim(h);
        };
        // These run after the head was accepted: straight to the proxy, through the shared callbacks, so the proxy
        // may destroy this fetch (and with it the running closure's owner) inside them.
        inner.on_body = [cb](std::string_view d) { return cb->on_body ? cb->on_body(d) : true; };
        inner.on_complete = [cb]() {
            if (cb->on_complete) cb->on_complete();
        };
        inner.on_error = [this](OriginError e) { on_error(e); };
        stream_ = client_.fetch(*cands_[i].origin, build_(*cands_[i].origin), std::move(inner));
        if (paused_ && stream_) stream_->pause();
    }

    // The next candidate after a failure of the current one, or cands_.size().
    size_t next_after(FailoverReason r) const {
        if (!opt_.may_fail_over || committed_) return cands_.size();
        if (r == FailoverReason::status) {
            if (cands_[cur_].secondary) return cands_.size();
            for (size_t i = cur_ + 1; i < cands_.size(); ++i) {
                if (cands_[i].secondary) return i;
            }
            return cands_.size();
        }
        return cur_ + 1;
    }

    // Moves on from the current candidate (which failed with `r`). False when nothing is left.
    bool fail_over(FailoverReason r, int status, OriginError e) {
        size_t next = next_after(r);
        OriginHealth* h = health(cur_);
        // A parent's status is its origin's, shared by every parent: the parent itself is fine.
        bool blame = h && !(r == FailoverReason::status && cands_[cur_].parent);
        bool went_down = blame && h->record_failure(now());
        if (next >= cands_.size()) {
            if (went_down || r != FailoverReason::none) report(cur_, cands_.size(), r, status, e, went_down);
            return false;
        }
        size_t from = cur_;
        report(from, next, r, status, e, went_down);
        stream_.reset(); // inside its own callback: allowed (origin_stream.h), and nothing of it runs afterwards
        attempt(pick(next));
        return true;
    }

    void on_head(const shared::HttpResponseHead& head) {
        if (opt_.behavior && head.status >= 400 && is_failover_status(*opt_.behavior, head.status) &&
            fail_over(FailoverReason::status, head.status, OriginError::None)) {
            return;
        }
        if (OriginHealth* h = health(cur_); h && !(opt_.behavior && is_failover_status(*opt_.behavior, head.status))) {
            if (h->record_success() && opt_.on_failover) {
                FailoverEvent ev;
                ev.to = cands_[cur_].origin;
                ev.came_back = true;
                opt_.on_failover(ev);
            }
        }
        committed_ = true;
        std::shared_ptr<OriginCallbacks> cb = cb_;
        if (cb->on_response_headers) cb->on_response_headers(head); // may destroy this
    }

    void on_error(OriginError e) {
        if (!committed_) {
            FailoverReason r = failover_reason_for(e);
            if (r != FailoverReason::none && fail_over(r, 0, e)) return;
        }
        std::shared_ptr<OriginCallbacks> cb = cb_;
        if (cb->on_error) cb->on_error(e); // may destroy this
    }

    OriginClient& client_;
    std::vector<OriginCandidate> cands_;
    OriginRequestBuilder build_;
    std::shared_ptr<OriginCallbacks> cb_;
    OriginGroupOptions opt_;
    std::unique_ptr<OriginStream> stream_;
    size_t cur_ = 0;
    bool committed_ = false; // the head (or a 1xx) went to the proxy
    bool paused_ = false;
};

} // namespace

std::unique_ptr<OriginStream> fetch_from_group(OriginClient& client, std::vector<OriginCandidate> candidates,
                                               OriginRequestBuilder build, OriginCallbacks cb, OriginGroupOptions opt) {
    auto f =
        std::make_unique<GroupFetch>(client, std::move(candidates), std::move(build), std::move(cb), std::move(opt));
    f->start();
    return f;
}

} // namespace edge
