#ifndef PIPPS_ALLOCATION_COUNTER_H
#define PIPPS_ALLOCATION_COUNTER_H

/// Counts heap allocations made by one watched thread, for tests that check a code path allocates
/// nothing. Linking this target into an executable replaces malloc, calloc, realloc, memalign,
/// posix_memalign and aligned_alloc for the whole process with thin wrappers around glibc's own
/// allocator (`__libc_malloc` and friends); only calls made on the watched thread are counted.
///
/// With the environment variable `PIPPS_ALLOCATION_TRACE=1` (read when a thread is watched), the
/// call stacks of the first 16 counted allocations are kept, for `pipps_allocation_print_traces`.

/// Starts counting the calls of the calling thread (one watched thread at a time); resets the count
/// and the kept call stacks.
void pipps_allocation_watch_current_thread(void);
/// Stops counting.
void pipps_allocation_unwatch(void);
/// Allocation calls made by the watched thread since it was watched.
unsigned long pipps_allocation_count(void);
/// Whether the wrappers are the process's allocator (false where the platform offers no way to
/// interpose, in which case counts stay 0 and a test must not trust them).
int pipps_allocation_counting_available(void);
/// Whether call stacks are being kept (`PIPPS_ALLOCATION_TRACE` was set when the thread was watched).
int pipps_allocation_tracing(void);
/// Forgets the kept call stacks, so that the next counted allocations are kept.
void pipps_allocation_clear_traces(void);
/// Writes the kept call stacks (with `backtrace_symbols_fd`, which does not allocate) to `fd`;
/// returns how many there were.
int pipps_allocation_print_traces(int fd);

#endif
