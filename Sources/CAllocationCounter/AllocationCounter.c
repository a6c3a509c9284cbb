#ifdef __linux__
#define _GNU_SOURCE
#include <features.h>
#endif
#include "AllocationCounter.h"

#if defined(__linux__) && defined(__GLIBC__)
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic(int) watching = 0;
static _Atomic(pthread_t) watched;
static _Atomic(unsigned long) count = 0;
static _Atomic(int) interposed = 0;

static inline void note(void) {
    atomic_store_explicit(&interposed, 1, memory_order_relaxed);
    if (atomic_load_explicit(&watching, memory_order_relaxed)
        && pthread_equal(pthread_self(), atomic_load_explicit(&watched, memory_order_relaxed))) {
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    }
}

void *malloc(size_t size) { note(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { note(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { note(); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    note();
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

void pipps_allocation_watch_current_thread(void) {
    atomic_store(&watched, pthread_self());
    atomic_store(&count, 0);
    atomic_store(&watching, 1);
}
void pipps_allocation_unwatch(void) { atomic_store(&watching, 0); }
unsigned long pipps_allocation_count(void) { return atomic_load(&count); }
// Set by the first allocation of the process that reached the wrappers (the runtime's start-up
// makes many): if none did, another malloc won the symbol lookup.
int pipps_allocation_counting_available(void) { return atomic_load(&interposed); }
#else
void pipps_allocation_watch_current_thread(void) {}
void pipps_allocation_unwatch(void) {}
unsigned long pipps_allocation_count(void) { return 0; }
int pipps_allocation_counting_available(void) { return 0; }
#endif
