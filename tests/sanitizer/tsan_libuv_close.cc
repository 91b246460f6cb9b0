// Linked only into ThreadSanitizer builds. Debian's libuv (built without TSan) closes descriptors with
// syscall(SYS_close), which TSan does not intercept, so TSan never learns that a descriptor libuv accepted or
// opened on one thread was closed; when the kernel hands the same number to open() on another thread, TSan
// reports a data race on the descriptor that never happened. Routing SYS_close through close() lets TSan see
// every close (what libuv itself does when it is compiled with TSan), so no report has to be suppressed and a
// real race on a descriptor would still be found. The executable's definition interposes on libc's for libuv.
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>

extern "C" long syscall(long number, ...) noexcept {
    // syscall() takes at most six arguments and the x86-64/aarch64 ABIs pass them as longs; reading six is what
    // libc's own syscall() does, whatever the call passed.
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (long& x : a)
        x = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_close) return close(static_cast<int>(a[0]));
    using SyscallFn = long (*)(long, ...);
    static const auto real = reinterpret_cast<SyscallFn>(dlsym(RTLD_NEXT, "syscall"));
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
