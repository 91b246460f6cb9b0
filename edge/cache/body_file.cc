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
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) files = rl.rlim_cur / 2;
    else files = uint64_t{1} << 20;
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

} // namespace

bool BodyFiles::open(uint64_t len, BodyFile* out) noexcept {
    if (len < kMinBody) return false;
    uint64_t n = g_open.fetch_add(1, std::memory_order_relaxed);
    if (n >= budget_ref().load(std::memory_order_relaxed)) {
        g_open.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t map_len = static_cast<size_t>((len + static_cast<uint64_t>(page) - 1) & ~static_cast<uint64_t>(page - 1));
    int fd = memfd_create("meridian-body", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(map_len)) == 0) {
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

void BodyFiles::close(const BodyFile& f) noexcept {
    if (f.fd < 0) return;
    munmap(f.map, f.map_len);
    ::close(f.fd);
    g_open.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t BodyFiles::open_count() noexcept { return g_open.load(std::memory_order_relaxed); }

uint64_t BodyFiles::set_budget(uint64_t files) noexcept { return budget_ref().exchange(files); }

} // namespace edge
