#include "edge/server/conn_buffer_pool.h"

namespace edge {

ConnBufferPool& ConnBufferPool::local() {
    thread_local ConnBufferPool pool;
    return pool;
}

ConnBufferPool::ConnBufferPool() {
    // Reserved up front: returning a buffer never allocates.
    reads_.reserve(kMaxFree);
    heads_.reserve(kMaxFree);
}

ConnBufferPool::~ConnBufferPool() {
    for (char* b : reads_)
        delete[] b;
}

char* ConnBufferPool::take_read_buffer() {
    if (reads_.empty()) return new char[kReadBufferBytes];
    char* b = reads_.back();
    reads_.pop_back();
    return b;
}

void ConnBufferPool::give_read_buffer(char* buf) {
    if (!buf) return;
    if (reads_.size() >= kMaxFree) {
        delete[] buf;
        return;
    }
    reads_.push_back(buf);
}

void ConnBufferPool::take_head(std::string& s) {
    if (!heads_.empty()) {
        s.swap(heads_.back());
        heads_.pop_back();
    }
    s.clear();
    s.reserve(kHeadBytes);
}

void ConnBufferPool::give_head(std::string& s) {
    if (s.capacity() < kHeadBytes || s.capacity() > 4 * kHeadBytes || heads_.size() >= kMaxFree) {
        std::string().swap(s);
        return;
    }
    s.clear();
    heads_.emplace_back();
    heads_.back().swap(s);
}

} // namespace edge
