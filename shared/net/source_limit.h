// Open connections per client address, for a whole process: every worker's listener (SO_REUSEPORT spreads one
// client's connections over all of them) counts into one table, so one address cannot take the connection slots
// other clients need (slowloris from one host, one client opening thousands). IPv4 clients are counted per address,
// IPv6 clients per /64, the smallest block one host is usually given. An IPv4-mapped IPv6 address (::ffff:a.b.c.d,
// what a dual-stack listener reports for an IPv4 client) is that IPv4 address, not a member of the /64 ::ffff:0:0/64
// that every IPv4 client would share.
//
// Taken at every accept and close, on every worker at once: no heap allocation after construction and no
// process-wide lock. The table is open-addressed with a fixed capacity, split into kShards shards by the key's
// (seeded) hash, each with its own slots and mutex; linear probing, and backward-shift deletion so that churn leaves
// no tombstones behind. Distinct addresses never outnumber open connections, so a table with room for four times
// the process's connection limit does not fill; if a shard does fill anyway (a reload raised the limit past what the
// table was sized for), a new address is admitted uncounted rather than refused.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace shared {

// A client's IP address in 16 bytes: IPv6 as it is, IPv4 as its IPv4-mapped IPv6 form. Kept by a connection instead
// of a sockaddr_storage (128 bytes).
struct PeerAddress {
    uint8_t bytes[16] = {};

    // False (and *out untouched) for anything but AF_INET and AF_INET6.
    static bool from_sockaddr(const sockaddr* sa, PeerAddress* out);
    bool v4_mapped() const;
    // "192.0.2.1" / "2001:db8::1" (an IPv4-mapped address as the IPv4 address).
    void write_text(char (&buf)[46]) const;
};

class SourceConnLimit {
  public:
    static constexpr size_t kShards = 64;
    // Sized for `max_open` connections open at once in the whole process (all workers).
    explicit SourceConnLimit(size_t max_open);
    // The most connections the process can have open when its configuration allows `configured`: no more than its
    // descriptor limit (RLIMIT_NOFILE) either, which keeps the table small when the configured limit is a
    // generous ceiling (a max_connections of millions).
    static size_t open_bound(uint64_t configured);
    ~SourceConnLimit();
    SourceConnLimit(const SourceConnLimit&) = delete;
    SourceConnLimit& operator=(const SourceConnLimit&) = delete;

    enum class Admit : uint8_t {
        refused,   // `limit` connections from this address are open already
        counted,   // admitted and counted: release() it when the connection closes
        uncounted, // admitted without counting (the address's shard was full): do not release
    };
    // Counts one more connection from `peer` when fewer than `limit` are open (0 = no limit, still counted, so a
    // reload that sets a limit finds the counts right).
    Admit acquire(const PeerAddress& peer, uint32_t limit);
    void release(const PeerAddress& peer);
    uint32_t count(const PeerAddress& peer) const;
    // Slots in all shards (a power of two).
    size_t capacity() const { return kShards * (size_t{mask_} + 1); }
    // Distinct addresses counted now (takes every shard's lock: for tests and metrics, not per connection).
    size_t addresses() const;

  private:
    struct Slot {
        uint64_t hi, lo;
        uint32_t n;    // open connections; 0 = empty slot
        uint32_t hash; // its low bits are the slot's home position
    };
    struct alignas(64) Shard {
        mutable std::mutex mu;
        Slot* slots = nullptr;
        uint32_t used = 0; // slots taken
    };
    struct Key {
        uint64_t hi, lo;
        uint64_t hash;
    };
    Key key_of(const PeerAddress& peer) const;
    // The slot holding `k`, or the empty slot where it would go.
    Slot* find(Slot* slots, const Key& k) const;
    void erase(Slot* slots, Slot* s) const;

    uint64_t seed_;
    uint32_t mask_;     // slots per shard - 1
    uint32_t max_used_; // addresses a shard takes before it admits new ones uncounted
    Slot* slots_;       // kShards * (mask_ + 1), shard after shard
    Shard shards_[kShards];
};

} // namespace shared
