#include "edge/origin/bucket_origin.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include "edge/http/byte_range.h"
#include "edge/http/entity_tag.h"
#include "edge/http/http_date.h"
#include "edge/origin/content_type.h"
#include "shared/http/http_tokens.h"
#include "shared/log/log.h"

namespace edge {
namespace {

constexpr std::string_view kAllow = "GET, HEAD";
// A missing folder is logged at most this often (seconds).
constexpr int64_t kMissingWarnEverySeconds = 10;
// Without lease rights: a file whose ctime is this recent (ns) may still be written.
constexpr int64_t kSettleNs = 1000000000LL;

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
    retry_after = o.retry_after;
    st = o.st;
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

// Not ctime: a deploy deleting the file (`rm -rf`, a rename over it) changes its ctime but not a byte of it, and a
// read of the unlinked file is still one whole version. Writes move mtime (and ctime) by the same clock.
bool BucketResponse::same_file() const {
    if (fd < 0) return true;
    struct stat now;
    if (::fstat(fd, &now) != 0) return false;
    return now.st_ino == st.st_ino && now.st_dev == st.st_dev && now.st_size == st.st_size &&
           now.st_mtim.tv_sec == st.st_mtim.tv_sec && now.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
}

BucketOrigin::Release::~Release() {
    if (fd >= 0) close_file(fd);
}

std::unique_ptr<BucketOrigin> BucketOrigin::open(const std::string& root, std::string index_document,
                                                 std::string error_document, std::string* err) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(root, ec);
    if (ec || root.empty()) {
        *err = "cannot open " + root + ": " + (ec ? ec.message() : std::string("empty path"));
        return nullptr;
    }
    std::unique_ptr<BucketOrigin> b(new BucketOrigin());
    // Kept as written (not realpath): a symlink in it is followed anew by every request.
    b->root_ = abs.lexically_normal().string();
    if (b->root_.size() > 1 && b->root_.back() == '/') b->root_.pop_back();
    int dfd = ::open(b->root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        *err = "cannot open " + root + ": " + std::strerror(errno);
        return nullptr;
    }
    b->index_document_ = std::move(index_document);
    b->error_document_ = std::move(error_document);
    // Probe once: seccomp profiles and old kernels answer ENOSYS (or EPERM) for openat2.
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH;
    long fd = ::syscall(SYS_openat2, dfd, ".", &how, sizeof how);
    if (fd >= 0) {
        close_file(static_cast<int>(fd));
    } else {
        b->have_openat2_ = false;
    }
    close_file(dfd);
    // A read lease is broken by a writer's open with SIGIO to the holder, whose default action ends the process. The
    // probe holds its lease for two syscalls only, but a deploy opening the file in that window must not kill the
    // edge: ignore SIGIO unless someone installed a handler (nothing in the edge uses it).
    struct sigaction sa {};
    if (::sigaction(SIGIO, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        ::sigaction(SIGIO, &ign, nullptr);
    }
    return b;
}

BucketOrigin::~BucketOrigin() = default;

bool BucketOrigin::open_release(Release* rel) const {
    rel->fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rel->fd >= 0) {
        if (!have_openat2_) {
            char link[64];
            std::snprintf(link, sizeof link, "/proc/self/fd/%d", rel->fd);
            char real[4096];
            ssize_t n = ::readlink(link, real, sizeof real - 1);
            if (n <= 0) {
                close_file(rel->fd);
                rel->fd = -1;
                return false;
            }
            rel->real.assign(real, static_cast<size_t>(n));
        }
        return true;
    }
    int e = errno;
    // Mid-deploy (`rm -rf` before the copy, a dangling release symlink) or a mistake: say so, but not per request.
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = ts.tv_sec, last = last_missing_warn_s_.load(std::memory_order_relaxed);
    if (now - last >= kMissingWarnEverySeconds &&
        last_missing_warn_s_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        shared::log::warn("edge", "bucket folder cannot be opened; answering 503",
                          {{"path", root_}, {"error", std::strerror(e)}});
    }
    return false;
}

int BucketOrigin::open_beneath(const Release& rel, std::string_view name) const {
    std::string path(name.empty() ? std::string_view(".") : name);
    // O_NONBLOCK: opening a FIFO must not block the thread; regular files ignore it.
    constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (have_openat2_) {
        open_how how{};
        how.flags = kFlags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = ::syscall(SYS_openat2, rel.fd, path.c_str(), &how, sizeof how);
        return fd >= 0 ? static_cast<int>(fd) : -errno;
    }
    int fd = ::openat(rel.fd, path.c_str(), kFlags);
    if (fd < 0) return -errno;
    // Without openat2: ask the kernel where the fd really is and refuse anything outside the release.
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char real[4096];
    ssize_t n = ::readlink(link, real, sizeof real - 1);
    if (n <= 0) {
        close_file(fd);
        return -EXDEV;
    }
    std::string_view r(real, static_cast<size_t>(n));
    const std::string& root = rel.real;
    if (!(r == root ||
          (r.size() > root.size() && r.substr(0, root.size()) == root && (root == "/" || r[root.size()] == '/')))) {
        close_file(fd);
        return -EXDEV;
    }
    return fd;
}

BucketOrigin::Stat BucketOrigin::stat_settled(int fd, struct stat* st) const {
    bool leased = false;
    if (use_lease_) {
        // A read lease is refused (EAGAIN) while any process has the file open for writing. Released at once.
        if (::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
            ::fcntl(fd, F_SETLEASE, F_UNLCK);
            leased = true;
        } else if (errno == EAGAIN) {
            return Stat::busy;
        }
        // EACCES (not our file, no CAP_LEASE), EINVAL (no leases on this filesystem, not a regular file): the
        // ctime rule below.
    }
    // After the probe, not before: a size read while a copy was still writing, then a probe just after it closed,
    // would pass a partial file as quiet. A writer that closed before the probe has written all this fstat sees.
    if (::fstat(fd, st) != 0) return Stat::error;
    if (leased || !S_ISREG(st->st_mode)) return Stat::ok;
    timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ns = (static_cast<int64_t>(now.tv_sec) - st->st_ctim.tv_sec) * 1000000000LL +
                     (static_cast<int64_t>(now.tv_nsec) - st->st_ctim.tv_nsec);
    return age_ns >= -kSettleNs && age_ns < kSettleNs ? Stat::busy : Stat::ok;
}

BucketResponse BucketOrigin::get(const BucketRequest& req) const {
    BucketResponse resp;
    resp.head = req.method == "HEAD";
    auto generated = [&](int status, std::string_view body) {
        resp = BucketResponse();
        resp.head = req.method == "HEAD";
        resp.status = status;
        resp.content_type = "text/plain; charset=utf-8";
        resp.body = std::string(body);
        resp.length = resp.body.size();
    };
    if (req.method != "GET" && req.method != "HEAD") {
        generated(405, "Method Not Allowed\n");
        resp.allow = kAllow;
        return resp;
    }
    std::string_view path = req.path;
    if (path.empty() || path[0] != '/') {
        generated(400, "Bad Request\n");
        return resp;
    }
    Release rel;
    if (!open_release(&rel)) {
        generated(503, "Service Unavailable\n");
        resp.retry_after = 1;
        return resp;
    }
    std::string key(path.substr(1));
    if (key.empty() || key.back() == '/') key += index_document_;

    enum class Open { ok, missing, busy };
    // A file to serve with `status`; missing when it cannot be used (absent, outside the root, special file).
    auto serve_file = [&](const std::string& k, int status) -> Open {
        int fd = open_beneath(rel, k);
        if (fd < 0) return Open::missing;
        struct stat st;
        Stat s = stat_settled(fd, &st);
        if (s != Stat::ok || !S_ISREG(st.st_mode)) {
            close_file(fd);
            return s == Stat::busy ? Open::busy : Open::missing;
        }
        resp.status = status;
        resp.fd = fd;
        resp.st = st;
        resp.total_size = static_cast<uint64_t>(st.st_size);
        resp.offset = 0;
        resp.length = resp.total_size;
        resp.content_type = content_type_for(k);
        resp.etag = make_etag(st);
        resp.last_modified = format_http_date(st.st_mtim.tv_sec);
        return Open::ok;
    };
    auto busy = [&] {
        generated(503, "Service Unavailable: the file is being written\n");
        resp.retry_after = 1;
        return std::move(resp);
    };

    Open o = serve_file(key, 200);
    if (o == Open::busy) return busy();
    if (o == Open::ok) {
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
        int dfd = open_beneath(rel, std::string(path.substr(1)));
        if (dfd >= 0) {
            struct stat st;
            bool is_dir = ::fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode);
            close_file(dfd);
            if (is_dir) {
                std::string idx = std::string(path.substr(1)) + "/" + index_document_;
                int ifd = open_beneath(rel, idx);
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

    if (!error_document_.empty()) {
        resp = BucketResponse();
        resp.head = req.method == "HEAD";
        o = serve_file(error_document_, 404);
        if (o == Open::ok) return resp;
        // The error document being written: a plain 404 now would be stored; wait for it like any file.
        if (o == Open::busy) return busy();
    }
    generated(404, "Not Found\n");
    return resp;
}

bool BucketOrigin::read_precompressed(std::string_view path, std::string_view suffix, std::string_view identity_etag,
                                      uint64_t max_bytes, std::string* out) const {
    out->clear();
    if (path.empty() || path[0] != '/' || identity_etag.empty()) return false;
    Release rel;
    if (!open_release(&rel)) return false;
    std::string key(path.substr(1));
    if (key.empty() || key.back() == '/') key += index_document_;
    auto open_regular = [&](const std::string& k, struct stat* st) -> int {
        int fd = open_beneath(rel, k);
        if (fd < 0) return -1;
        if (stat_settled(fd, st) != Stat::ok || !S_ISREG(st->st_mode)) {
            close_file(fd);
            return -1;
        }
        return fd;
    };
    struct stat ost, sst;
    int ofd = open_regular(key, &ost);
    if (ofd < 0) return false;
    close_file(ofd);
    // The cached identity is this release's file: a variant of another release's file would not match its bytes.
    if (make_etag(ost) != identity_etag) return false;
    int sfd = open_regular(key + std::string(suffix), &sst);
    if (sfd < 0) return false;
    BucketResponse sib; // owns sfd from here
    sib.fd = sfd;
    sib.st = sst;
    bool older = sst.st_mtim.tv_sec < ost.st_mtim.tv_sec ||
                 (sst.st_mtim.tv_sec == ost.st_mtim.tv_sec && sst.st_mtim.tv_nsec < ost.st_mtim.tv_nsec);
    if (older || static_cast<uint64_t>(sst.st_size) > max_bytes) return false;
    sib.length = static_cast<uint64_t>(sst.st_size);
    if (!sib.read_body(out) || !sib.same_file()) {
        out->clear();
        return false;
    }
    return true;
}

} // namespace edge
