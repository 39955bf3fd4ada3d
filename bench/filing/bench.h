/*
 * Helpers shared by the filing benchmark's C programs (smtpload.c, syncfloor.c): a monotonic
 * clock, sleeping until a moment, sorting times, their percentiles, and the latency file. The
 * including file defines _GNU_SOURCE (or the POSIX macros) first, for clock_gettime and nanosleep.
 */
#ifndef INTAKE_BENCH_H
#define INTAKE_BENCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until `t` on that clock (at once when it has passed). */
static inline void sleep_until(double t) {
    double d = t - now();
    if (d <= 0) return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static inline int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile of n sorted times in seconds, in ms (nearest rank); 0 when n is 0. */
static inline double percentile_ms(const double *sorted, size_t n, double p) {
    return n ? sorted[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)] * 1000 : 0.0;
}

/* Appends n times in seconds to `path`, in ms, one per line; 0, or -1 with errno set. */
static inline int append_latencies(const char *path, const double *times, size_t n) {
    FILE *f = fopen(path, "a");
    if (!f) return -1;
    for (size_t i = 0; i < n; i++) fprintf(f, "%.3f\n", times[i] * 1000);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) return -1;
    return 0;
}

#endif
