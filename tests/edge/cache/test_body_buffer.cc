#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "edge/cache/body_buffer.h"
#include "edge/cache/body_file.h"

using namespace edge;

TEST_CASE("BodyBuffer: a body of the announced size is one slice", "[edge][cache][body]") {
    BodyBuffer b(11);
    b.append("hello ");
    b.append("world");
    REQUIRE(b.size() == 11);
    BodySlice s[4];
    REQUIRE(b.slices(0, UINT64_MAX, s, 4) == 1);
    CHECK(std::string_view(s[0].data, s[0].len) == "hello world");
    REQUIRE(b.slices(6, 8, s, 4) == 1);
    CHECK(std::string_view(s[0].data, s[0].len) == "wo");
    CHECK(b.slices(11, 20, s, 4) == 0);
    CHECK(b.allocated_bytes() == 11 + BodyBuffer::chunk_overhead());
}

TEST_CASE("BodyBuffer: unknown length grows in chunks and reads back in order", "[edge][cache][body]") {
    BodyBuffer b;
    std::string all;
    for (int i = 0; i < 5000; ++i) {
        std::string piece = std::to_string(i) + ",";
        b.append(piece);
        all += piece;
    }
    CHECK(b.size() == all.size());
    CHECK(b.copy() == all);
    CHECK(b.copy(100, 200) == all.substr(100, 100));
    BodySlice s[2];
    size_t n = b.slices(0, UINT64_MAX, s, 2);
    CHECK(n >= 1);
    CHECK(n <= 2);
    BodyBuffer empty;
    CHECK(empty.size() == 0);
    CHECK(empty.copy().empty());
    CHECK(empty.slices(0, 10, s, 2) == 0);
}

namespace {

// Writes 3 MiB in odd-sized pieces while a second thread reads: it must see exactly the bytes written, in order.
void check_concurrent_reader(BodyBuffer& b) {
    constexpr size_t kTotal = 3 << 20;
    std::atomic<bool> done{false};
    bool mismatch = false;
    uint64_t read = 0;
    std::thread reader([&] {
        BodySlice s[8];
        while (read < kTotal) {
            bool writer_done = done.load(); // read before the slices: then n == 0 really means "all read"
            size_t n = b.slices(read, UINT64_MAX, s, 8);
            for (size_t i = 0; i < n; ++i) {
                for (size_t k = 0; k < s[i].len; ++k) {
                    if (s[i].data[k] != static_cast<char>((read + k) % 251)) mismatch = true;
                }
                read += s[i].len;
            }
            if (n == 0 && writer_done) break;
        }
    });
    std::string piece(4093, '\0');
    for (uint64_t off = 0; off < kTotal;) {
        size_t len = std::min<size_t>(piece.size(), kTotal - off);
        for (size_t k = 0; k < len; ++k)
            piece[k] = static_cast<char>((off + k) % 251);
        b.append(piece.data(), len);
        off += len;
    }
    done = true;
    reader.join();
    CHECK_FALSE(mismatch);
    CHECK(read == kTotal);
}

} // namespace

TEST_CASE("BodyBuffer: a reader on another thread sees every byte it is told about", "[edge][cache][body]") {
    BodyBuffer b(0);
    check_concurrent_reader(b);
}

// Request collapsing: viewers read a body of unknown length while it moves from its heap chunks to a file.
TEST_CASE("BodyBuffer: a reader on another thread follows a body of unknown length into its file",
          "[edge][cache][body]") {
    BodyBuffer b(0, BodyBuffer::InFile{});
    check_concurrent_reader(b);
    CHECK(b.file_start() == BodyBuffer::kSpillAt);
}

TEST_CASE("BodyBuffer: a first chunk in the caller's memory fills first, then the body grows on the heap",
          "[edge][cache][body]") {
    alignas(BodyBuffer::kInlineChunkAlign) char mem[64];
    REQUIRE(BodyBuffer::inline_chunk_bytes(8) <= sizeof mem);
    std::string all;
    {
        BodyBuffer b(8, mem);
        CHECK(b.size() == 0);
        CHECK(b.allocated_bytes() == BodyBuffer::inline_chunk_bytes(8));
        b.append("12345678");
        BodySlice s[4];
        REQUIRE(b.slices(0, UINT64_MAX, s, 4) == 1);
        CHECK(s[0].data >= mem);
        CHECK(s[0].data < mem + sizeof mem);
        // More than announced (an origin that lied): the rest goes to a heap chunk, freed with the buffer (ASan).
        b.append("9abcdef");
        CHECK(b.copy() == "123456789abcdef");
        CHECK(b.slices(0, UINT64_MAX, s, 4) == 2);
        CHECK(b.allocated_bytes() > BodyBuffer::inline_chunk_bytes(8));
    }
    BodyBuffer none(8, nullptr); // null: as BodyBuffer(8)
    none.append("abc");
    CHECK(none.copy() == "abc");
    CHECK(none.allocated_bytes() == 8 + BodyBuffer::chunk_overhead());
}

namespace {

std::string pread_all(int fd, uint64_t off, size_t len) {
    std::string s(len, '\0');
    ssize_t n = ::pread(fd, s.data(), len, static_cast<off_t>(off));
    s.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return s;
}

} // namespace

TEST_CASE("BodyBuffer: a large body lives in a shared-memory file whose bytes are the body's", "[edge][cache][body]") {
    uint64_t open_before = BodyFiles::open_count();
    const size_t n = 200'000; // not a page multiple
    std::string body(n, '\0');
    for (size_t i = 0; i < n; ++i)
        body[i] = static_cast<char>(i * 13 + i / 1000);
    {
        BodyBuffer b(n, BodyBuffer::InFile{});
        CHECK(BodyFiles::open_count() == open_before + 1);
        int fd = -1;
        uint64_t off = 0;
        CHECK_FALSE(b.file_span(0, 1, &fd, &off)); // nothing written yet
        b.append(body.substr(0, 70'000));
        REQUIRE(b.file_span(0, 70'000, &fd, &off));
        CHECK_FALSE(b.file_span(0, 70'001, &fd, &off)); // beyond what is written
        b.append(body.substr(70'000));
        REQUIRE(b.file_span(1234, n, &fd, &off));
        CHECK(pread_all(fd, off, n - 1234) == body.substr(1234)); // what sendfile would send
        BodySlice s[2];
        REQUIRE(b.slices(0, UINT64_MAX, s, 2) == 1); // readers see the same bytes as memory, one slice
        CHECK(std::string_view(s[0].data, s[0].len) == body);
        CHECK(b.allocated_bytes() >= n);
        CHECK(b.allocated_bytes() % 4096 == 0); // whole pages are charged
        // An origin that sends more than it announced: the excess goes to the heap, outside the file.
        b.append("tail");
        CHECK(b.copy() == body + "tail");
        CHECK_FALSE(b.file_span(0, n + 4, &fd, &off));
        CHECK(b.file_span(0, n, &fd, &off));
    }
    CHECK(BodyFiles::open_count() == open_before); // closed with the buffer
}

// A fill stores a large body with pwrite, not through the mapping: a store through it took a page fault per fresh
// 4 KiB page (256 per MiB, 5 ms per MiB on a virtual machine), where pwrite takes none.
TEST_CASE("BodyBuffer: filling a file-backed body takes no page fault per page", "[edge][cache][body]") {
    const size_t n = 1 << 20;
    std::string chunk(64 << 10, 'p');
    BodyBuffer b(n, BodyBuffer::InFile{});
    int fd = -1;
    uint64_t off = 0;
    b.append(chunk.data(), 1); // the first byte: the file exists and is the body's home
    REQUIRE(b.file_span(0, 1, &fd, &off));
    rusage before{};
    getrusage(RUSAGE_THREAD, &before);
    for (size_t at = 1; at < n; at += chunk.size())
        b.append(chunk.data(), std::min(chunk.size(), n - at));
    rusage after{};
    getrusage(RUSAGE_THREAD, &after);
    REQUIRE(b.size() == n);
    CHECK(after.ru_minflt - before.ru_minflt < 16);
    CHECK(pread_all(fd, off, n) == std::string(n, 'p'));
}

TEST_CASE("BodyBuffer: small bodies or a spent file budget keep the body on the heap", "[edge][cache][body]") {
    int fd = -1;
    uint64_t off = 0;
    uint64_t open_before = BodyFiles::open_count();
    BodyBuffer small(BodyFiles::kMinBody - 1, BodyBuffer::InFile{});
    small.append(std::string(BodyFiles::kMinBody - 1, 's'));
    CHECK_FALSE(small.file_span(0, 10, &fd, &off));
    CHECK(small.file_start() == UINT64_MAX);
    // A body of unknown length that stays within its heap chunks opens no file.
    BodyBuffer unknown(0, BodyBuffer::InFile{});
    unknown.append(std::string(BodyBuffer::kSpillAt, 'u'));
    CHECK(unknown.file_start() == UINT64_MAX);
    CHECK(BodyFiles::open_count() == open_before);

    uint64_t saved = BodyFiles::set_budget(BodyFiles::open_count());
    {
        BodyBuffer over(BodyFiles::kMinBody * 2, BodyBuffer::InFile{});
        over.append(std::string(BodyFiles::kMinBody * 2, 'o'));
        CHECK_FALSE(over.file_span(0, 10, &fd, &off));
        CHECK(over.copy() == std::string(BodyFiles::kMinBody * 2, 'o'));
        BodyBuffer over_unknown(0, BodyBuffer::InFile{});
        over_unknown.append(std::string(BodyFiles::kMinBody * 2, 'v'));
        CHECK(over_unknown.file_start() == UINT64_MAX);
        CHECK(over_unknown.copy() == std::string(BodyFiles::kMinBody * 2, 'v'));
    }
    BodyFiles::set_budget(saved);
    BodyBuffer again(BodyFiles::kMinBody * 2, BodyBuffer::InFile{});
    again.append(std::string(BodyFiles::kMinBody * 2, 'a'));
    CHECK(again.file_span(0, 10, &fd, &off));
    CHECK(again.file_start() == 0);
}

namespace {

// The size of the mapping that holds `p` (/proc/self/maps), 0 when none does.
uint64_t mapping_size(const void* p) {
    FILE* f = std::fopen("/proc/self/maps", "r");
    if (!f) return 0;
    uint64_t found = 0;
    unsigned long long lo = 0, hi = 0;
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, "%llx-%llx", &lo, &hi) == 2 && reinterpret_cast<uintptr_t>(p) >= lo &&
            reinterpret_cast<uintptr_t>(p) < hi)
            found = hi - lo;
    }
    std::fclose(f);
    return found;
}

} // namespace

// A chunked (or close-delimited) large body: past its first kSpillAt bytes it goes on in one growing shared-memory
// file, so hits send it with sendfile as a Content-Length body's, and it is charged exactly what it holds.
TEST_CASE("BodyBuffer: a body of unknown length continues in a shared-memory file past its heap chunks",
          "[edge][cache][body]") {
    uint64_t open_before = BodyFiles::open_count();
    const size_t n = 1'000'000; // not a page multiple
    std::string body(n, '\0');
    for (size_t i = 0; i < n; ++i)
        body[i] = static_cast<char>(i * 7 + i / 4096);
    const uint64_t spill = BodyBuffer::kSpillAt;
    {
        BodyBuffer b(0, BodyBuffer::InFile{});
        CHECK(b.expected_size() == 0);
        b.append(body.substr(0, spill));
        CHECK(b.file_start() == UINT64_MAX); // all on the heap so far, no file
        CHECK(BodyFiles::open_count() == open_before);
        b.append(body.substr(spill, 100'000));
        CHECK(BodyFiles::open_count() == open_before + 1);
        CHECK(b.file_start() == spill);
        b.append(body.substr(spill + 100'000));
        REQUIRE(b.size() == n);
        int fd = -1;
        uint64_t off = 0;
        CHECK_FALSE(b.file_span(0, n, &fd, &off));         // the heap head is not in the file
        CHECK_FALSE(b.file_span(spill - 1, n, &fd, &off)); // nor its last byte
        REQUIRE(b.file_span(spill, n, &fd, &off));
        CHECK(pread_all(fd, off, n - spill) == body.substr(spill)); // what sendfile would send
        REQUIRE(b.file_span(spill + 5, spill + 6, &fd, &off));
        CHECK(pread_all(fd, off, 1) == body.substr(spill + 5, 1));
        BodySlice s[4];
        REQUIRE(b.slices(0, UINT64_MAX, s, 4) == 3); // 16 KiB and 32 KiB on the heap, the rest one slice
        CHECK(s[0].len + s[1].len == spill);
        CHECK(std::string_view(s[2].data, s[2].len) == body.substr(spill));
        CHECK(b.copy() == body);

        // Charged as held: the two heap chunks, and the file's pages as a body of the file's length would be.
        BodyBuffer same(n - spill, BodyBuffer::InFile{});
        REQUIRE(same.file_start() == 0);
        CHECK(b.allocated_bytes() == spill + 2 * BodyBuffer::chunk_overhead() + same.allocated_bytes());

        // Sealed, the file keeps its pages and gives back the address space it had reserved to grow.
        CHECK(mapping_size(s[2].data) >= (uint64_t{1} << 30));
        b.seal();
        CHECK(mapping_size(s[2].data) == same.allocated_bytes());
        CHECK(b.copy() == body);
        REQUIRE(b.file_span(spill, n, &fd, &off));
        CHECK(pread_all(fd, off, n - spill) == body.substr(spill));
    }
    CHECK(BodyFiles::open_count() == open_before); // closed with the buffer
}

// The chunked twin of the fault test above: 1 MiB of unknown length, appended in 16 KiB pieces as an origin's chunks
// arrive. Past its 48 KiB heap head (whose fresh pages fault as any heap memory's: 12, more under ASan) the body
// goes to its file with pwrite and takes no fault per page, where heap chunks took one per fresh 4 KiB page.
TEST_CASE("BodyBuffer: filling a body of unknown length takes no page fault per page", "[edge][cache][body]") {
    const size_t n = 1 << 20;
    std::string piece(16 << 10, 'q');
    BodyBuffer b(0, BodyBuffer::InFile{});
    size_t at = 0;
    for (; at < BodyBuffer::kSpillAt; at += piece.size())
        b.append(piece.data(), piece.size());
    b.append(piece.data(), 1); // the first byte past the head: the file exists and is the body's home
    ++at;
    REQUIRE(b.file_start() == BodyBuffer::kSpillAt);
    rusage before{};
    getrusage(RUSAGE_THREAD, &before);
    for (; at < n; at += piece.size())
        b.append(piece.data(), std::min(piece.size(), n - at));
    rusage after{};
    getrusage(RUSAGE_THREAD, &after);
    REQUIRE(b.size() == n);
    UNSCOPED_INFO("minor faults past the heap head: " << after.ru_minflt - before.ru_minflt);
    CHECK(after.ru_minflt - before.ru_minflt < 16);
    CHECK(b.copy() == std::string(n, 'q'));
}
