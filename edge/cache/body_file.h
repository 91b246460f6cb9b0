// Shared-memory files for large cached bodies.
//
// A body of at least kMinBody bytes is kept in an anonymous shared-memory file (memfd) mapped into the process.
// Readers see ordinary memory (streaming, compression, ranges), and a hit hands the file's pages to the socket with
// sendfile(2) instead of copying the body into the socket buffer — on a 100 KiB hit that copy was a third of the
// server's CPU; nginx gets the same from its cache files on tmpfs. One file per body, written once by its fill and
// closed when the object dies: pages the kernel still holds for a send in flight are never rewritten, which a
// shared arena reused after eviction could not promise.
//
// Each file costs a descriptor and a mapping, so the process keeps a budget: half of RLIMIT_NOFILE (the other half
// is for connections) and half of vm.max_map_count. Past it, or when the kernel refuses, bodies stay on the heap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edge {

struct BodyFile {
    int fd = -1;
    char* map = nullptr; // the whole file, read/write, MAP_SHARED
    size_t map_len = 0;  // page-rounded
};

class BodyFiles {
  public:
    static constexpr uint64_t kMinBody = 64 << 10;

    // Opens a file of at least `len` bytes, mapped; false (nothing open) when len < kMinBody, the budget is spent,
    // or memfd_create/ftruncate/mmap failed.
    static bool open(uint64_t len, BodyFile* out) noexcept;
    // A file for a body of unknown length: its first page exists, and the mapping reserves address space for
    // `max_len` bytes so the file can grow (pwrite past its end) without moving the pages readers point into.
    // Nothing but address space is taken for the rest; a page is touched only below what was written (past the
    // file's end the mapping faults). Same budget as open().
    static bool open_growing(uint64_t max_len, BodyFile* out) noexcept;
    // Gives back the reserved address space beyond `len` bytes (page-rounded) once the file stops growing.
    static void shrink(BodyFile* f, uint64_t len) noexcept;
    static uint64_t page_size() noexcept;
    static void close(const BodyFile& f) noexcept;

    // Files open now (metrics, tests).
    static uint64_t open_count() noexcept;
    // Tests: override the budget (0 = no files); returns the previous value.
    static uint64_t set_budget(uint64_t files) noexcept;
};

} // namespace edge
