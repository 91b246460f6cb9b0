#include "shared/process/malloc_tunables.h"

#include <sys/auxv.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shared {

namespace {
// The size of one glibc arena heap on 64-bit (HEAP_MAX_SIZE): a larger pad maps no more.
constexpr const char* kTunables = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864";
// Set in the re-executed process's environment, so that it never re-executes again whatever glibc made of the rest.
constexpr const char* kMarker = "MERIDIAN_MALLOC_TUNED";
} // namespace

std::string malloc_tunables_for(const char* current, std::string_view thp_enabled) {
    // "always [madvise] never": the bracket marks the mode in force. Without the file there is no THP support.
    if (thp_enabled.empty() || thp_enabled.find("[never]") != std::string_view::npos) return {};
    std::string_view cur = current ? current : "";
    if (cur.find("glibc.malloc.hugetlb") != std::string_view::npos ||
        cur.find("glibc.malloc.top_pad") != std::string_view::npos)
        return {};
    std::string out(cur);
    if (!out.empty()) out += ':';
    out += kTunables;
    return out;
}

void reexec_with_malloc_tunables(char** argv) noexcept {
    if (std::getenv(kMarker)) {
        ::unsetenv(kMarker); // not inherited by anything the daemon runs
        return;
    }
    if (::getauxval(AT_SECURE)) return;
    std::string thp;
    {
        std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
        std::getline(f, thp);
    }
    const char* current = std::getenv("GLIBC_TUNABLES");
    const std::string saved = current ? current : "";
    const std::string tunables = malloc_tunables_for(current, thp);
    if (tunables.empty()) return;
    ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    ::setenv(kMarker, "1", 1);
    ::execv("/proc/self/exe", argv);
    // Still here: run untuned, with the environment as it was.
    ::unsetenv(kMarker);
    if (current)
        ::setenv("GLIBC_TUNABLES", saved.c_str(), 1);
    else
        ::unsetenv("GLIBC_TUNABLES");
}

} // namespace shared
