#ifdef __linux__
#define _GNU_SOURCE
#include <features.h>
#endif
#include "AllocationCounter.h"

#if defined(__linux__) && defined(__GLIBC__)
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic(int) watching = 0;
static _Atomic(pthread_t) watched;
static _Atomic(unsigned long) count = 0;
static _Atomic(int) interposed = 0;

// Call stacks of the first counted allocations, kept when PIPPS_ALLOCATION_TRACE is set at the
// time the thread is watched. Written only by the watched thread; read after it has been unwatched
// (or by the watched thread itself).
enum { TRACE_SLOTS = 16, TRACE_DEPTH = 32 };
static int tracing = 0;
static __thread int inside_trace = 0;
static void *traces[TRACE_SLOTS][TRACE_DEPTH];
static int trace_depths[TRACE_SLOTS];
static size_t trace_sizes[TRACE_SLOTS];
static _Atomic(int) traces_kept = 0;

static inline void note(size_t size) {
    atomic_store_explicit(&interposed, 1, memory_order_relaxed);
    if (atomic_load_explicit(&watching, memory_order_relaxed)
        && pthread_equal(pthread_self(), atomic_load_explicit(&watched, memory_order_relaxed))) {
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
        if (tracing && !inside_trace) {
            int slot = atomic_load_explicit(&traces_kept, memory_order_relaxed);
            if (slot < TRACE_SLOTS) {
                inside_trace = 1;  // backtrace() may allocate; those calls are counted, not traced
                trace_depths[slot] = backtrace(traces[slot], TRACE_DEPTH);
                trace_sizes[slot] = size;
                atomic_store_explicit(&traces_kept, slot + 1, memory_order_release);
                inside_trace = 0;
            }
        }
    }
}

void *malloc(size_t size) { note(size); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { note(n * size); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { note(size); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { note(size); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { note(size); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    note(size);
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

void pipps_allocation_watch_current_thread(void) {
    const char *flag = getenv("PIPPS_ALLOCATION_TRACE");
    tracing = flag != NULL && flag[0] != '\0' && strcmp(flag, "0") != 0;
    if (tracing) {
        // The first backtrace() loads the unwinder (which allocates): do it before counting.
        void *warm[2];
        (void)backtrace(warm, 2);
    }
    atomic_store(&traces_kept, 0);
    atomic_store(&watched, pthread_self());
    atomic_store(&count, 0);
    atomic_store(&watching, 1);
}
void pipps_allocation_unwatch(void) { atomic_store(&watching, 0); }
unsigned long pipps_allocation_count(void) { return atomic_load(&count); }
// Set by the first allocation of the process that reached the wrappers (the runtime's start-up
// makes many): if none did, another malloc won the symbol lookup.
int pipps_allocation_counting_available(void) { return atomic_load(&interposed); }

int pipps_allocation_tracing(void) { return tracing; }

void pipps_allocation_clear_traces(void) { atomic_store(&traces_kept, 0); }

int pipps_allocation_print_traces(int fd) {
    int kept = atomic_load_explicit(&traces_kept, memory_order_acquire);
    for (int i = 0; i < kept; i++) {
        dprintf(fd, "allocation %d of %zu bytes, from:\n", i + 1, trace_sizes[i]);
        // Frame 0 is note(), frame 1 the wrapper: start at the caller.
        int skip = trace_depths[i] > 2 ? 2 : 0;
        backtrace_symbols_fd(traces[i] + skip, trace_depths[i] - skip, fd);
    }
    return kept;
}
#else
void pipps_allocation_watch_current_thread(void) {}
void pipps_allocation_unwatch(void) {}
unsigned long pipps_allocation_count(void) { return 0; }
int pipps_allocation_counting_available(void) { return 0; }
int pipps_allocation_tracing(void) { return 0; }
void pipps_allocation_clear_traces(void) {}
int pipps_allocation_print_traces(int fd) { (void)fd; return 0; }
#endif
