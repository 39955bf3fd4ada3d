// The glibc calls that Swift's Glibc module does not bring in: <malloc.h>'s mallopt and the
// GNU sync_file_range.
#ifndef C_GLIBC_EXTRAS_H
#define C_GLIBC_EXTRAS_H

#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#endif

#if defined(__GLIBC__) || defined(__linux__)
#include <features.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>

/// Sets glibc's mmap threshold (buffers this large or larger get a mapping of their own, returned
/// to the system when freed) and trim threshold, turning off the threshold's dynamic adjustment.
/// Returns 1 on success.
static inline int intake_malloc_set_thresholds(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}

/// Caps the number of glibc's allocation arenas (M_ARENA_MAX). Returns 1 on success.
static inline int intake_malloc_set_arena_max(int arenas) {
    return mallopt(M_ARENA_MAX, arenas);
}
#else
static inline int intake_malloc_set_arena_max(int arenas) {
    (void)arenas;
    return 0;
}
static inline int intake_malloc_set_thresholds(int mmap_threshold, int trim_threshold) {
    (void)mmap_threshold;
    (void)trim_threshold;
    return 0;
}
#endif

/// Starts the write-back of a file's octets [offset, offset + length) without waiting for it
/// (sync_file_range with SYNC_FILE_RANGE_WRITE), so that a later fsync has less to wait for.
/// It makes nothing durable by itself. Returns 0 on success; a no-op off Linux.
static inline int intake_start_writeback(int descriptor, long long offset, long long length) {
#if defined(__linux__)
    return sync_file_range(descriptor, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)descriptor;
    (void)offset;
    (void)length;
    return 0;
#endif
}

#endif
