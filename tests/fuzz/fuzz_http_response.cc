// libFuzzer harness for the origin response parser (shared/http/response_parser.h): arbitrary bytes, split
// into two reads at a point chosen by the input, for a GET or a HEAD, then EOF. The parser must never crash,
// never claim more bytes than it was given, report a body only after a head, and interim (1xx) responses only
// before it.
#include "shared/http/response_parser.h"

#include <cstdint>
#include <cstdlib>

namespace {
struct Sink : shared::ResponseParser::Listener {
    bool head = false;
    size_t body = 0;
    unsigned interims = 0;
    bool on_head(const shared::HttpResponseHead& h) override {
        if (h.status < 200 || h.status > 999) std::abort();
        head = true;
        return true;
    }
    // An interim response: a 1xx other than 101, only before the final head, never more than the parser's bound.
    bool on_interim(const shared::HttpResponseHead& h) override {
        if (head || h.status < 100 || h.status > 199 || h.status == 101) std::abort();
        if (++interims > shared::ResponseParser::kMaxInterimResponses) std::abort();
        return true;
    }
    bool on_body(std::string_view d) override {
        if (!head) std::abort();
        body += d.size();
        return true;
    }
    void on_complete() override {}
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    bool head_request = data[0] & 1;
    size_t split = data[1];
    data += 2;
    size -= 2;
    if (split > size) split = size;
    shared::ResponseParser p(4096);
    Sink sink;
    p.reset(&sink, head_request);
    const char* s = reinterpret_cast<const char*>(data);
    size_t used = 0;
    auto r = p.feed(s, split, &used);
    if (used > split) std::abort();
    if (r == shared::ResponseParser::Result::NeedMore) {
        r = p.feed(s + split, size - split, &used);
        if (used > size - split) std::abort();
    }
    if (r == shared::ResponseParser::Result::NeedMore) p.finish();
    return 0;
}
