#include "edge/origin/bucket_origin.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "edge/http/byte_range.h"
#include "edge/http/entity_tag.h"
#include "edge/http/http_date.h"
#include "edge/origin/content_type.h"
#include "shared/http/http_tokens.h"

namespace edge {
namespace {

constexpr std::string_view kAllow = "GET, HEAD";

#if defined(__SANITIZE_THREAD__)
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

// Closes a file opened beneath the root. ThreadSanitizer does not see openat2/openat, nor libuv's sockets closing
// (libuv closes with a raw syscall): without the annotation it takes this close for a race with the last use of a
// socket another worker once had under the same number. The close still resets TSan's record of the descriptor.
void close_file(int fd) {
#if defined(__SANITIZE_THREAD__)
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
    ::close(fd);
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#else
    ::close(fd);
#endif
}

std::string make_etag(const struct stat& st) {
    char buf[96];
    uint64_t mtime_ns =
        static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + static_cast<uint64_t>(st.st_mtim.tv_nsec);
    int n = std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_ino),
                          static_cast<unsigned long long>(st.st_size), static_cast<unsigned long long>(mtime_ns));
    return std::string(buf, static_cast<size_t>(n));
}

} // namespace

BucketResponse::BucketResponse(BucketResponse&& o) noexcept {
    *this = std::move(o);
}

BucketResponse& BucketResponse::operator=(BucketResponse&& o) noexcept {
    if (this == &o) return *this;
    if (fd >= 0) close_file(fd);
    status = o.status;
    content_type = o.content_type;
    etag = std::move(o.etag);
    last_modified = std::move(o.last_modified);
    location = std::move(o.location);
    content_range = std::move(o.content_range);
    allow = o.allow;
    total_size = o.total_size;
    fd = std::exchange(o.fd, -1);
    offset = o.offset;
    length = o.length;
    body = std::move(o.body);
    head = o.head;
    return *this;
}

BucketResponse::~BucketResponse() {
    if (fd >= 0) close_file(fd);
}

bool BucketResponse::read_body(std::string* out) const {
    out->clear();
    if (fd < 0) {
        *out = body;
        return true;
    }
    out->resize(length);
    uint64_t done = 0;
    while (done < length) {
        ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<uint64_t>(n);
    }
    return true;
}

std::unique_ptr<BucketOrigin> BucketOrigin::open(const std::string& root, std::string index_document,
                                                 std::string error_document, std::string* err) {
    char* real = ::realpath(root.c_str(), nullptr);
    if (!real) {
        *err = "cannot open " + root + ": " + std::strerror(errno);
        return nullptr;
    }
    std::unique_ptr<BucketOrigin> b(new BucketOrigin());
    b->root_ = real;
    std::free(real);
    b->root_fd_ = ::open(b->root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->root_fd_ < 0) {
        *err = "cannot open " + root + ": " + std::strerror(errno);
        return nullptr;
    }
    b->index_document_ = std::move(index_document);
    b->error_document_ = std::move(error_document);
    // Probe once: seccomp profiles and old kernels answer ENOSYS (or EPERM) for openat2.
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH;
    long fd = ::syscall(SYS_openat2, b->root_fd_, ".", &how, sizeof how);
    if (fd >= 0) {
        close_file(static_cast<int>(fd));
    } else {
        b->have_openat2_ = false;
    }
    return b;
}

BucketOrigin::~BucketOrigin() {
    if (root_fd_ >= 0) close_file(root_fd_);
}

int BucketOrigin::open_beneath(std::string_view rel) const {
    std::string path(rel.empty() ? std::string_view(".") : rel);
    // O_NONBLOCK: opening a FIFO must not block the thread; regular files ignore it.
    constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (have_openat2_) {
        open_how how{};
        how.flags = kFlags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = ::syscall(SYS_openat2, root_fd_, path.c_str(), &how, sizeof how);
        return fd >= 0 ? static_cast<int>(fd) : -errno;
    }
    int fd = ::openat(root_fd_, path.c_str(), kFlags);
    if (fd < 0) return -errno;
    // Without openat2: ask the kernel where the fd really is and refuse anything outside the root.
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char real[4096];
    ssize_t n = ::readlink(link, real, sizeof real - 1);
    if (n <= 0) {
        close_file(fd);
        return -EXDEV;
    }
    std::string_view r(real, static_cast<size_t>(n));
    if (!(r == root_ || (r.size() > root_.size() && r.substr(0, root_.size()) == root_ &&
                         (root_ == "/" || r[root_.size()] == '/')))) {
        close_file(fd);
        return -EXDEV;
    }
    return fd;
}

BucketResponse BucketOrigin::get(const BucketRequest& req) const {
    BucketResponse resp;
    resp.head = req.method == "HEAD";
    if (req.method != "GET" && req.method != "HEAD") {
        resp.status = 405;
        resp.allow = kAllow;
        resp.content_type = "text/plain; charset=utf-8";
        resp.body = "Method Not Allowed\n";
        resp.length = resp.body.size();
        return resp;
    }
    std::string_view path = req.path;
    if (path.empty() || path[0] != '/') {
        resp.status = 400;
        resp.content_type = "text/plain; charset=utf-8";
        resp.body = "Bad Request\n";
        resp.length = resp.body.size();
        return resp;
    }
    std::string key(path.substr(1));
    if (key.empty() || key.back() == '/') key += index_document_;

    // A file to serve with `status`, or false when it cannot be used (missing, outside the root, special file).
    auto serve_file = [&](const std::string& k, int status) -> bool {
        int fd = open_beneath(k);
        if (fd < 0) return false;
        struct stat st;
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close_file(fd);
            return false;
        }
        resp.status = status;
        resp.fd = fd;
        resp.total_size = static_cast<uint64_t>(st.st_size);
        resp.offset = 0;
        resp.length = resp.total_size;
        resp.content_type = content_type_for(k);
        resp.etag = make_etag(st);
        resp.last_modified = format_http_date(st.st_mtim.tv_sec);
        return true;
    };

    if (serve_file(key, 200)) {
        // RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since only without it.
        bool not_modified = false;
        if (!req.if_none_match.empty()) {
            not_modified = if_none_match_hits(req.if_none_match, resp.etag);
        } else if (!req.if_modified_since.empty()) {
            if (auto ims = parse_http_date(shared::trim_ows(req.if_modified_since))) {
                if (auto lm = parse_http_date(resp.last_modified)) not_modified = *lm <= *ims;
            }
        }
        if (not_modified) {
            resp.status = 304;
            close_file(resp.fd);
            resp.fd = -1;
            resp.length = 0;
            return resp;
        }
        // If-Range (RFC 9110 §13.1.5): the Range applies only to the representation the client has.
        bool range_applies = !req.range.empty() &&
                             (req.if_range.empty() || if_range_matches(req.if_range, resp.etag, resp.last_modified));
        if (range_applies) {
            ByteRange r;
            switch (evaluate_range(req.range, resp.total_size, &r)) {
            case RangeOutcome::full:
                break;
            case RangeOutcome::partial:
                resp.status = 206;
                resp.offset = r.first;
                resp.length = r.length();
                resp.content_range = "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
                                     std::to_string(resp.total_size);
                break;
            case RangeOutcome::unsatisfiable:
                resp.status = 416;
                resp.content_range = "bytes */" + std::to_string(resp.total_size);
                close_file(resp.fd);
                resp.fd = -1;
                resp.length = 0;
                break;
            }
        }
        return resp;
    }

    // A "folder" asked for without its slash: S3 website endpoints redirect when the folder has an index document.
    if (path.back() != '/') {
        int dfd = open_beneath(std::string(path.substr(1)));
        if (dfd >= 0) {
            struct stat st;
            bool is_dir = ::fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode);
            close_file(dfd);
            if (is_dir) {
                std::string idx = std::string(path.substr(1)) + "/" + index_document_;
                int ifd = open_beneath(idx);
                if (ifd >= 0) {
                    bool reg = ::fstat(ifd, &st) == 0 && S_ISREG(st.st_mode);
                    close_file(ifd);
                    if (reg) {
                        resp.status = 302;
                        resp.location = std::string(path) + "/";
                        if (!req.query.empty()) resp.location += "?" + std::string(req.query);
                        resp.length = 0;
                        return resp;
                    }
                }
            }
        }
    }

    if (!error_document_.empty() && serve_file(error_document_, 404)) return resp;
    resp = BucketResponse();
    resp.head = req.method == "HEAD";
    resp.status = 404;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = "Not Found\n";
    resp.length = resp.body.size();
    return resp;
}

} // namespace edge
