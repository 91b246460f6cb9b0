// ConnBufferPool: buffers go round (a given-back buffer is the next one taken, so a busy worker reuses warm
// memory without allocating) and the pool keeps only a bounded number idle.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "edge/server/conn_buffer_pool.h"

using edge::ConnBufferPool;

TEST_CASE("a read buffer given back is the next one taken") {
    ConnBufferPool pool;
    char* a = pool.take_read_buffer();
    a[0] = 'x';
    a[ConnBufferPool::kReadBufferBytes - 1] = 'y'; // the whole size is usable
    pool.give_read_buffer(a);
    CHECK(pool.free_read_buffers() == 1);
    CHECK(pool.take_read_buffer() == a);
    CHECK(pool.free_read_buffers() == 0);
    pool.give_read_buffer(a);
    pool.give_read_buffer(nullptr); // a connection that had none
    CHECK(pool.free_read_buffers() == 1);
}

TEST_CASE("the pool keeps a bounded number of idle read buffers") {
    ConnBufferPool pool;
    std::vector<char*> taken;
    for (int i = 0; i < 1000; ++i)
        taken.push_back(pool.take_read_buffer());
    for (char* b : taken)
        pool.give_read_buffer(b);
    CHECK(pool.free_read_buffers() > 0);
    CHECK(pool.free_read_buffers() <= 64);
}

TEST_CASE("a head buffer goes round without allocating, and an idle string holds nothing") {
    ConnBufferPool pool;
    std::string s;
    pool.take_head(s);
    REQUIRE(s.capacity() >= ConnBufferPool::kHeadBytes);
    s.assign("HTTP/1.1 200 OK\r\n");
    const char* data = s.data();
    pool.give_head(s);
    CHECK(s.empty());
    CHECK(s.capacity() < ConnBufferPool::kHeadBytes);
    std::string t;
    pool.take_head(t);
    CHECK(t.data() == data); // the same buffer, cleared
    CHECK(t.empty());
    // A head that grew far past the usual size is not kept round the pool.
    t.assign(16 * ConnBufferPool::kHeadBytes, 'h');
    pool.give_head(t);
    CHECK(t.capacity() < ConnBufferPool::kHeadBytes);
    std::string u;
    pool.give_head(u); // nothing to give: no effect
    pool.take_head(u);
    CHECK(u.capacity() >= ConnBufferPool::kHeadBytes);
}
