// The bucket origin: a local folder served with Amazon S3 static-website semantics.
//
//   object key = normalized path without its leading '/';
//   "/" and "folder/" → the index document inside that folder;
//   "folder" (no slash) that is a directory with an index document → 302 to "folder/" (as S3 website endpoints do);
//   missing key → the error document with status 404 (plain 404 when there is none or it is missing);
//   Content-Type by extension; strong ETag from inode, size and mtime; Last-Modified from mtime;
//   If-None-Match / If-Modified-Since → 304; a single "bytes=" Range → 206 (416 when unsatisfiable);
//   GET and HEAD only (others: 405 with Allow: GET, HEAD).
// Deploys (why the folder is resolved per request): `path` is kept as configured (made absolute, symlinks NOT
// resolved) and every get() opens it anew with O_DIRECTORY, once, then does every lookup of that request (the file,
// the index document, the folder-redirect probe, the error document) relative to that one descriptor. So:
//   - an atomic release switch (`ln -sfn releases/v3 current.tmp && mv -T current.tmp current`, or renaming a folder
//     over another) is seen by the next miss or revalidation, with no signal;
//   - a folder deleted and copied again (`rm -rf site && cp -r dist site`) is found again at once;
//   - one request sees one release: a swap during a request cannot pair v2's index with v3's error document, because
//     the directory descriptor pins the release it resolved (a deleted directory stays readable through it).
// Re-opening only when a change is noticed (inotify, or a stat of the path per request) would cost the same stat
// and still leave a window where the old descriptor serves a deleted tree; the per-request open costs one
// open+close of a cached dentry on a miss (a few microseconds), and cache hits never get here. A missing folder
// (mid `rm -rf`, a dangling symlink) answers 503 for every key, never cached, with a warning naming the folder at
// most every few seconds: a key is not known to be missing when the whole bucket is, and 503 lets the edge serve
// its stale copy (serve_stale_on_error) instead of storing a 404 for a page that exists in both releases.
//
// Torn files (a request while a deploy writes the file in place or copies it): a file another process still has
// open for writing is answered 503 with Retry-After (uncached; the stale copy when there is one), found with a read
// lease probe (fcntl F_SETLEASE F_RDLCK fails with EAGAIN while any writer holds the file; the lease is released at
// once). Where the lease cannot be taken (the edge does not own the file and lacks CAP_LEASE, or the filesystem has
// no leases), a file changed within the last second (ctime) is treated the same way. After reading a body to store
// it, the reader compares a second fstat (inode, size, mtime in ns) with the one taken here
// (BucketResponse::same_file) and stores nothing if the file changed. Residual risk, documented: without lease
// rights, a writer that pauses more than a second mid-file and then stays still during our read. Releases switched
// atomically (the recommended deploy) never expose a partly written file.
//
// Confinement: files are opened relative to the release's directory fd with openat2(RESOLVE_BENEATH) — relative
// symlinks that stay inside the root work; anything resolving outside it (symlink, "..") and absolute symlinks (even
// to inside the root) are a 404. Where openat2 is unavailable (old kernel, seccomp), the opened fd's /proc/self/fd
// path is checked against the release directory's own /proc/self/fd path instead. Special files (FIFOs, devices) are
// 404 too.
//
// get() is synchronous and does blocking filesystem calls (open, fstat): call it from the libuv threadpool
// (uv_queue_work) or accept a short block on local disks. A BucketOrigin is immutable after open() (but for the
// warning's rate limit, an atomic); any thread may call get() concurrently.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace edge {

// Conditional and range request headers ("" = absent).
struct BucketRequest {
    std::string_view method = "GET";
    std::string_view path;  // normalized (normalize_request_path), starts with '/'
    std::string_view query; // kept on the folder redirect's Location
    std::string_view if_none_match;
    std::string_view if_modified_since;
    std::string_view range;
    std::string_view if_range;
};

// What to send. Move-only: owns `fd`.
struct BucketResponse {
    int status = 500;
    std::string_view content_type; // static; "" when there is no body
    std::string etag;              // quoted strong ETag, "" when none
    std::string last_modified;     // IMF-fixdate, "" when none
    std::string location;          // 302 target
    std::string content_range;     // 206: "bytes a-b/size", 416: "bytes */size"
    std::string_view allow;        // 405: "GET, HEAD"
    uint64_t total_size = 0;       // full size of the file (the representation)
    // Body: either bytes from the open file (fd >= 0; [offset, offset+length)) or `body` (generated pages).
    int fd = -1;
    uint64_t offset = 0;
    uint64_t length = 0; // Content-Length to send (also for HEAD, which sends no body)
    std::string body;
    bool head = false;        // HEAD: headers only
    uint32_t retry_after = 0; // 503 (the folder is missing, the file is being written): seconds
    struct stat st {};        // fstat of the file served (st_ino 0 when no file)

    // The file behind `fd` is still the one this response describes (same inode, size, mtime in ns): true for
    // generated bodies. Call after reading the body to know it was not written meanwhile.
    bool same_file() const;

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
    // Checks that `root` is a directory and remembers it (absolute, symlinks kept: see the file comment). On failure
    // returns nullptr and sets *err ("cannot open <root>: <strerror>").
    static std::unique_ptr<BucketOrigin> open(const std::string& root, std::string index_document,
                                              std::string error_document, std::string* err);
    ~BucketOrigin();
    BucketOrigin(const BucketOrigin&) = delete;
    BucketOrigin& operator=(const BucketOrigin&) = delete;

    BucketResponse get(const BucketRequest& req) const;

    // The pre-compressed sibling of the file `path` resolves to (`suffix` ".br" or ".gz"), read whole into *out, when
    // the file resolves in the current release to the representation whose strong ETag is `identity_etag` (the
    // cached identity object), and the sibling beside it is a regular file no older than it (mtime: a sibling left
    // from an older deploy is ignored), not being written, of at most max_bytes, that did not change while read.
    bool read_precompressed(std::string_view path, std::string_view suffix, std::string_view identity_etag,
                            uint64_t max_bytes, std::string* out) const;

    const std::string& root() const { return root_; }
    // Whether confinement uses openat2 (false: the /proc/self/fd check).
    bool uses_openat2() const { return have_openat2_; }
    // Tests: exercise the /proc/self/fd fallback on kernels that have openat2.
    void disable_openat2_for_testing() { have_openat2_ = false; }
    // Tests: behave as when the lease cannot be taken (the ctime rule).
    void disable_lease_for_testing() { use_lease_ = false; }

  private:
    // The release one request sees: the configured folder opened once (see the file comment).
    struct Release {
        int fd = -1;
        std::string real; // its path, for the /proc/self/fd confinement check (fallback only)
        Release() = default;
        Release(const Release&) = delete;
        Release& operator=(const Release&) = delete;
        ~Release();
    };
    BucketOrigin() = default;
    bool open_release(Release* rel) const;                             // false: missing (warned, rate-limited)
    int open_beneath(const Release& rel, std::string_view name) const; // fd or -errno
    // fstat of a file no other process is writing. busy: one has it open for writing (or, without lease rights, it
    // changed within the last second).
    enum class Stat { ok, busy, error };
    Stat stat_settled(int fd, struct stat* st) const;
    std::string root_;
    std::string index_document_;
    std::string error_document_;
    bool have_openat2_ = true;
    bool use_lease_ = true;
    mutable std::atomic<int64_t> last_missing_warn_s_{-1000000}; // CLOCK_MONOTONIC seconds
};

} // namespace edge
