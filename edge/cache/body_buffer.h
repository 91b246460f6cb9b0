// An append-only byte buffer that one writer fills while any number of readers on other threads read what is
// already there, without locks and without copying: the body of a cached object, and of a fill in progress.
//
// Storage is a chain of chunks that never move; the first chunk is sized from the expected length (Content-Length)
// so a complete small object is one contiguous slice. A large body's first chunk can live in a shared-memory file
// (body_file.h) so that senders may pass its pages to the kernel instead of copying them. A body of unknown length
// (chunked, or ended by the origin's close) starts on the heap and, when it grows past its first kSpillAt bytes,
// continues in such a file, which grows with it. Only the writer calls append(); any thread calls size() and
// slices(), which see every byte below size() (release/acquire on the size).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edge {

struct BodySlice {
    const char* data;
    size_t len;
};

class BodyBuffer {
  public:
    // `expected_size`: the announced length (0 when unknown); the first chunk holds min(expected_size, 1 GiB)
    // bytes, or 16 KiB when unknown. Later chunks double up to 1 MiB.
    explicit BodyBuffer(uint64_t expected_size = 0) noexcept;
    // The same, with the first chunk placed in `first_chunk_mem` (8-byte aligned, inline_chunk_bytes(expected_size)
    // bytes, owned by the caller and outliving this; null = allocate as above): a cached object keeps a body of known
    // length (expected_size > 0) in its own allocation, which saves a heap block per object.
    BodyBuffer(uint64_t expected_size, void* first_chunk_mem) noexcept;
    // The same, with the first chunk in a shared-memory file when one can be had (BodyFiles::open); otherwise as
    // BodyBuffer(expected_size). With expected_size 0 (unknown), the bytes from kSpillAt on go to a growing file
    // (BodyFiles::open_growing) when one can be had, and to heap chunks otherwise.
    struct InFile {};
    BodyBuffer(uint64_t expected_size, InFile) noexcept;
    ~BodyBuffer();
    BodyBuffer(const BodyBuffer&) = delete;
    BodyBuffer& operator=(const BodyBuffer&) = delete;

    // Writer only. Allocates a chunk when the current one is full; throws std::bad_alloc when memory (a chunk, or a
    // file's pages) cannot be had.
    void append(const char* data, size_t len);
    void append(std::string_view s) { append(s.data(), s.size()); }

    // Writer, after its last append(): gives back what a growing file reserved beyond the body. No append() after.
    void seal() noexcept;

    // Bytes readable now (any thread).
    uint64_t size() const noexcept { return size_.load(std::memory_order_acquire); }
    // The length announced at construction (Content-Length), or 0 when it was unknown (or over 1 GiB): what a body
    // still being filled will hold, for a Content-Range sent before its last byte arrives.
    uint64_t expected_size() const noexcept { return announced_ ? first_cap_ : 0; }

    // Fills out[0..max) with slices covering [from, min(to, size())); returns how many. Allocation-free. Call again
    // from the end of the last slice when max was reached.
    size_t slices(uint64_t from, uint64_t to, BodySlice* out, size_t max) const noexcept;

    // When [from, to) (to <= size()) lies in a shared-memory file: sets its descriptor and the file offset of `from`.
    // The file's part of the body is one chunk, so slices() gives it as one slice.
    bool file_span(uint64_t from, uint64_t to, int* fd, uint64_t* file_off) const noexcept;
    // Where the body's part in a shared-memory file begins: 0 when all of it is there, kSpillAt when a body of
    // unknown length continued in one, UINT64_MAX when there is none (yet). The bytes before it are on the heap.
    uint64_t file_start() const noexcept;
    // A body of unknown length keeps this much on the heap (its first two chunks) before it goes to a file: no file
    // for a small body, like a known length below BodyFiles::kMinBody.
    static constexpr uint64_t kSpillAt = 48 << 10;

    // Bytes held (chunk headers + capacity, a file's whole pages: all of them for a known length, those written for
    // a growing file), for the cache's byte budget.
    uint64_t allocated_bytes() const noexcept { return allocated_; }

    // Overhead of one chunk beyond its data (bookkeeping accounting).
    static size_t chunk_overhead() noexcept;
    // Bytes and alignment the caller provides for an inline first chunk of a body of `expected_size` (> 0) bytes.
    static constexpr size_t kInlineChunkAlign = alignof(uint64_t);
    static size_t inline_chunk_bytes(uint64_t expected_size) noexcept;

    // Copies [from, to) into a string (tests, small bodies).
    std::string copy(uint64_t from = 0, uint64_t to = UINT64_MAX) const;

  private:
    struct Chunk;
    Chunk* spill_chunk() noexcept;
    const Chunk* file_chunk(uint64_t* start) const noexcept;
    static void write_file(Chunk* c, uint64_t at, const char* data, size_t n);
    Chunk* head_ = nullptr;
    Chunk* tail_ = nullptr;   // writer only
    uint64_t tail_start_ = 0; // writer only: body offset of tail_'s first byte
    uint64_t allocated_ = 0;  // writer only (read after completion)
    uint32_t first_cap_ = 0;
    // heap: every chunk is malloc'd. inline_mem: the first chunk is the owner's memory, never freed here. file: the
    // first chunk is a shared-memory file (see body_buffer.cc). spill: unknown length, on the heap so far; the chunk
    // at kSpillAt goes to a growing file. spilled: it did. Readers load it (acquire) to find the file.
    enum class Storage : uint8_t { heap, inline_mem, file, spill, spilled };
    std::atomic<Storage> storage_{Storage::heap};
    bool announced_ = false; // first_cap_ is the announced length
    std::atomic<uint64_t> size_{0};
};

} // namespace edge
