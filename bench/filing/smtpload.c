/*
 * smtpload: an SMTP load client for the filing benchmark (see README.md beside this file).
 *
 * Like Postfix's smtp-source -d (N sessions in parallel, each reusing its connection, no
 * pipelining: one round trip per command), but every message is made from a template in which
 * each occurrence of the 24-character marker @@@@@@@UNIQUE-ID@@@@@@@@ is replaced by a 24-hex-digit
 * id unique to the message, so that each message has its own Message-ID (and content). It also
 * times, for every message, the interval from sending the final "." to receiving the reply.
 *
 *   smtpload -p PORT -t TEMPLATE -f FROM -r RCPT [-h 127.0.0.1] [-s SESSIONS] [-d SECONDS]
 *            [-m MAX_MESSAGES] [-R RATE] [-i RUN_ID] [-L LATENCY_FILE]
 *
 * -d: sessions start no new message after SECONDS (default 5); -m: stop after this many messages
 * in all; -R: open loop at RATE messages/s in all (message k is not started before start + k/RATE),
 * default: closed loop, as fast as the server answers; -i: 8 hex digits that start every id
 * (default: from the clock and the process id); -L: once the sessions have ended, append every
 * message's end-of-data-to-reply time to this file, in ms, one per line (so that several runs can
 * be pooled).
 *
 * Prints one line: messages= errors= seconds= rate= p50_ms= p90_ms= p99_ms= max_ms=
 * Any reply other than the expected one (220, 250, 354, 250) is an error: it is printed to stderr,
 * the session stops, and the exit status is 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MARKER "@@@@@@@UNIQUE-ID@@@@@@@@"
#define MARKER_LEN 24

static const char *host = "127.0.0.1", *from_addr, *rcpt_addr, *template_path;
static int port, sessions = 20;
static double seconds = 5, rate = 0;
static long max_messages = 0;
static uint32_t run_id;
static const char *latency_path;

static char *body;         /* template: CRLF lines, dot-stuffed, ends with CRLF */
static size_t body_len;
static size_t *marks;      /* offsets of the markers in body */
static size_t nmarks;

static atomic_long next_slot;      /* messages started (claimed) */
static atomic_long total_done, total_errors;
static double start_time, deadline;
static pthread_barrier_t ready, go;

struct session {
    int index, fd;
    char buf[8192];
    size_t have;
    double *lat;
    size_t nlat, cap;
    double end;
    char *msg;
};

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one reply (all its lines); returns its code, or -1. The last line is left in s->buf's
 * copy `last` for error messages. */
static int read_reply(struct session *s, char *last, size_t lastsz) {
    for (;;) {
        char *nl = memchr(s->buf, '\n', s->have);
        if (nl) {
            size_t len = (size_t)(nl - s->buf) + 1;
            int final = len >= 4 && s->buf[3] != '-';
            int code = atoi(s->buf);
            if (final && last) {
                size_t c = len < lastsz ? len : lastsz - 1;
                memcpy(last, s->buf, c);
                last[c] = 0;
            }
            memmove(s->buf, s->buf + len, s->have - len);
            s->have -= len;
            if (final) return code;
            continue;
        }
        if (s->have == sizeof s->buf) return -1;
        ssize_t r = read(s->fd, s->buf + s->have, sizeof s->buf - s->have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        s->have += (size_t)r;
    }
}

static int command(struct session *s, const char *line, int expect, const char *what) {
    char last[512];
    if (line && write_all(s->fd, line, strlen(line)) < 0) {
        fprintf(stderr, "session %d: write failed at %s: %s\n", s->index, what, strerror(errno));
        return -1;
    }
    int code = read_reply(s, last, sizeof last);
    if (code != expect) {
        if (code < 0)
            fprintf(stderr, "session %d: connection lost at %s\n", s->index, what);
        else
            fprintf(stderr, "session %d: unexpected reply at %s: %s", s->index, what, last);
        return -1;
    }
    return 0;
}

static void *run_session(void *arg) {
    struct session *s = arg;
    char mail[1024], rcpt[1024], id[MARKER_LEN + 1];
    int ok = 1;
    snprintf(mail, sizeof mail, "MAIL FROM:<%s>\r\n", from_addr);
    snprintf(rcpt, sizeof rcpt, "RCPT TO:<%s>\r\n", rcpt_addr);
    s->msg = malloc(body_len);
    memcpy(s->msg, body, body_len);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "session %d: connect: %s\n", s->index, strerror(errno));
        ok = 0;
    }
    if (ok && command(s, NULL, 220, "greeting") < 0) ok = 0;
    if (ok && command(s, "EHLO bench.example\r\n", 250, "EHLO") < 0) ok = 0;
    if (!ok) atomic_fetch_add(&total_errors, 1);
    pthread_barrier_wait(&ready);   /* the clock starts when every session has said EHLO */
    pthread_barrier_wait(&go);

    uint64_t seq = 0;
    while (ok) {
        if (now() >= deadline) break;
        long slot = atomic_fetch_add(&next_slot, 1);
        if (max_messages > 0 && slot >= max_messages) break;
        if (rate > 0) {
            sleep_until(start_time + slot / rate);
            if (now() >= deadline) break;
        }
        snprintf(id, sizeof id, "%08x%04x%012llx", run_id, (unsigned)s->index & 0xffff,
                 (unsigned long long)seq++);
        for (size_t k = 0; k < nmarks; k++) memcpy(s->msg + marks[k], id, MARKER_LEN);
        if (command(s, mail, 250, "MAIL") < 0 || command(s, rcpt, 250, "RCPT") < 0 ||
            command(s, "DATA\r\n", 354, "DATA") < 0) {
            ok = 0;
            break;
        }
        if (write_all(s->fd, s->msg, body_len) < 0) {
            fprintf(stderr, "session %d: write failed in the body: %s\n", s->index, strerror(errno));
            ok = 0;
            break;
        }
        double t0 = now();
        if (command(s, ".\r\n", 250, "end of data") < 0) {
            ok = 0;
            break;
        }
        double t1 = now();
        if (s->nlat == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 1024;
            s->lat = realloc(s->lat, s->cap * sizeof *s->lat);
        }
        s->lat[s->nlat++] = t1 - t0;
        atomic_fetch_add(&total_done, 1);
    }
    s->end = now();
    if (!ok) atomic_fetch_add(&total_errors, 1);
    else command(s, "QUIT\r\n", 221, "QUIT");
    close(s->fd);
    return NULL;
}

/* Reads the template, turns bare LF into CRLF, dot-stuffs, and finds the markers. */
static void load_template(void) {
    FILE *f = fopen(template_path, "rb");
    if (!f) { perror(template_path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *raw = malloc((size_t)n + 1);
    if (fread(raw, 1, (size_t)n, f) != (size_t)n) { perror("read"); exit(2); }
    fclose(f);
    body = malloc((size_t)n * 2 + 4);
    size_t o = 0;
    int bol = 1;
    for (long i = 0; i < n; i++) {
        char c = raw[i];
        if (bol && c == '.') body[o++] = '.';
        bol = 0;
        if (c == '\r' && i + 1 < n && raw[i + 1] == '\n') continue;   /* the \n below adds CRLF */
        if (c == '\n') {
            body[o++] = '\r';
            body[o++] = '\n';
            bol = 1;
            continue;
        }
        body[o++] = c;
    }
    if (!bol) { body[o++] = '\r'; body[o++] = '\n'; }
    body_len = o;
    free(raw);
    marks = malloc(sizeof *marks * (body_len / MARKER_LEN + 1));
    for (char *p = body; (p = memmem(p, body_len - (size_t)(p - body), MARKER, MARKER_LEN)); p += MARKER_LEN)
        marks[nmarks++] = (size_t)(p - body);
    if (nmarks == 0) {
        fprintf(stderr, "%s: no marker %s: every message would be the same\n", template_path, MARKER);
        exit(2);
    }
}

int main(int argc, char **argv) {
    int opt;
    run_id = (uint32_t)(time(NULL) * 2654435761u) ^ (uint32_t)getpid() << 16 ^ (uint32_t)(now() * 1e6);
    while ((opt = getopt(argc, argv, "h:p:s:d:m:R:t:f:r:i:L:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 's': sessions = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'm': max_messages = atol(optarg); break;
        case 'R': rate = atof(optarg); break;
        case 't': template_path = optarg; break;
        case 'f': from_addr = optarg; break;
        case 'r': rcpt_addr = optarg; break;
        case 'i': run_id = (uint32_t)strtoul(optarg, NULL, 16); break;
        case 'L': latency_path = optarg; break;
        default:
            fprintf(stderr, "usage: %s -p PORT -t TEMPLATE -f FROM -r RCPT [-h HOST] [-s N] [-d S] [-m N] [-R RATE] [-i HEX] [-L FILE]\n", argv[0]);
            return 2;
        }
    }
    if (!port || !template_path || !from_addr || !rcpt_addr || sessions < 1) {
        fprintf(stderr, "-p, -t, -f and -r are required\n");
        return 2;
    }
    load_template();
    struct session *ss = calloc((size_t)sessions, sizeof *ss);
    pthread_t *th = calloc((size_t)sessions, sizeof *th);
    pthread_barrier_init(&ready, NULL, (unsigned)sessions + 1);
    pthread_barrier_init(&go, NULL, (unsigned)sessions + 1);
    for (int i = 0; i < sessions; i++) {
        ss[i].index = i;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_create(&th[i], &attr, run_session, &ss[i]);
    }
    pthread_barrier_wait(&ready);
    start_time = now();   /* the sessions read start_time and deadline only after `go` */
    deadline = start_time + seconds;
    pthread_barrier_wait(&go);
    double end = start_time;
    size_t n = 0;
    for (int i = 0; i < sessions; i++) {
        pthread_join(th[i], NULL);
        if (ss[i].end > end) end = ss[i].end;
        n += ss[i].nlat;
    }
    double *all = malloc((n + 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < sessions; i++) {
        memcpy(all + k, ss[i].lat, ss[i].nlat * sizeof *all);
        k += ss[i].nlat;
    }
    qsort(all, n, sizeof *all, compare_doubles);
    if (latency_path && append_latencies(latency_path, all, n) != 0) {
        perror(latency_path);
        return 2;
    }
#define PCT(p) percentile_ms(all, n, p)
    double elapsed = end - start_time;
    printf("messages=%zu errors=%ld seconds=%.3f rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f bytes=%zu\n",
           n, atomic_load(&total_errors), elapsed, elapsed > 0 ? n / elapsed : 0.0, PCT(50), PCT(90), PCT(99),
           n ? all[n - 1] * 1000 : 0.0, body_len);
    return atomic_load(&total_errors) ? 1 : 0;
}
