// The parts of glibc's <malloc.h> that Swift's Glibc module does not bring in.
#ifndef C_GLIBC_MALLOC_H
#define C_GLIBC_MALLOC_H

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
#else
static inline int intake_malloc_set_thresholds(int mmap_threshold, int trim_threshold) {
    (void)mmap_threshold;
    (void)trim_threshold;
    return 0;
}
#endif

#endif
