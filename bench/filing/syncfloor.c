/*
 * syncfloor: the disk's own floor under a durable reply (see README.md beside this file).
 *
 * Messages "arrive" open loop at RATE per second, as smtpload -R sends them; one thread makes them
 * durable as a group commit does, with no other work: it takes every message that has arrived,
 * writes BYTES octets for each (up to 256 messages, and 64 MiB, a batch) at the end of what it wrote before (in a file written through once
 * beforehand, so that later writes overwrite allocated blocks, as a WAL that has started over
 * does), calls fdatasync, and counts each message's time from its arrival to the sync's return.
 * No server that syncs before it replies can answer sooner on the same disk, so intaked's
 * end-of-data-to-250 times are read beside these, measured in the same run.
 *
 *   syncfloor -R RATE -d SECONDS -b BYTES -f FOLDER [-L LATENCY_FILE]
 *
 * -L: append every message's time in ms to this file, one per line (as smtpload -L).
 * Prints one line: messages= seconds= rate= p50_ms= p90_ms= p99_ms= max_ms= syncs= sync_p50_ms=
 * sync_p99_ms= sync_max_ms=
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (64L << 20)
#define MAX_BATCH 256
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static double rate, duration;
static long bytes_per_message, total, max_batch;
static int fd;
static double *arrived, *latency, *sync_times;
static atomic_long published;
static long syncs;
static unsigned char *buffer;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fail(const char *what) {
    fprintf(stderr, "syncfloor: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void write_all(const unsigned char *data, size_t length, off_t offset) {
    while (length > 0) {
        ssize_t n = pwrite(fd, data, length, offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("pwrite");
        }
        data += n;
        length -= (size_t)n;
        offset += n;
    }
}

static void *committer(void *unused) {
    (void)unused;
    long done = 0;
    off_t offset = 0;
    while (done < total) {
        long ready = atomic_load(&published);
        if (ready == done) {
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
            continue;
        }
        long batch = MIN(ready - done, max_batch);
        size_t length = (size_t)(bytes_per_message * batch);
        if (offset + (off_t)length > FILE_SIZE) offset = 0;
        write_all(buffer, length, offset);
        offset += (off_t)length;
        double start = now();
        if (fdatasync(fd) != 0) fail("fdatasync");
        double end = now();
        sync_times[syncs++] = end - start;
        for (long i = done; i < done + batch; i++) latency[i] = end - arrived[i];
        done += batch;
    }
    return NULL;
}

#define PCT(a, n, p) ((n) ? (a)[(size_t)((double)(p) / 100.0 * (double)((n) - 1) + 0.5)] * 1000 : 0.0)

int main(int argc, char **argv) {
    const char *folder = NULL, *latency_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "R:d:b:f:L:")) != -1) {
        switch (opt) {
        case 'R': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'b': bytes_per_message = atol(optarg); break;
        case 'f': folder = optarg; break;
        case 'L': latency_path = optarg; break;
        default: return 2;
        }
    }
    if (rate <= 0 || duration <= 0 || bytes_per_message <= 0 || bytes_per_message > FILE_SIZE || !folder) {
        fprintf(stderr, "usage: syncfloor -R RATE -d SECONDS -b BYTES (at most %ld) -f FOLDER [-L FILE]\n", FILE_SIZE);
        return 2;
    }
    max_batch = MIN(MAX_BATCH, FILE_SIZE / bytes_per_message);
    char path[4096];
    snprintf(path, sizeof path, "%s/syncfloor.%d", folder, (int)getpid());
    fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0) fail(path);
    buffer = malloc((size_t)(bytes_per_message * max_batch));
    unsigned char *zeros = calloc(1, 1 << 20);
    if (!buffer || !zeros) fail("malloc");
    memset(buffer, 'x', (size_t)(bytes_per_message * max_batch));
    for (off_t at = 0; at < FILE_SIZE; at += 1 << 20) write_all(zeros, 1 << 20, at);
    if (fsync(fd) != 0) fail("fsync");

    total = (long)(rate * duration);
    arrived = calloc((size_t)total + 1, sizeof *arrived);
    latency = calloc((size_t)total + 1, sizeof *latency);
    sync_times = calloc((size_t)total + 1, sizeof *sync_times);
    if (!arrived || !latency || !sync_times) fail("calloc");

    pthread_t thread;
    if (pthread_create(&thread, NULL, committer, NULL) != 0) fail("pthread_create");
    double start = now();
    for (long i = 0; i < total; i++) {
        double due = start + (double)i / rate, wait;
        while ((wait = due - now()) > 0) {
            struct timespec pause = {0, (long)(wait * 1e9 / 2) + 1000};
            nanosleep(&pause, NULL);
        }
        arrived[i] = now();
        atomic_store(&published, i + 1);
    }
    pthread_join(thread, NULL);
    double elapsed = now() - start;
    unlink(path);

    if (latency_path) {
        FILE *f = fopen(latency_path, "a");
        if (!f) fail(latency_path);
        for (long i = 0; i < total; i++) fprintf(f, "%.3f\n", latency[i] * 1000);
        if (ferror(f) | fclose(f)) fail(latency_path);
    }
    qsort(latency, (size_t)total, sizeof *latency, by_value);
    qsort(sync_times, (size_t)syncs, sizeof *sync_times, by_value);
    printf("messages=%ld seconds=%.3f rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f syncs=%ld "
           "sync_p50_ms=%.3f sync_p99_ms=%.3f sync_max_ms=%.3f\n",
           total, elapsed, (double)total / elapsed, PCT(latency, total, 50), PCT(latency, total, 90),
           PCT(latency, total, 99), total ? latency[total - 1] * 1000 : 0.0, syncs, PCT(sync_times, syncs, 50),
           PCT(sync_times, syncs, 99), syncs ? sync_times[syncs - 1] * 1000 : 0.0);
    return 0;
}
