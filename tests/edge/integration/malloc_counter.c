/* LD_PRELOAD allocation counter for it_hit_alloc.py: counts malloc/calloc/realloc/aligned allocations in every
 * thread; SIGUSR2 writes the count to $MALLOC_COUNT_FILE (async-signal-safe: open/write/close only).
 * Built by the test itself with `cc -shared -fPIC`, so the project's CMake files stay untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong g_count;
static void* (*real_malloc)(size_t);
static void* (*real_calloc)(size_t, size_t);
static void* (*real_realloc)(void*, size_t);
static int (*real_posix_memalign)(void**, size_t, size_t);
static void* (*real_aligned_alloc)(size_t, size_t);
static char g_boot[8192]; /* dlsym may calloc before real_calloc is known */
static size_t g_boot_used;

static void resolve(void) {
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
}

void* malloc(size_t n) {
    if (!real_malloc) resolve();
    atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
    return real_malloc(n);
}

void* calloc(size_t a, size_t b) {
    if (!real_calloc) {
        size_t n = (a * b + 15) & ~(size_t)15;
        if (g_boot_used + n <= sizeof g_boot) {
            void* p = g_boot + g_boot_used;
            g_boot_used += n;
            return p; /* zeroed static memory; never freed (free ignores it below) */
        }
        resolve();
    }
    atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
    return real_calloc(a, b);
}

void* realloc(void* p, size_t n) {
    if (!real_realloc) resolve();
    atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
    return real_realloc(p, n);
}

int posix_memalign(void** out, size_t align, size_t n) {
    if (!real_posix_memalign) resolve();
    atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
    return real_posix_memalign(out, align, n);
}

void* aligned_alloc(size_t align, size_t n) {
    if (!real_aligned_alloc) resolve();
    atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
    return real_aligned_alloc(align, n);
}

void free(void* p) {
    static void (*real_free)(void*);
    if ((char*)p >= g_boot && (char*)p < g_boot + sizeof g_boot) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

static void on_usr2(int sig) {
    (void)sig;
    const char* path = getenv("MALLOC_COUNT_FILE");
    if (!path) return;
    char buf[32];
    int i = sizeof buf;
    unsigned long v = atomic_load(&g_count);
    buf[--i] = '\n';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, buf + i, sizeof buf - (size_t)i);
    (void)w;
    close(fd);
}

__attribute__((constructor)) static void init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
}
