#include <catch2/catch.hpp>

#include "shared/process/malloc_tunables.h"

TEST_CASE("malloc tunables are added when transparent huge pages can be had", "[shared][process]") {
    const std::string want = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864";
    CHECK(shared::malloc_tunables_for(nullptr, "always [madvise] never") == want);
    CHECK(shared::malloc_tunables_for(nullptr, "[always] madvise never") == want);
    CHECK(shared::malloc_tunables_for("", "always [madvise] never") == want);
    // The operator's other tunables are kept, ours go after them.
    CHECK(shared::malloc_tunables_for("glibc.malloc.arena_max=2", "always [madvise] never") ==
          "glibc.malloc.arena_max=2:" + want);
}

TEST_CASE("malloc tunables are left alone when huge pages are off or the operator chose", "[shared][process]") {
    CHECK(shared::malloc_tunables_for(nullptr, "always madvise [never]").empty());
    CHECK(shared::malloc_tunables_for(nullptr, "").empty()); // no THP support in the kernel
    CHECK(shared::malloc_tunables_for("glibc.malloc.hugetlb=0", "always [madvise] never").empty());
    CHECK(shared::malloc_tunables_for("glibc.malloc.arena_max=2:glibc.malloc.top_pad=0", "[always] madvise never")
              .empty());
}
