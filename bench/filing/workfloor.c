/*
 * workfloor: the least work a dropbox server must do for a message before its 250, with nothing
 * else, as a floor under intaked's end-of-data-to-250 time (see README.md beside this file).
 *
 * It answers smtpload's dialogue (220, EHLO, MAIL, RCPT, DATA, the body, QUIT) on 127.0.0.1, a
 * thread per connection, and for each message does only what issue 3 requires of every server:
 *   - as the body arrives, in reads of 256 KiB at most, on the session's thread: a write of it
 *     into the session's own region of FOLDER/workfloor.data (so that the message is kept), with
 *     the kernel's write-back started every WRITEBACK octets (-w, default 512 KiB, 0 for never),
 *     and with -m its SHA-256 (OpenSSL's EVP, which uses the CPU's SHA instructions), as a server
 *     that keeps the raw message as a content-addressed file must do; one that keeps it in its
 *     database needs no digest of a message that has a Message-ID, so without -m there is none;
 *   - on a second thread of the session, handed each read before the first thread writes it:
 *     the base64 content of the first part with "Content-Transfer-Encoding: base64", decoded
 *     with a table and hashed with SHA-256 (attachments are content-addressed);
 *   - at the end of data (the body ends with CRLF.CRLF): the write-back of the rest started and
 *     an fdatasync of the file asked for at once (one thread syncs for every message that has
 *     asked by the time a sync starts: a group commit), while the digests end; "250" once both
 *     digests have ended and a sync that started after the ask has returned.
 * It does not unstuff dots, check lines or headers, parse MIME beyond finding that part, look up
 * or file anything, or commit a database (for a server that keeps the message in a file, a
 * second write and sync), and it takes any message. So no server that keeps the message and
 * digests its attachment before its 250 can answer sooner on this machine, nor with -m one that
 * also addresses the message by its digest; the client's clock (smtpload -L) is the one to compare.
 *
 * With -d, the floor of a server that keeps the message in its database instead (which the issue
 * allows): nothing is written while the body arrives, and at the end of data the whole message
 * and 16 pages (a note's rows) are written at once, as a commit writes them into the WAL, before
 * the group sync; no digest of the message.
 *
 * With -s, that server with SQLite itself: at the end of data the message goes to one writer
 * thread, which inserts every waiting message (the octets as a blob, and a row for its note) in
 * one transaction of FOLDER/workfloor.sqlite (WAL, synchronous=FULL, pages of -P octets, 4096 by
 * default), its frames written with one call per commit as intaked writes them (its
 * CSQLiteWALBuffer.c, compiled in with -DWAL_BUFFER), and "250" once that commit has returned. A
 * thread of its own copies the WAL back into the database (PASSIVE checkpoints) once it holds
 * 16 MiB, as intaked does beside its writer. No digest of the message.
 *
 *   workfloor -p PORT -f FOLDER [-w WRITEBACK] [-m | -d | -s [-P PAGE_SIZE]]   # until killed
 *
 * A message over 4 MiB gets 552 and ends the session; a connection lost mid-body ends it too. The
 * file (none with -s) is written through once when first made (128 MiB: 4 MiB for each of 32
 * sessions) and kept, so that writes overwrite allocated blocks.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MESSAGE (4L << 20)
#define MAX_SESSIONS 32
#define READ_STEP (256L << 10)

static int data_fd;
static long writeback_step = 512L << 10;
static int digest_message;
static int keep_at_end;   /* -d: the message kept as a database would keep it */
static int keep_in_sqlite;   /* -s: the message kept in a SQLite database */
static int page_size = 4096;
static sqlite3 *writer, *checkpointer;
static sqlite3_stmt *insert_message, *insert_note;
static unsigned char base64_value[256];

/* The group commit: `ended` messages have asked for a sync, `synced` are covered by one. */
static long ended, synced;
static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t commit_wanted = PTHREAD_COND_INITIALIZER, commit_done = PTHREAD_COND_INITIALIZER;

/* One connection, and the attachment thread's view of its message. */
struct session {
    int fd, slot;
    unsigned char *body;
    EVP_MD_CTX *sha;    /* the message's digest */
    char line[4096];
    size_t line_have;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t available;   /* octets of the body received so far */
    int receiving;      /* a message's body is arriving */
    int ended;          /* its end of data has been received */
    int digested;       /* the attachment thread has finished with it */
    int quit;
    struct session *next_to_commit;   /* -s: the writer's queue */
    size_t commit_octets;             /* -s: the message's octets, for the writer */
};

static void fail(const char *what) {
    fprintf(stderr, "workfloor: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int send_line(int fd, const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        text += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one command line (up to CRLF) into s->line; its length, or -1 when the peer has gone. */
static long read_command(struct session *s) {
    for (;;) {
        char *end = memmem(s->line, s->line_have, "\r\n", 2);
        if (end) return end - s->line;
        if (s->line_have == sizeof s->line) return -1;
        ssize_t r = read(s->fd, s->line + s->line_have, sizeof s->line - s->line_have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        s->line_have += (size_t)r;
    }
}

static void drop_command(struct session *s, long length) {
    size_t used = (size_t)length + 2;
    memmove(s->line, s->line + used, s->line_have - used);
    s->line_have -= used;
}

/* Decodes base64 from in[0..<n] into out, carrying a partial quantum in bits and count; stops at
 * the first '-' or '=' (the end of the content: a boundary line or the padding), writes the
 * octets of a partial last quantum, and sets *done. Returns the octets written. */
static size_t decode(const unsigned char *in, size_t n, unsigned char *out, unsigned *bits,
                     int *count, int *done) {
    size_t o = 0, i = 0;
    while (i < n) {
        if (*count == 0 && i + 4 <= n) {
            unsigned a = base64_value[in[i]], b = base64_value[in[i + 1]];
            unsigned c = base64_value[in[i + 2]], d = base64_value[in[i + 3]];
            if (((a | b | c | d) & 0x80) == 0) {
                unsigned w = a << 18 | b << 12 | c << 6 | d;
                out[o] = (unsigned char)(w >> 16);
                out[o + 1] = (unsigned char)(w >> 8);
                out[o + 2] = (unsigned char)w;
                o += 3;
                i += 4;
                continue;
            }
        }
        unsigned char ch = in[i++];
        if (ch == '-' || ch == '=') {
            if (*count == 2) {
                out[o++] = (unsigned char)(*bits >> 4);
            } else if (*count == 3) {
                out[o++] = (unsigned char)(*bits >> 10);
                out[o++] = (unsigned char)(*bits >> 2);
            }
            *done = 1;
            return o;
        }
        unsigned x = base64_value[ch];
        if (x & 0x80) continue;
        *bits = *bits << 6 | x;
        if (++*count == 4) {
            out[o++] = (unsigned char)(*bits >> 16);
            out[o++] = (unsigned char)(*bits >> 8);
            out[o++] = (unsigned char)*bits;
            *count = 0;
            *bits = 0;
        }
    }
    return o;
}

/* The attachment thread: decodes and hashes the base64 part of each message as it arrives. It
 * leaves a message when the message has ended and it has taken all of it, or the session has
 * ended (quit), and itself on quit. */
static void *attachment_thread(void *arg) {
    struct session *s = arg;
    static const char marker[] = "Content-Transfer-Encoding: base64";
    unsigned char *decoded = malloc(MAX_MESSAGE), digest[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    if (!decoded || !sha) fail("malloc");
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->quit && !(s->receiving && !s->digested)) pthread_cond_wait(&s->changed, &s->lock);
        int quit = s->quit;
        pthread_mutex_unlock(&s->lock);
        if (quit) break;
        EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
        size_t position = 0;
        int found = 0, done = 0, count = 0, ended_now = 0;
        unsigned bits = 0;
        while (!ended_now) {
            pthread_mutex_lock(&s->lock);
            while (s->available == position && !s->ended && !s->quit) pthread_cond_wait(&s->changed, &s->lock);
            size_t available = s->available;
            ended_now = s->ended;
            quit = s->quit;
            pthread_mutex_unlock(&s->lock);
            if (quit) break;
            if (!found) {
                unsigned char *m = memmem(s->body, available, marker, sizeof marker - 1);
                unsigned char *h = m ? memmem(m, available - (size_t)(m - s->body), "\r\n\r\n", 4) : NULL;
                if (h) {
                    found = 1;
                    position = (size_t)(h - s->body) + 4;
                }
            }
            if (found && !done && available > position) {
                size_t n = decode(s->body + position, available - position, decoded, &bits, &count, &done);
                EVP_DigestUpdate(sha, decoded, n);
            }
            position = available;
        }
        if (quit) break;
        EVP_DigestFinal_ex(sha, digest, NULL);
        pthread_mutex_lock(&s->lock);
        s->digested = 1;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
    }
    free(decoded);
    EVP_MD_CTX_free(sha);
    return NULL;
}

/* Asks for a group fdatasync that starts after this call; returns the ticket to wait for. */
static long ask_for_sync(void) {
    pthread_mutex_lock(&commit_lock);
    long ticket = ++ended;
    pthread_cond_signal(&commit_wanted);
    pthread_mutex_unlock(&commit_lock);
    return ticket;
}

/* -s: the sessions whose messages wait for the writer, in order of arrival. */
static struct session *to_commit_first, *to_commit_last;

/* Queues the session's message (its first `octets` of body) for the writer; returns the ticket
 * to wait for. */
static long ask_for_commit(struct session *s, size_t octets) {
    pthread_mutex_lock(&commit_lock);
    s->next_to_commit = NULL;
    s->commit_octets = octets;
    if (to_commit_last) to_commit_last->next_to_commit = s;
    else to_commit_first = s;
    to_commit_last = s;
    long ticket = ++ended;
    pthread_cond_signal(&commit_wanted);
    pthread_mutex_unlock(&commit_lock);
    return ticket;
}

static void sqlite_fail(const char *what) {
    fprintf(stderr, "workfloor: %s: %s\n", what, sqlite3_errmsg(writer));
    exit(2);
}

static void exec(sqlite3 *db, const char *sql) {
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        fprintf(stderr, "workfloor: %s: %s\n", sql, message);
        exit(2);
    }
}

static pthread_cond_t checkpoint_wanted = PTHREAD_COND_INITIALIZER;
static long wal_frames;   /* frames in the WAL, as the last commit left it */
static long wal_commits;  /* commits so far */

/* Copies the WAL back into the database once it holds 16 MiB, trying again after the next commit
 * when a checkpoint could not copy it all. */
static void *checkpoint_thread(void *arg) {
    (void)arg;
    long tried_at = -1;
    pthread_mutex_lock(&commit_lock);
    for (;;) {
        while (wal_commits == tried_at || wal_frames * page_size < (16L << 20))
            pthread_cond_wait(&checkpoint_wanted, &commit_lock);
        tried_at = wal_commits;
        pthread_mutex_unlock(&commit_lock);
        sqlite3_wal_checkpoint_v2(checkpointer, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&commit_lock);
    }
    return NULL;
}

static int count_frames(void *arg, sqlite3 *db, const char *name, int frames) {
    (void)arg; (void)db; (void)name;
    pthread_mutex_lock(&commit_lock);
    wal_frames = frames;
    wal_commits++;
    pthread_cond_signal(&checkpoint_wanted);
    pthread_mutex_unlock(&commit_lock);
    return SQLITE_OK;
}

/* -s: the writer. Inserts every waiting message in one transaction, commits (the WAL synced), and
 * lets their sessions answer. */
static void *sqlite_writer_thread(void *arg) {
    (void)arg;
    static const char note[] = "Thanks for the call today. As agreed, the quotation for the second phase is attached; "
                               "the figures are in the table on page two. Let me know if anything is unclear.";
    pthread_mutex_lock(&commit_lock);
    for (;;) {
        while (!to_commit_first) pthread_cond_wait(&commit_wanted, &commit_lock);
        struct session *first = to_commit_first;
        long target = ended;
        to_commit_first = to_commit_last = NULL;
        pthread_mutex_unlock(&commit_lock);
        exec(writer, "BEGIN IMMEDIATE");
        for (struct session *s = first; s; s = s->next_to_commit) {
            sqlite3_bind_blob(insert_message, 1, s->body, (int)s->commit_octets, SQLITE_STATIC);
            if (sqlite3_step(insert_message) != SQLITE_DONE) sqlite_fail("insert message");
            sqlite3_reset(insert_message);
            sqlite3_bind_int64(insert_note, 1, sqlite3_last_insert_rowid(writer));
            sqlite3_bind_text(insert_note, 2, note, sizeof note - 1, SQLITE_STATIC);
            if (sqlite3_step(insert_note) != SQLITE_DONE) sqlite_fail("insert note");
            sqlite3_reset(insert_note);
        }
        exec(writer, "COMMIT");
        pthread_mutex_lock(&commit_lock);
        synced = target;
        pthread_cond_broadcast(&commit_done);
    }
    return NULL;
}

static void open_sqlite(const char *folder) {
    char path[4096], sql[256];
#ifdef WAL_BUFFER
    int intake_wal_buffer_register(void);
    if (intake_wal_buffer_register() != SQLITE_OK) fail("intake_wal_buffer_register");
#endif
    snprintf(path, sizeof path, "%s/workfloor.sqlite", folder);
    if (sqlite3_open(path, &writer) != SQLITE_OK) sqlite_fail(path);
    snprintf(sql, sizeof sql, "PRAGMA page_size = %d", page_size);
    exec(writer, sql);
    exec(writer, "PRAGMA journal_mode = WAL");
    exec(writer, "PRAGMA synchronous = FULL");
    exec(writer, "PRAGMA wal_autocheckpoint = 0");
    exec(writer, "PRAGMA cache_size = -65536");   /* no page of a group spilled before its commit */
    exec(writer, "CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY, raw BLOB NOT NULL)");
    exec(writer, "CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL, body TEXT NOT NULL)");
    if (sqlite3_prepare_v2(writer, "INSERT INTO message (raw) VALUES (?)", -1, &insert_message, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(writer, "INSERT INTO note (message_id, body) VALUES (?, ?)", -1, &insert_note, NULL) != SQLITE_OK)
        sqlite_fail("prepare");
    sqlite3_wal_hook(writer, count_frames, NULL);
    if (sqlite3_open(path, &checkpointer) != SQLITE_OK) sqlite_fail(path);
    pthread_t thread;
    pthread_create(&thread, NULL, sqlite_writer_thread, NULL);
    pthread_create(&thread, NULL, checkpoint_thread, NULL);
}

static void wait_for_sync(long ticket) {
    pthread_mutex_lock(&commit_lock);
    while (synced < ticket) pthread_cond_wait(&commit_done, &commit_lock);
    pthread_mutex_unlock(&commit_lock);
}

/* Receives one body after 354, in reads of READ_STEP at most: each read is handed to the
 * attachment thread at once, then written, then digested. At the end of data the write-back of
 * the rest is started and the sync asked for before the last digests end; returns once the
 * message is durable and digested: 0, or -1 when the peer has gone, -2 when it is over 4 MiB. */
static int receive_body(struct session *s) {
    off_t base = (off_t)s->slot * MAX_MESSAGE;
    size_t have = 0, hashed = 0, written = 0, started = 0;
    unsigned char digest[EVP_MAX_MD_SIZE];
    long ticket = 0;
    EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL);
    memcpy(s->body, s->line, s->line_have);   /* octets read past the DATA line, if any */
    have = s->line_have;
    s->line_have = 0;
    pthread_mutex_lock(&s->lock);
    s->available = 0;
    s->ended = s->digested = 0;
    s->receiving = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    for (;;) {
        int end = have >= 5 && memcmp(s->body + have - 5, "\r\n.\r\n", 5) == 0;
        pthread_mutex_lock(&s->lock);
        s->available = have;
        s->ended = end;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        if (keep_in_sqlite && end) ticket = ask_for_commit(s, have);
        if (keep_at_end && end) {
            /* The whole message and the pages of its rows, written after its end as a commit
             * writes them into the WAL; nothing was written while it arrived. */
            static const unsigned char rows[16 * 4096];
            if (pwrite(data_fd, s->body, have, base) != (ssize_t)have) fail("pwrite");
            if (pwrite(data_fd, rows, sizeof rows, base + (off_t)have) != (ssize_t)sizeof rows) fail("pwrite");
            written = have;
        }
        if (!keep_at_end && !keep_in_sqlite && have > written) {
            size_t n = have - written;
            if (pwrite(data_fd, s->body + written, n, base + (off_t)written) != (ssize_t)n) fail("pwrite");
            written = have;
            if ((writeback_step > 0 && written - started >= (size_t)writeback_step) || end) {
                sync_file_range(data_fd, base + (off_t)started, (off_t)(written - started), SYNC_FILE_RANGE_WRITE);
                started = written;
            }
        }
        if (end && !keep_in_sqlite) ticket = ask_for_sync();
        size_t content = end ? have - 3 : (have > 4 ? have - 4 : 0);
        if (digest_message && content > hashed) {
            EVP_DigestUpdate(s->sha, s->body + hashed, content - hashed);
            hashed = content;
        }
        if (end) break;
        if (have == MAX_MESSAGE) return -2;
        size_t room = MAX_MESSAGE - have;
        ssize_t r = read(s->fd, s->body + have, room < READ_STEP ? room : READ_STEP);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    EVP_DigestFinal_ex(s->sha, digest, NULL);
    pthread_mutex_lock(&s->lock);
    while (!s->digested) pthread_cond_wait(&s->changed, &s->lock);
    s->receiving = 0;
    pthread_mutex_unlock(&s->lock);
    wait_for_sync(ticket);
    return 0;
}


static void *commit_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&commit_lock);
    for (;;) {
        while (ended == synced) pthread_cond_wait(&commit_wanted, &commit_lock);
        long target = ended;
        pthread_mutex_unlock(&commit_lock);
        if (fdatasync(data_fd) < 0) fail("fdatasync");
        pthread_mutex_lock(&commit_lock);
        synced = target;
        pthread_cond_broadcast(&commit_done);
    }
    return NULL;
}

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static int slot_used[MAX_SESSIONS];

static void *session_thread(void *arg) {
    struct session *s = arg;
    pthread_t helper;
    pthread_create(&helper, NULL, attachment_thread, s);
    send_line(s->fd, "220 workfloor ESMTP\r\n");
    for (;;) {
        long n = read_command(s);
        if (n < 0) break;
        const char *reply = "250 OK\r\n";
        int data = 0, quit = 0;
        if (n >= 4 && strncasecmp(s->line, "DATA", 4) == 0) data = 1;
        if (n >= 4 && strncasecmp(s->line, "QUIT", 4) == 0) quit = 1;
        drop_command(s, n);
        if (data) {
            if (send_line(s->fd, "354 go ahead\r\n") < 0) break;
            int received = receive_body(s);
            if (received == -2) send_line(s->fd, "552 5.3.4 message over 4 MiB; closing\r\n");
            if (received < 0) break;
            reply = "250 2.0.0 kept\r\n";
        } else if (quit) {
            reply = "221 2.0.0 bye\r\n";
        }
        if (send_line(s->fd, reply) < 0 || quit) break;
    }
    close(s->fd);
    pthread_mutex_lock(&s->lock);
    s->quit = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    pthread_join(helper, NULL);
    pthread_mutex_lock(&slots_lock);
    slot_used[s->slot] = 0;
    pthread_mutex_unlock(&slots_lock);
    EVP_MD_CTX_free(s->sha);
    free(s->body);
    free(s);
    return NULL;
}

static int usage(const char *program) {
    fprintf(stderr, "usage: %s -p PORT -f FOLDER [-w WRITEBACK] [-m | -d | -s [-P PAGE_SIZE]]\n", program);
    return 2;
}

int main(int argc, char **argv) {
    int port = 0, opt;
    const char *folder = NULL;
    while ((opt = getopt(argc, argv, "p:f:w:mdsP:")) != -1) {
        if (opt == 'p') port = atoi(optarg);
        else if (opt == 'f') folder = optarg;
        else if (opt == 'w') writeback_step = atol(optarg);
        else if (opt == 'm') digest_message = 1;
        else if (opt == 'd') keep_at_end = 1;
        else if (opt == 's') keep_in_sqlite = 1;
        else if (opt == 'P') page_size = atoi(optarg);
        else return usage(argv[0]);
    }
    if (!port || !folder) return usage(argv[0]);
    memset(base64_value, 0x80, sizeof base64_value);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; i++) base64_value[(unsigned char)alphabet[i]] = (unsigned char)i;

    char path[4096];
    /* The sessions' file; -s keeps the messages in its database instead and needs none. */
    if (!keep_in_sqlite) {
        snprintf(path, sizeof path, "%s/workfloor.data", folder);
        data_fd = open(path, O_RDWR | O_CREAT, 0600);
        if (data_fd < 0) fail(path);
        off_t size = lseek(data_fd, 0, SEEK_END);
        if (size < MAX_SESSIONS * MAX_MESSAGE) {
            unsigned char *zeros = calloc(1, MAX_MESSAGE);
            for (int i = 0; i < MAX_SESSIONS; i++)
                if (!zeros || pwrite(data_fd, zeros, MAX_MESSAGE, (off_t)i * MAX_MESSAGE) != MAX_MESSAGE) fail("pwrite");
            if (fsync(data_fd) < 0) fail("fsync");
            free(zeros);
        }
    }

    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(listener, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(listener, 128) < 0) fail("listen");
    if (keep_in_sqlite) {
        open_sqlite(folder);
    } else {
        pthread_t committer;
        pthread_create(&committer, NULL, commit_thread, NULL);
    }
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            fail("accept");
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct session *s = calloc(1, sizeof *s);
        if (!s || !(s->body = malloc(MAX_MESSAGE)) || !(s->sha = EVP_MD_CTX_new())) fail("malloc");
        s->fd = fd;
        s->slot = -1;
        pthread_mutex_lock(&slots_lock);
        for (int i = 0; i < MAX_SESSIONS; i++)
            if (!slot_used[i]) {
                slot_used[i] = 1;
                s->slot = i;
                break;
            }
        pthread_mutex_unlock(&slots_lock);
        if (s->slot < 0) {
            send_line(fd, "421 4.3.2 too many sessions\r\n");
            close(fd);
            EVP_MD_CTX_free(s->sha);
            free(s->body);
            free(s);
            continue;
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->changed, NULL);
        pthread_t thread;
        pthread_create(&thread, NULL, session_thread, s);
        pthread_detach(thread);
    }
}
