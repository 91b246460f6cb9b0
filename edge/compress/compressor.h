// The codecs: a complete body compressed in one go with zlib (gzip framing) or libbrotlienc.
//
// Runs on libuv's threadpool (see variant_job.h), never on a worker loop: a 10 MB body takes a noticeable fraction of
// a second. Stateless between calls; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "edge/cache/body_buffer.h"
#include "edge/compress/content_coding.h"

namespace edge {

// Defaults (measured in conf/README.md): brotli 5 compresses better than gzip -9 at about gzip -6's speed; quality 11
// is another 10-30% smaller but 35-65x slower, which only pays for files compressed ahead of time, not while a viewer
// waits. gzip 6 is zlib's own default, past which each level costs much more time for well under 1% smaller output.
inline constexpr int kDefaultBrotliQuality = 5;
inline constexpr int kDefaultGzipLevel = 6;

// Compresses all of `in` (which must not grow meanwhile) with `c` (gzip or br) at `level` (brotli quality 0-11,
// gzip level 1-9) into *out (replaced). Returns false on a codec error, and gives up (false) as soon as the output
// reaches `give_up_at` bytes: a variant that is not smaller than the identity body is never used.
bool compress_body(ContentCoding c, int level, const BodyBuffer& in, uint64_t give_up_at, std::string* out);

} // namespace edge
