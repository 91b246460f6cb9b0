// The buffers a viewer connection needs only while bytes are being read or a response head is being written,
// shared by the connections of one worker thread: a connection takes a read buffer when libuv is about to read into
// it (alloc_cb) and gives it back as soon as everything in it was parsed; the response head buffer is taken for a
// response and given back when the response is done. An idle keep-alive connection holds neither (H2O and nginx
// do the same), so 10,000 idle connections cost their small structs, not 10,000 buffers; a busy connection takes
// and returns warm buffers without an allocation (the hit path stays allocation-free).
//
// Thread: one pool per thread (local()); a buffer goes back to the pool of the thread that took it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace edge {

class ConnBufferPool {
  public:
    // Holds one read and the pipelined tail behind a request being answered (the parser copies what it keeps).
    static constexpr size_t kReadBufferBytes = 16 << 10;
    // Capacity of a response head buffer (a head that grows past it keeps its growth only for its response).
    static constexpr size_t kHeadBytes = 1024;

    static ConnBufferPool& local();
    ConnBufferPool();
    ~ConnBufferPool();
    ConnBufferPool(const ConnBufferPool&) = delete;
    ConnBufferPool& operator=(const ConnBufferPool&) = delete;

    // A buffer of kReadBufferBytes (contents undefined).
    char* take_read_buffer();
    void give_read_buffer(char* buf);
    // `s` (empty, no capacity of its own) becomes a buffer of at least kHeadBytes.
    void take_head(std::string& s);
    // Takes `s`'s buffer back; `s` is left empty without capacity.
    void give_head(std::string& s);

    size_t free_read_buffers() const { return reads_.size(); }

  private:
    // Beyond this many idle buffers of a kind, returned ones are freed: a burst of busy connections does not stay
    // resident.
    static constexpr size_t kMaxFree = 64;
    std::vector<char*> reads_;
    std::vector<std::string> heads_;
};

} // namespace edge
