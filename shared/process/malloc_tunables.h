// glibc malloc's tunables for a daemon whose heap grows for hours: the edge's cache takes one heap block per stored
// object until it reaches its byte budget, so every miss of an empty cache is memory the process takes from the
// kernel for the first time.
#pragma once

#include <string>
#include <string_view>

namespace shared {

// Called before the daemon starts anything (one thread, nothing open but the standard descriptors): re-executes
// the program (/proc/self/exe, same argv, same pid) once with GLIBC_TUNABLES extended by
//   glibc.malloc.hugetlb=1         malloc's heaps are madvise(MADV_HUGEPAGE)d: a 2 MiB page per fault, not 4 KiB;
//   glibc.malloc.top_pad=64 MiB    each thread's arena heap is mapped read-write whole when it is created, so
//                                  it is one mapping the huge pages fit in, and no mprotect(2) per heap growth.
// Nothing happens when transparent huge pages are off ("never"), when GLIBC_TUNABLES already names either
// tunable (the operator's choice wins, e.g. glibc.malloc.hugetlb=0 to opt out), when the process is privileged
// (AT_SECURE: glibc ignores the variable there), or when the exec fails (the daemon then runs untuned).
// Returns only when there was no re-exec.
void reexec_with_malloc_tunables(char** argv) noexcept;

// The GLIBC_TUNABLES value that reexec_with_malloc_tunables would set, given the current value (null when unset)
// and the kernel's /sys/kernel/mm/transparent_hugepage/enabled text; empty when it would not re-execute.
// (The decision, without the exec, for tests.)
std::string malloc_tunables_for(const char* current, std::string_view thp_enabled);

} // namespace shared
