#include "edge/cache/body_file.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace edge {

namespace {

uint64_t initial_budget() noexcept {
    uint64_t files = 0;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        files = rl.rlim_cur / 2;
    else
        files = uint64_t{1} << 20;
    uint64_t maps = 65530; // the kernel's default when /proc is not readable
    if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
        unsigned long long v = 0;
        if (std::fscanf(f, "%llu", &v) == 1) maps = v;
        std::fclose(f);
    }
    return files < maps / 2 ? files : maps / 2;
}

std::atomic<uint64_t>& budget_ref() noexcept {
    static std::atomic<uint64_t> b{initial_budget()};
    return b;
}

std::atomic<uint64_t> g_open{0};

// memfd_create + ftruncate(file_len) + mmap(map_len), counted against the budget; false with nothing open.
bool open_mapped(uint64_t file_len, uint64_t map_len, BodyFile* out) noexcept {
    uint64_t n = g_open.fetch_add(1, std::memory_order_relaxed);
    if (n >= budget_ref().load(std::memory_order_relaxed)) {
        g_open.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    int fd = memfd_create("meridian-body", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(file_len)) == 0) {
        void* m = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            *out = BodyFile{fd, static_cast<char*>(m), map_len};
            return true;
        }
    }
    if (fd >= 0) ::close(fd);
    g_open.fetch_sub(1, std::memory_order_relaxed);
    return false;
}

uint64_t page_round(uint64_t len) noexcept {
    uint64_t page = BodyFiles::page_size();
    return (len + page - 1) & ~(page - 1);
}

} // namespace

bool BodyFiles::open(uint64_t len, BodyFile* out) noexcept {
    if (len < kMinBody) return false;
    uint64_t map_len = page_round(len);
    return open_mapped(map_len, map_len, out);
}

bool BodyFiles::open_growing(uint64_t max_len, BodyFile* out) noexcept {
    uint64_t page = page_size();
    if (max_len < page) return false;
    return open_mapped(page, page_round(max_len), out);
}

void BodyFiles::shrink(BodyFile* f, uint64_t len) noexcept {
    uint64_t keep = page_round(len);
    if (keep == 0 || keep >= f->map_len) return;
    if (munmap(f->map + keep, f->map_len - keep) == 0) f->map_len = static_cast<size_t>(keep);
}

uint64_t BodyFiles::page_size() noexcept {
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    return page;
}

void BodyFiles::close(const BodyFile& f) noexcept {
    if (f.fd < 0) return;
    munmap(f.map, f.map_len);
    ::close(f.fd);
    g_open.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t BodyFiles::open_count() noexcept {
    return g_open.load(std::memory_order_relaxed);
}

uint64_t BodyFiles::set_budget(uint64_t files) noexcept {
    return budget_ref().exchange(files);
}

} // namespace edge
