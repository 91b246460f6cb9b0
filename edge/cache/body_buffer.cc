#include "edge/cache/body_buffer.h"

#include "edge/cache/body_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace edge {

struct BodyBuffer::Chunk {
    std::atomic<Chunk*> next{nullptr};
    uint64_t cap;
    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }

    static Chunk* make(uint64_t cap) {
        void* mem = std::malloc(sizeof(Chunk) + cap);
        if (!mem) throw std::bad_alloc();
        return new (mem) Chunk{{nullptr}, cap};
    }
};

namespace {
constexpr uint64_t kUnknownFirst = 16 << 10;
constexpr uint64_t kMaxFirst = uint64_t{1} << 30;
constexpr uint64_t kMaxGrow = 1 << 20;
static_assert(BodyBuffer::kSpillAt == kUnknownFirst * 3, "a spilling body's heap is its first two chunks");
// A file-backed chunk: the mapping starts with the BodyFile that owns it, then the chunk header, then the data, so
// the buffer itself needs no extra field for it (its size is per-object bookkeeping).
constexpr size_t kFilePrefix = (sizeof(BodyFile) + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);

BodyFile* file_of(const void* chunk) noexcept {
    return reinterpret_cast<BodyFile*>(const_cast<char*>(static_cast<const char*>(chunk)) - kFilePrefix);
}
} // namespace

BodyBuffer::BodyBuffer(uint64_t expected_size) noexcept
    : first_cap_(static_cast<uint32_t>(expected_size == 0 ? kUnknownFirst : std::min(expected_size, kMaxFirst))),
      announced_(expected_size > 0 && expected_size <= kMaxFirst) {}

BodyBuffer::BodyBuffer(uint64_t expected_size, void* first_chunk_mem) noexcept : BodyBuffer(expected_size) {
    if (!first_chunk_mem) return;
    // The chunk exists from the start (empty), so append() fills it before it would allocate the next one.
    head_ = tail_ = new (first_chunk_mem) Chunk{{nullptr}, std::max<uint64_t>(first_cap_, 1)};
    storage_.store(Storage::inline_mem, std::memory_order_relaxed);
    allocated_ = sizeof(Chunk) + head_->cap;
}

BodyBuffer::BodyBuffer(uint64_t expected_size, InFile) noexcept : BodyBuffer(expected_size) {
    if (expected_size == 0) {
        // Unknown length: most such bodies are small, and a file costs a descriptor, so it waits for the body to
        // outgrow its heap chunks (append() opens it at kSpillAt).
        storage_.store(Storage::spill, std::memory_order_relaxed);
        return;
    }
    if (expected_size < BodyFiles::kMinBody || expected_size > kMaxFirst) return;
    BodyFile f;
    if (!BodyFiles::open(kFilePrefix + sizeof(Chunk) + expected_size, &f)) return;
    new (f.map) BodyFile(f);
    head_ = tail_ = new (f.map + kFilePrefix) Chunk{{nullptr}, first_cap_};
    storage_.store(Storage::file, std::memory_order_relaxed);
    allocated_ = f.map_len;
}

BodyBuffer::~BodyBuffer() {
    Storage st = storage_.load(std::memory_order_relaxed);
    Chunk* c = head_;
    uint64_t start = 0;
    while (c) {
        Chunk* next = c->next.load(std::memory_order_relaxed);
        uint64_t cap = c->cap;
        c->~Chunk();
        if ((c == head_ && st == Storage::file) || (start == kSpillAt && st == Storage::spilled))
            BodyFiles::close(BodyFile(*file_of(c)));
        else if (c != head_ || st != Storage::inline_mem)
            std::free(c);
        start += cap;
        c = next;
    }
}

size_t BodyBuffer::chunk_overhead() noexcept {
    return sizeof(Chunk);
}

size_t BodyBuffer::inline_chunk_bytes(uint64_t expected_size) noexcept {
    static_assert(alignof(Chunk) <= kInlineChunkAlign);
    return sizeof(Chunk) + static_cast<size_t>(std::clamp<uint64_t>(expected_size, 1, kMaxFirst));
}

namespace {
// The pages a growing file holds with `in_file` body bytes written: its header page on, whole pages.
uint64_t growing_file_pages(uint64_t header, uint64_t in_file) noexcept {
    uint64_t page = BodyFiles::page_size();
    return (header + in_file + page - 1) & ~(page - 1);
}
} // namespace

// The chunk that takes a body of unknown length on from kSpillAt: one growing file, whose mapping reserves room for
// kMaxFirst bytes, so that the rest of the body is one chunk (one sendfile) at addresses that never move; past
// that, heap chunks again. Null when no file can be had (the body stays on the heap).
BodyBuffer::Chunk* BodyBuffer::spill_chunk() noexcept {
    BodyFile f;
    if (!BodyFiles::open_growing(kFilePrefix + sizeof(Chunk) + kMaxFirst, &f)) return nullptr;
    new (f.map) BodyFile(f);
    allocated_ += growing_file_pages(kFilePrefix + sizeof(Chunk), 0);
    return new (f.map + kFilePrefix) Chunk{{nullptr}, kMaxFirst};
}

void BodyBuffer::append(const char* data, size_t len) {
    uint64_t size = size_.load(std::memory_order_relaxed);
    Storage st = storage_.load(std::memory_order_relaxed);
    while (len > 0) {
        if (!tail_ || size == tail_start_ + tail_->cap) {
            Chunk* c = nullptr;
            if (st == Storage::spill && size == kSpillAt) {
                c = spill_chunk();
                // Before the chunk is linked (release): a reader that reaches it knows it is the file.
                st = c ? Storage::spilled : Storage::heap;
                storage_.store(st, std::memory_order_release);
            }
            if (!c) {
                uint64_t cap;
                if (!tail_) {
                    cap = std::max<uint64_t>(first_cap_, 1);
                } else if (st == Storage::spill) {
                    cap = kSpillAt - size; // the file, if any, starts exactly at kSpillAt
                } else {
                    cap = std::min<uint64_t>(std::max<uint64_t>(tail_->cap * 2, len), kMaxGrow);
                    cap = std::max<uint64_t>(cap, std::min<uint64_t>(len, kMaxGrow));
                }
                c = Chunk::make(cap);
                allocated_ += sizeof(Chunk) + cap;
            }
            if (!tail_) {
                head_ = c;
                tail_start_ = 0;
            } else {
                tail_start_ += tail_->cap;
                // Release: a reader that sees `next` sees an initialised chunk.
                tail_->next.store(c, std::memory_order_release);
            }
            tail_ = c;
        }
        uint64_t in_chunk = size - tail_start_;
        size_t n = static_cast<size_t>(std::min<uint64_t>(tail_->cap - in_chunk, len));
        if (tail_ == head_ && st == Storage::file) {
            write_file(tail_, in_chunk, data, n);
        } else if (tail_start_ == kSpillAt && st == Storage::spilled) {
            write_file(tail_, in_chunk, data, n);
            constexpr uint64_t header = kFilePrefix + sizeof(Chunk);
            allocated_ += growing_file_pages(header, in_chunk + n) - growing_file_pages(header, in_chunk);
        } else {
            std::memcpy(tail_->data() + in_chunk, data, n);
        }
        data += n;
        len -= n;
        size += n;
        // Publish per piece so a reader can start on the first chunk before a long append ends.
        size_.store(size, std::memory_order_release);
    }
}

void BodyBuffer::seal() noexcept {
    if (storage_.load(std::memory_order_relaxed) != Storage::spilled) return;
    uint64_t start = 0;
    const Chunk* c = file_chunk(&start);
    if (!c) return; // the first write to the file failed
    uint64_t in_file = std::min(size_.load(std::memory_order_relaxed) - start, c->cap);
    BodyFiles::shrink(file_of(c), kFilePrefix + sizeof(Chunk) + in_file);
}

// A store through the mapping would take a page fault per fresh 4 KiB page, and on virtual machines a fault costs
// microseconds: 5 ms per MiB measured on the bench VM, where pwrite(2) into the same file takes 0.2 ms. pwrite puts
// the bytes in the file's pages without mapping them (and extends a growing file); readers of the mapping see them
// (MAP_SHARED), and senders pass them to sockets with sendfile and never touch them. A failed write (no memory for
// the page) is an allocation failure, as for a heap chunk.
void BodyBuffer::write_file(Chunk* c, uint64_t at, const char* data, size_t n) {
    const BodyFile* f = file_of(c);
    off_t off = static_cast<off_t>(kFilePrefix + sizeof(Chunk) + at);
    while (n > 0) {
        ssize_t w = ::pwrite(f->fd, data, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw std::bad_alloc();
        data += w;
        n -= static_cast<size_t>(w);
        off += w;
    }
}

size_t BodyBuffer::slices(uint64_t from, uint64_t to, BodySlice* out, size_t max) const noexcept {
    uint64_t end = std::min(to, size());
    if (from >= end || max == 0) return 0;
    // head_ is written before size_ first becomes non-zero (release), and we read size first (acquire).
    const Chunk* c = head_;
    uint64_t start = 0;
    size_t n = 0;
    while (c && start < end && n < max) {
        uint64_t c_end = start + c->cap;
        if (from < c_end) {
            uint64_t a = std::max(from, start);
            uint64_t b = std::min(end, c_end);
            out[n++] = BodySlice{c->data() + (a - start), static_cast<size_t>(b - a)};
        }
        start = c_end;
        if (start >= end) break;
        c = c->next.load(std::memory_order_acquire);
    }
    return n;
}

// The chunk in a file and its body offset; null when there is none (yet). After an acquire load of size_ that
// covers the file's first byte, the chunk is linked.
const BodyBuffer::Chunk* BodyBuffer::file_chunk(uint64_t* start) const noexcept {
    switch (storage_.load(std::memory_order_acquire)) {
    case Storage::file:
        *start = 0;
        return head_;
    case Storage::spilled: {
        if (size() <= kSpillAt) return nullptr;
        const Chunk* c = head_->next.load(std::memory_order_acquire);
        *start = kSpillAt;
        return c->next.load(std::memory_order_acquire);
    }
    default:
        return nullptr;
    }
}

bool BodyBuffer::file_span(uint64_t from, uint64_t to, int* fd, uint64_t* file_off) const noexcept {
    if (from >= to || to > size()) return false;
    uint64_t start = 0;
    const Chunk* c = file_chunk(&start);
    if (!c || from < start || to > start + c->cap) return false;
    *fd = file_of(c)->fd;
    *file_off = kFilePrefix + sizeof(Chunk) + (from - start);
    return true;
}

uint64_t BodyBuffer::file_start() const noexcept {
    uint64_t start = 0;
    return file_chunk(&start) ? start : UINT64_MAX;
}

std::string BodyBuffer::copy(uint64_t from, uint64_t to) const {
    std::string s;
    BodySlice sl[16];
    while (true) {
        size_t n = slices(from, to, sl, 16);
        if (n == 0) break;
        for (size_t i = 0; i < n; ++i) {
            s.append(sl[i].data, sl[i].len);
            from += sl[i].len;
        }
    }
    return s;
}

} // namespace edge
