#include "shared/net/source_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

namespace shared {

namespace {
constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// splitmix64's finalizer: every input bit reaches every output bit.
uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
} // namespace

bool PeerAddress::from_sockaddr(const sockaddr* sa, PeerAddress* out) {
    if (!sa) return false;
    if (sa->sa_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(sa);
        std::memcpy(out->bytes, kV4MappedPrefix, 12);
        std::memcpy(out->bytes + 12, &a->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        std::memcpy(out->bytes, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

bool PeerAddress::v4_mapped() const {
    return std::memcmp(bytes, kV4MappedPrefix, 12) == 0;
}

void PeerAddress::write_text(char (&buf)[46]) const {
    if (v4_mapped())
        inet_ntop(AF_INET, bytes + 12, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, bytes, buf, sizeof buf);
}

SourceConnLimit::SourceConnLimit(size_t max_open) {
    // Four times the addresses there can be, at least 64 slots a shard: a shard then takes new addresses up to three
    // times its average share, which a random (seeded) hash exceeds with odds below 1e-10 even for the smallest table.
    size_t per_shard = std::bit_ceil(std::max<size_t>(64, (4 * max_open + kShards - 1) / kShards));
    per_shard = std::min<size_t>(per_shard, size_t{1} << 30);
    mask_ = static_cast<uint32_t>(per_shard - 1);
    max_used_ = static_cast<uint32_t>(per_shard / 4 * 3);
    // calloc: the pages of a large table cost no memory until an address lands in them.
    slots_ = static_cast<Slot*>(std::calloc(kShards * per_shard, sizeof(Slot)));
    if (!slots_) throw std::bad_alloc();
    for (size_t i = 0; i < kShards; ++i)
        shards_[i].slots = slots_ + i * per_shard;
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) ^ rd();
}

size_t SourceConnLimit::open_bound(uint64_t configured) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        configured = std::min<uint64_t>(configured, rl.rlim_cur);
    return static_cast<size_t>(std::min<uint64_t>(configured, uint64_t{1} << 28));
}

SourceConnLimit::~SourceConnLimit() {
    std::free(slots_);
}

SourceConnLimit::Key SourceConnLimit::key_of(const PeerAddress& peer) const {
    Key k;
    std::memcpy(&k.hi, peer.bytes, 8);
    // IPv4 (mapped): the whole address; IPv6: its /64.
    if (peer.v4_mapped())
        std::memcpy(&k.lo, peer.bytes + 8, 8);
    else
        k.lo = 0;
    // Seeded, so that which addresses share a shard or a probe run is not known outside the process.
    k.hash = mix(mix(k.hi ^ seed_) ^ k.lo);
    return k;
}

SourceConnLimit::Slot* SourceConnLimit::find(Slot* slots, const Key& k) const {
    uint32_t i = static_cast<uint32_t>(k.hash) & mask_;
    // acquire() keeps a quarter of the shard empty, so this ends.
    while (slots[i].n != 0 && (slots[i].hi != k.hi || slots[i].lo != k.lo))
        i = (i + 1) & mask_;
    return &slots[i];
}

void SourceConnLimit::erase(Slot* slots, Slot* s) const {
    // Backward shift: each later entry of the run whose home is not between the hole and itself moves into the
    // hole, so every entry stays reachable from its home without tombstones.
    uint32_t hole = static_cast<uint32_t>(s - slots);
    for (uint32_t j = (hole + 1) & mask_; slots[j].n != 0; j = (j + 1) & mask_) {
        uint32_t home = slots[j].hash & mask_;
        // Distances along the probe direction (mod the shard's size).
        if (((j - home) & mask_) >= ((j - hole) & mask_)) {
            slots[hole] = slots[j];
            hole = j;
        }
    }
    slots[hole].n = 0;
}

SourceConnLimit::Admit SourceConnLimit::acquire(const PeerAddress& peer, uint32_t limit) {
    const Key k = key_of(peer);
    Shard& sh = shards_[k.hash >> 58];
    std::lock_guard lock(sh.mu);
    Slot* s = find(sh.slots, k);
    if (s->n != 0) {
        if (limit != 0 && s->n >= limit) return Admit::refused;
        ++s->n;
        return Admit::counted;
    }
    // A new address. Past three quarters of a shard probe runs grow long (and a full one would never end find()).
    if (sh.used >= max_used_) return Admit::uncounted;
    ++sh.used;
    s->hi = k.hi;
    s->lo = k.lo;
    s->hash = static_cast<uint32_t>(k.hash);
    s->n = 1;
    return Admit::counted;
}

void SourceConnLimit::release(const PeerAddress& peer) {
    const Key k = key_of(peer);
    Shard& sh = shards_[k.hash >> 58];
    std::lock_guard lock(sh.mu);
    Slot* s = find(sh.slots, k);
    if (s->n == 0) return; // not counted (or released too often: never below zero)
    if (--s->n != 0) return;
    erase(sh.slots, s);
    --sh.used;
}

uint32_t SourceConnLimit::count(const PeerAddress& peer) const {
    const Key k = key_of(peer);
    const Shard& sh = shards_[k.hash >> 58];
    std::lock_guard lock(sh.mu);
    return find(sh.slots, k)->n;
}

size_t SourceConnLimit::addresses() const {
    size_t n = 0;
    for (const Shard& sh : shards_) {
        std::lock_guard lock(sh.mu);
        n += sh.used;
    }
    return n;
}

} // namespace shared
