// libFuzzer harness for the viewer request parser (edge/http/request_parser.h): arbitrary bytes fed in pieces whose
// sizes come from the input, with pipelining (next() after each request). The parser must never crash, never
// consume more than it was given, answer errors only with the statuses it documents, and keep every view inside
// its own storage.
#include "edge/http/request_parser.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    size_t piece = (data[0] % 64) + 1;
    ++data;
    --size;
    edge::RequestLimits lim;
    lim.max_uri_bytes = 256;
    lim.max_header_bytes = 1024;
    lim.max_headers = 16;
    lim.max_body_bytes = 512;
    edge::RequestParser p(lim);
    const char* s = reinterpret_cast<const char*>(data);
    size_t off = 0;
    int requests = 0;
    while (off < size && requests < 64) {
        size_t n = size - off < piece ? size - off : piece;
        auto r = p.feed(s + off, n);
        if (r.consumed > n) std::abort();
        off += r.consumed;
        if (r.status == edge::RequestParser::Status::error) {
            int st = p.error_status();
            if (st != 400 && st != 413 && st != 414 && st != 431 && st != 501) std::abort();
            break;
        }
        if (r.status == edge::RequestParser::Status::complete) {
            const auto& q = p.request();
            if (q.target.size() > lim.max_uri_bytes || q.body.size() > lim.max_body_bytes) std::abort();
            if (q.path.empty() || (q.path[0] != '/' && q.path != "*")) std::abort();
            for (const auto& h : q.headers) {
                if (h.name.empty()) std::abort();
            }
            ++requests;
            p.next();
        } else if (r.consumed == 0) {
            break;
        }
    }
    return 0;
}
