// Turns an origin response's header list into the header block a cached object replays on every hit.
//
// The block is "HTTP/1.1 <status> <reason>\r\n" followed by the end-to-end header lines, without the final empty
// line and without the fields the edge writes per response: Date (kept as the object's Freshness::date_s), Age,
// X-Cache, Connection, Keep-Alive, Content-Length, Transfer-Encoding (and other hop-by-hop fields, RFC 9110 §7.6.1,
// incl. those named in Connection).
// A hit is then one gather write: block + "Date/Age/X-Cache/Via/Content-Length/Connection" lines + "\r\n" + body.
// Pure, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge {

struct HeaderField {
    std::string_view name;
    std::string_view value;
};

// Where the validators sit inside a header block (offset/length of the field value; len 0 = absent), and where the
// edge-only fields start: those the edge reads but never sends to viewers (is_edge_only_header), kept after the
// viewer's part so that a hit still sends the block's first edge_fields_off bytes in one buffer. 0 = none.
// 16 bytes: every cached object carries one. A validator longer than 65,535 bytes is not kept (the object is then
// stored as one without that validator).
struct ValidatorSpans {
    uint32_t etag_off = 0;
    uint16_t etag_len = 0;
    uint16_t last_modified_len = 0;
    uint32_t last_modified_off = 0;
    uint32_t edge_fields_off = 0;
};

// Builds the block. `reason` "" picks the standard reason phrase. Set-Cookie lines are dropped unless
// keep_set_cookie, and so are the fields named in `omit` (case-insensitive: those a qualified no-cache or private
// keeps out of a shared cache, RFC 9111 §5.2.2.4, §5.2.2.7); edge-only fields go last. Returns the spans of ETag /
// Last-Modified and where the edge-only fields start in *validators (may be null).
std::string build_stored_header_block(int status, std::string_view reason, const HeaderField* headers, size_t count,
                                      bool keep_set_cookie, ValidatorSpans* validators,
                                      const std::vector<std::string_view>& omit = {});

// RFC 9111 §3.2 / §4.3.4: the stored block of `stored` updated with the fields of a 304 for it — each field the 304
// carries replaces the stored field of that name where it stood, new names are appended — except fields the edge
// manages, Content-Encoding and Vary (the stored body and its variants depend on them) and, unless
// keep_set_cookie, Set-Cookie; fields named in `omit` are left out of the result. Sets *out (and *validators) and
// returns true when the result differs from `stored`.
bool merge_stored_header_block(std::string_view stored, const HeaderField* update, size_t count, bool keep_set_cookie,
                               std::string* out, ValidatorSpans* validators,
                               const std::vector<std::string_view>& omit = {});

// RFC 9110 §15.4.5: appends to `out` the lines of `block` (a header_block(), so never an edge-only field) that a 304
// answered from the cache carries because a 200 to the same request would: Cache-Control, Content-Location, ETag,
// Expires and Vary (Date and Age are the edge's own), and Last-Modified (the validator of viewers that revalidate
// with If-Modified-Since). Each line byte for byte as the 200 sends it, in stored order, duplicates included; no
// other representation metadata (Content-Type, Content-Encoding...). Allocates only if `out` must grow.
void append_not_modified_fields(std::string_view block, std::string& out);

// True for fields a proxy never forwards (hop-by-hop, RFC 9110 §7.6.1) or that the edge writes itself (see above).
bool is_edge_managed_header(std::string_view name);

// True for the fields addressed to the edge alone: the cache controls targeted at it (CDN-Cache-Control, RFC 9213;
// Surrogate-Control, the Edge Architecture spec) and the purge tags (Surrogate-Key, Cache-Tag). Stored for the edge's
// own decisions, never sent to viewers.
bool is_edge_only_header(std::string_view name);

// The standard reason phrase ("OK", "Not Found"...), "Unknown" for others.
std::string_view reason_phrase(int status);

// Calls f(name, value) for each header line of a stored header block (see stored_headers.h), skipping the status line.
template <typename F> void for_each_stored_header(std::string_view block, F&& f) {
    size_t eol = block.find("\r\n");
    size_t pos = eol == std::string_view::npos ? block.size() : eol + 2;
    while (pos < block.size()) {
        size_t end = block.find("\r\n", pos);
        if (end == std::string_view::npos) end = block.size();
        std::string_view line = block.substr(pos, end - pos);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            f(line.substr(0, colon), value);
        }
        pos = end + 2;
    }
}

} // namespace edge
