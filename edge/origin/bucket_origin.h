// The bucket origin: a local folder served with Amazon S3 static-website semantics.
//
//   object key = normalized path without its leading '/';
//   "/" and "folder/" → the index document inside that folder;
//   "folder" (no slash) that is a directory with an index document → 302 to "folder/" (as S3 website endpoints do);
//   missing key → the error document with status 404 (plain 404 when there is none or it is missing);
//   Content-Type by extension; strong ETag from inode, size and mtime; Last-Modified from mtime;
//   If-None-Match / If-Modified-Since → 304; a single "bytes=" Range → 206 (416 when unsatisfiable);
//   GET and HEAD only (others: 405 with Allow: GET, HEAD).
// Confinement: files are opened relative to the root's directory fd with openat2(RESOLVE_BENEATH) — relative
// symlinks that stay inside the root work; anything resolving outside it (symlink, "..") and absolute symlinks (even
// to inside the root) are a 404. Where openat2 is unavailable (old kernel, seccomp), the opened fd's /proc/self/fd
// path is checked against the root instead. Special files (FIFOs, devices) are 404 too.
//
// get() is synchronous and does blocking filesystem calls (open, fstat): call it from the libuv threadpool
// (uv_queue_work) or accept a short block on local disks. A BucketOrigin is immutable after open(); any thread may call
// get() concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace edge {

// Conditional and range request headers ("" = absent).
struct BucketRequest {
    std::string_view method = "GET";
    std::string_view path;              // normalized (normalize_request_path), starts with '/'
    std::string_view query;             // kept on the folder redirect's Location
    std::string_view if_none_match;
    std::string_view if_modified_since;
    std::string_view range;
    std::string_view if_range;
};

// What to send. Move-only: owns `fd`.
struct BucketResponse {
    int status = 500;
    std::string_view content_type;      // static; "" when there is no body
    std::string etag;                   // quoted strong ETag, "" when none
    std::string last_modified;          // IMF-fixdate, "" when none
    std::string location;               // 302 target
    std::string content_range;          // 206: "bytes a-b/size", 416: "bytes */size"
    std::string_view allow;             // 405: "GET, HEAD"
    uint64_t total_size = 0;            // full size of the file (the representation)
    // Body: either bytes from the open file (fd >= 0; [offset, offset+length)) or `body` (generated pages).
    int fd = -1;
    uint64_t offset = 0;
    uint64_t length = 0;                // Content-Length to send (also for HEAD, which sends no body)
    std::string body;
    bool head = false;                  // HEAD: headers only

    BucketResponse() = default;
    BucketResponse(BucketResponse&& o) noexcept;
    BucketResponse& operator=(BucketResponse&& o) noexcept;
    BucketResponse(const BucketResponse&) = delete;
    BucketResponse& operator=(const BucketResponse&) = delete;
    ~BucketResponse();
    // Reads the body into a string (tests, small files); returns false on a read error.
    bool read_body(std::string* out) const;
};

class BucketOrigin {
public:
    // Opens the root directory. On failure returns nullptr and sets *err ("cannot open <root>: <strerror>").
    static std::unique_ptr<BucketOrigin> open(const std::string& root, std::string index_document,
                                              std::string error_document, std::string* err);
    ~BucketOrigin();
    BucketOrigin(const BucketOrigin&) = delete;
    BucketOrigin& operator=(const BucketOrigin&) = delete;

    BucketResponse get(const BucketRequest& req) const;

    const std::string& root() const { return root_; }
    // Whether confinement uses openat2 (false: the /proc/self/fd check).
    bool uses_openat2() const { return have_openat2_; }
    // Tests: exercise the /proc/self/fd fallback on kernels that have openat2.
    void disable_openat2_for_testing() { have_openat2_ = false; }

private:
    BucketOrigin() = default;
    int open_beneath(std::string_view rel) const; // fd or -errno
    std::string root_;
    int root_fd_ = -1;
    std::string index_document_;
    std::string error_document_;
    bool have_openat2_ = true;
};

} // namespace edge
