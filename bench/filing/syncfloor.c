/*
 * syncfloor: the disk's own floor under a durable reply (see README.md beside this file).
 *
 * Messages "arrive" open loop at RATE per second, as smtpload -R sends them; one thread makes
 * them durable as a group commit does, with no other work: it takes every message that has
 * arrived (up to 256, and 64 MiB, at a time), writes BYTES octets for each after what it wrote
 * before, in FOLDER/syncfloor.data (64 MiB written through when the file is first made, and kept
 * for the next runs, so that writes overwrite allocated blocks as in a WAL that has started
 * over), calls fdatasync, and counts each message's time from its arrival to the sync's return.
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
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define FILE_SIZE (64L << 20)
#define MAX_BATCH 256L

static long bytes_per_message, total, max_batch;
static int fd;
static double *arrived, *latency, *sync_times;
static long syncs;
static unsigned char *buffer;

/* How many messages have arrived; the committer waits on `arrival` while it has taken them all. */
static long published;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrival = PTHREAD_COND_INITIALIZER;

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
        pthread_mutex_lock(&lock);
        while (published == done) pthread_cond_wait(&arrival, &lock);
        long ready = published;
        pthread_mutex_unlock(&lock);
        long batch = ready - done < max_batch ? ready - done : max_batch;
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

int main(int argc, char **argv) {
    const char *folder = NULL, *latency_path = NULL;
    double rate = 0, duration = 0;
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
    if (!isfinite(rate) || !isfinite(duration) || rate <= 0 || duration <= 0 || rate * duration > 1e8 ||
        bytes_per_message <= 0 || bytes_per_message > FILE_SIZE || !folder) {
        fprintf(stderr, "usage: syncfloor -R RATE -d SECONDS -b BYTES (at most %ld) -f FOLDER [-L FILE]\n", FILE_SIZE);
        return 2;
    }
    max_batch = FILE_SIZE / bytes_per_message < MAX_BATCH ? FILE_SIZE / bytes_per_message : MAX_BATCH;

    char path[4096];
    snprintf(path, sizeof path, "%s/syncfloor.data", folder);
    fd = open(path, O_CREAT | O_RDWR, 0600);
    if (fd < 0) fail(path);
    struct stat st;
    if (fstat(fd, &st) != 0) fail(path);
    if (st.st_size < FILE_SIZE) {
        unsigned char *zeros = calloc(1, 1 << 20);
        if (!zeros) fail("calloc");
        for (off_t at = 0; at < FILE_SIZE; at += 1 << 20) write_all(zeros, 1 << 20, at);
        if (fsync(fd) != 0) fail("fsync");
        free(zeros);
    }
    buffer = malloc((size_t)(bytes_per_message * max_batch));
    if (!buffer) fail("malloc");
    memset(buffer, 'x', (size_t)(bytes_per_message * max_batch));

    total = (long)(rate * duration);
    arrived = calloc((size_t)total + 1, sizeof *arrived);
    latency = calloc((size_t)total + 1, sizeof *latency);
    sync_times = calloc((size_t)total + 1, sizeof *sync_times);
    if (!arrived || !latency || !sync_times) fail("calloc");

    pthread_t thread;
    if (pthread_create(&thread, NULL, committer, NULL) != 0) fail("pthread_create");
    double start = now();
    for (long i = 0; i < total; i++) {
        sleep_until(start + (double)i / rate);
        pthread_mutex_lock(&lock);
        arrived[i] = now();
        published = i + 1;
        pthread_cond_signal(&arrival);
        pthread_mutex_unlock(&lock);
    }
    pthread_join(thread, NULL);
    double elapsed = now() - start;
    close(fd);

    if (latency_path && append_latencies(latency_path, latency, (size_t)total) != 0) fail(latency_path);
    qsort(latency, (size_t)total, sizeof *latency, compare_doubles);
    qsort(sync_times, (size_t)syncs, sizeof *sync_times, compare_doubles);
    size_t n = (size_t)total, m = (size_t)syncs;
    printf("messages=%ld seconds=%.3f rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f syncs=%ld "
           "sync_p50_ms=%.3f sync_p99_ms=%.3f sync_max_ms=%.3f\n",
           total, elapsed, (double)total / elapsed, percentile_ms(latency, n, 50), percentile_ms(latency, n, 90),
           percentile_ms(latency, n, 99), percentile_ms(latency, n, 100), syncs, percentile_ms(sync_times, m, 50),
           percentile_ms(sync_times, m, 99), percentile_ms(sync_times, m, 100));
    return 0;
}
