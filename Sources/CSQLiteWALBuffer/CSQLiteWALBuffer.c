// The write-ahead-log write buffer (see the header).
//
// SQLite appends a commit to the WAL as frames, each a 24-octet header then a page, written with
// two xWrite calls (wal.c, walWriteOneFrame), and only once the last frame, whose header carries
// the commit mark (the database's size in pages, octets 4 to 7, big-endian; never 0), is written
// does it publish the transaction in the WAL index, where readers and checkpoints find it
// (https://sqlite.org/walformat.html). So appended frames may wait in memory until the commit
// frame's page has been handed over, and are written then, with one call: no reader can look for
// them before. Whatever else touches the WAL (a read, a sync, a truncation, a write that does not
// append a frame header or a page, such as the WAL header or a checksum rewrite) first writes what
// is kept, and then goes to the file as it would have; so does a barrier on the WAL index, which
// comes before SQLite publishes anything.
//
// Frames a transaction spills before its commit (one per call, when the page cache is full) wait
// too. Should the transaction roll back instead, they must never reach the file: once the
// connection lets go of the WAL's write lock, another may commit frames at the same offsets. So
// the main database file is wrapped as well, and when its connection releases the write lock
// (xShmLock on the WAL index, lock 0), whatever its WAL still keeps is dropped: it belongs to no
// commit, since a commit writes everything before it is published.
//
// A failed write of kept frames fails the SQLite call that made it, and every later call on that
// WAL fails the same way until the write lock is released: SQLite, once told that spilled frames
// were written, would otherwise commit a transaction some of whose frames are missing. The failure
// is SQLITE_FULL when the disk is full (as the unix VFS reports `ENOSPC`), so that the caller can
// tell it from a broken disk, whichever call met it (a read of a spilled page, a sync), else
// SQLITE_IOERR_WRITE. Kept frames are lost with the process, as frames written but not yet
// published would be: the transaction never committed.
//
// Frames wait only while the connection holds the write lock, as the database file's xShmLock shows
// (in exclusive locking mode SQLite takes no such lock, and its WAL is written through), and only
// when the file reports SQLITE_IOCAP_POWERSAFE_OVERWRITE (the unix VFS does, unless the
// "psow=0" URI parameter says otherwise): without it SQLite pads a commit at FULL with copies of its
// last frame up to a sector boundary, syncs in the middle of one, and the frame octets after the
// sync would be the last write before publication; such files are written through.
//
// Each sqlite3_file is used by one connection at a time (SQLite serialises a connection's calls),
// so a file's buffer needs no lock; the list that pairs each WAL with its database file has one.
// The counters are the calling thread's own.

#include "CSQLiteWALBuffer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum {
    frameHeaderSize = 24,
    /// A buffer this full is written before it grows further: a commit of many pages is written
    /// in pieces of at most this size. Below 128 KiB: the unix VFS writes at most 0x1ffff octets
    /// per system call, and a remainder of exactly 128 KiB would be masked to 0 and fail as full.
    bufferCapacity = 120 * 1024,
    /// The WAL index's write lock (wal.c, WAL_WRITE_LOCK).
    writeLock = 0,
};

struct DatabaseFile;

/// A WAL file.
typedef struct WALBufferFile {
    sqlite3_file base;
    /// The real VFS's file, in the memory after this structure.
    sqlite3_file *real;
    /// The main database file of the same connection, while both are open.
    struct DatabaseFile *database;
    /// Octets appended and not yet written, from offset `start` of the file; NULL until needed.
    unsigned char *buffer;
    int length;
    sqlite3_int64 start;
    /// Where the last write ended: the next frame's header or page appends when it begins here.
    /// -1 when unknown (no write yet, or the last one failed).
    sqlite3_int64 end;
    /// The last write was the header of a commit frame: the page that follows completes the
    /// transaction's frames.
    int commitHeaderWritten;
    /// Kept frames could not be written: the result every call returns until the write lock is
    /// released (SQLITE_FULL or SQLITE_IOERR_WRITE); 0 while none failed.
    int failed;
    /// Everything is written at once (see above).
    int writeThrough;
} WALBufferFile;

/// A main database file: only its WAL index's write lock matters here.
typedef struct DatabaseFile {
    sqlite3_file base;
    sqlite3_file *real;
    /// The name SQLite opened it with: a WAL's sqlite3_filename_database() is this very pointer.
    sqlite3_filename name;
    /// Its connection's WAL, while open.
    WALBufferFile *wal;
    /// The connection holds the WAL index's write lock, as xShmLock has seen. Never set in
    /// exclusive locking mode, where SQLite takes no WAL-index locks: its WAL is written through,
    /// since the lock's release, where kept frames are dropped, cannot be seen.
    int holdsWriteLock;
    /// The next open database file.
    struct DatabaseFile *next;
} DatabaseFile;

static sqlite3_vfs bufferVFS;
static const sqlite3_io_methods walMethods;
static const sqlite3_io_methods databaseMethods;
static sqlite3_vfs *realVFS;
static int registration = SQLITE_ERROR;
static pthread_once_t registrationOnce = PTHREAD_ONCE_INIT;
static pthread_mutex_t databasesLock = PTHREAD_MUTEX_INITIALIZER;
static DatabaseFile *databases;
static _Thread_local long long writeCount;
static _Thread_local long long octetCount;
static _Thread_local long long barrierWriteCount;

/// The real file after either wrapper (both begin with `base`, then `real`).
static sqlite3_file *realFile(sqlite3_file *file) { return ((WALBufferFile *)file)->real; }

static int writeToFile(WALBufferFile *file, const void *data, int amount, sqlite3_int64 offset) {
    writeCount += 1;
    octetCount += amount;
    return file->real->pMethods->xWrite(file->real, data, amount, offset);
}

/// Writes what the buffer holds; on failure, the WAL fails every call until the write lock is
/// released.
static int flush(WALBufferFile *file) {
    if (file->failed) return file->failed;
    if (file->length == 0) return SQLITE_OK;
    int result = writeToFile(file, file->buffer, file->length, file->start);
    file->length = 0;
    if (result != SQLITE_OK) {
        file->end = -1;
        file->failed = result == SQLITE_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
        result = file->failed;
    }
    return result;
}

/// `flush` before a call that is not a write: a failure is reported as a failed write, or as a
/// full disk.
static int flushBefore(sqlite3_file *base) { return flush((WALBufferFile *)base); }

/// Forgets what the buffer holds, and any failure to write it: frames of a transaction that
/// ended without committing them. `end` stays: the next transaction's frames begin where the first
/// dropped one did, or earlier, so they do not append to what was dropped (and after a failure
/// `end` is already unknown).
static void discard(WALBufferFile *file) {
    file->length = 0;
    file->commitHeaderWritten = 0;
    file->failed = 0;
}

static int isPageSize(int amount) { return amount >= 512 && amount <= 65536 && (amount & (amount - 1)) == 0; }

static int walWrite(sqlite3_file *base, const void *data, int amount, sqlite3_int64 offset) {
    WALBufferFile *file = (WALBufferFile *)base;
    if (file->failed) return file->failed;
    const unsigned char *octets = data;
    int isHeader = amount == frameHeaderSize;
    int isCommitHeader = isHeader && (octets[4] | octets[5] | octets[6] | octets[7]) != 0;
    int completesCommit = file->commitHeaderWritten && isPageSize(amount) && offset == file->end;
    int appends = offset == file->end && (isHeader || isPageSize(amount)) && file->database != NULL
        && file->database->holdsWriteLock;
    int result;
    if (appends && !file->writeThrough && file->buffer == NULL) {
        file->buffer = sqlite3_malloc(bufferCapacity);
    }
    if (!appends || file->writeThrough || file->buffer == NULL || amount > bufferCapacity) {
        result = flush(file);
        if (result == SQLITE_OK) result = writeToFile(file, data, amount, offset);
    } else {
        result = SQLITE_OK;
        if (file->length + amount > bufferCapacity) result = flush(file);
        if (result == SQLITE_OK) {
            if (file->length == 0) file->start = offset;
            memcpy(file->buffer + file->length, data, (size_t)amount);
            file->length += amount;
            if (completesCommit) result = flush(file);
        }
    }
    file->end = result == SQLITE_OK ? offset + amount : -1;
    file->commitHeaderWritten = result == SQLITE_OK && isCommitHeader;
    return result;
}

static int walClose(sqlite3_file *base) {
    WALBufferFile *file = (WALBufferFile *)base;
    // Anything still kept belongs to no commit (see above).
    discard(file);
    pthread_mutex_lock(&databasesLock);
    if (file->database != NULL) file->database->wal = NULL;
    file->database = NULL;
    pthread_mutex_unlock(&databasesLock);
    sqlite3_free(file->buffer);
    file->buffer = NULL;
    return file->real->pMethods->xClose(file->real);
}

static int walRead(sqlite3_file *base, void *data, int amount, sqlite3_int64 offset) {
    int result = flushBefore(base);
    if (result != SQLITE_OK) return result;
    return realFile(base)->pMethods->xRead(realFile(base), data, amount, offset);
}

static int walTruncate(sqlite3_file *base, sqlite3_int64 size) {
    WALBufferFile *file = (WALBufferFile *)base;
    int result = flushBefore(base);
    if (result != SQLITE_OK) return result;
    file->end = -1;
    return file->real->pMethods->xTruncate(file->real, size);
}

static int walSync(sqlite3_file *base, int flags) {
    int result = flushBefore(base);
    if (result != SQLITE_OK) return result;
    return realFile(base)->pMethods->xSync(realFile(base), flags);
}

static int walFileSize(sqlite3_file *base, sqlite3_int64 *size) {
    int result = flushBefore(base);
    if (result != SQLITE_OK) return result;
    return realFile(base)->pMethods->xFileSize(realFile(base), size);
}

static int walFileControl(sqlite3_file *base, int op, void *argument) {
    int result = flushBefore(base);
    if (result != SQLITE_OK) return result;
    return realFile(base)->pMethods->xFileControl(realFile(base), op, argument);
}

static int walFetch(sqlite3_file *base, sqlite3_int64 offset, int amount, void **pointer) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    int result = flushBefore(base);
    if (result != SQLITE_OK) return result;
    if (methods->iVersion < 3 || methods->xFetch == NULL) {
        *pointer = NULL;
        return SQLITE_OK;
    }
    return methods->xFetch(realFile(base), offset, amount, pointer);
}

// What both kinds of file pass on to the real file as they are.

static int forwardLock(sqlite3_file *base, int level) { return realFile(base)->pMethods->xLock(realFile(base), level); }

static int forwardUnlock(sqlite3_file *base, int level) {
    return realFile(base)->pMethods->xUnlock(realFile(base), level);
}

static int forwardCheckReservedLock(sqlite3_file *base, int *reserved) {
    return realFile(base)->pMethods->xCheckReservedLock(realFile(base), reserved);
}

static int forwardSectorSize(sqlite3_file *base) { return realFile(base)->pMethods->xSectorSize(realFile(base)); }

static int forwardDeviceCharacteristics(sqlite3_file *base) {
    return realFile(base)->pMethods->xDeviceCharacteristics(realFile(base));
}

static int forwardShmMap(sqlite3_file *base, int region, int size, int extend, void volatile **pointer) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    if (methods->iVersion < 2 || methods->xShmMap == NULL) return SQLITE_IOERR_SHMMAP;
    return methods->xShmMap(realFile(base), region, size, extend, pointer);
}

static int forwardShmLock(sqlite3_file *base, int offset, int count, int flags) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    if (methods->iVersion < 2 || methods->xShmLock == NULL) return SQLITE_IOERR_SHMLOCK;
    return methods->xShmLock(realFile(base), offset, count, flags);
}

static void forwardShmBarrier(sqlite3_file *base) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    if (methods->iVersion >= 2 && methods->xShmBarrier != NULL) methods->xShmBarrier(realFile(base));
}

static int forwardShmUnmap(sqlite3_file *base, int deleteFlag) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    if (methods->iVersion < 2 || methods->xShmUnmap == NULL) return SQLITE_OK;
    return methods->xShmUnmap(realFile(base), deleteFlag);
}

static int forwardUnfetch(sqlite3_file *base, sqlite3_int64 offset, void *pointer) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    if (methods->iVersion < 3 || methods->xUnfetch == NULL) return SQLITE_OK;
    return methods->xUnfetch(realFile(base), offset, pointer);
}

static const sqlite3_io_methods walMethods = {
    3,
    walClose,
    walRead,
    walWrite,
    walTruncate,
    walSync,
    walFileSize,
    forwardLock,
    forwardUnlock,
    forwardCheckReservedLock,
    walFileControl,
    forwardSectorSize,
    forwardDeviceCharacteristics,
    forwardShmMap,
    forwardShmLock,
    forwardShmBarrier,
    forwardShmUnmap,
    walFetch,
    forwardUnfetch,
};

// The main database file.

static int databaseClose(sqlite3_file *base) {
    DatabaseFile *file = (DatabaseFile *)base;
    pthread_mutex_lock(&databasesLock);
    for (DatabaseFile **link = &databases; *link != NULL; link = &(*link)->next) {
        if (*link == file) {
            *link = file->next;
            break;
        }
    }
    if (file->wal != NULL) file->wal->database = NULL;
    file->wal = NULL;
    pthread_mutex_unlock(&databasesLock);
    return file->real->pMethods->xClose(file->real);
}

static int databaseRead(sqlite3_file *base, void *data, int amount, sqlite3_int64 offset) {
    return realFile(base)->pMethods->xRead(realFile(base), data, amount, offset);
}

static int databaseWrite(sqlite3_file *base, const void *data, int amount, sqlite3_int64 offset) {
    return realFile(base)->pMethods->xWrite(realFile(base), data, amount, offset);
}

static int databaseTruncate(sqlite3_file *base, sqlite3_int64 size) {
    return realFile(base)->pMethods->xTruncate(realFile(base), size);
}

static int databaseSync(sqlite3_file *base, int flags) { return realFile(base)->pMethods->xSync(realFile(base), flags); }

static int databaseFileSize(sqlite3_file *base, sqlite3_int64 *size) {
    return realFile(base)->pMethods->xFileSize(realFile(base), size);
}

static int databaseFileControl(sqlite3_file *base, int op, void *argument) {
    return realFile(base)->pMethods->xFileControl(realFile(base), op, argument);
}

/// Releasing the WAL index's write lock ends the connection's write transaction: what its WAL
/// still keeps is dropped (see above).
static int databaseShmLock(sqlite3_file *base, int offset, int count, int flags) {
    DatabaseFile *file = (DatabaseFile *)base;
    int coversWriteLock = (flags & SQLITE_SHM_EXCLUSIVE) && offset <= writeLock && writeLock < offset + count;
    if (coversWriteLock && (flags & SQLITE_SHM_UNLOCK)) {
        file->holdsWriteLock = 0;
        if (file->wal != NULL) discard(file->wal);
    }
    int result = forwardShmLock(base, offset, count, flags);
    if (coversWriteLock && (flags & SQLITE_SHM_LOCK) && result == SQLITE_OK) file->holdsWriteLock = 1;
    return result;
}

/// SQLite publishes a commit after a barrier: anything its WAL still keeps is written first. A
/// commit's frames are written once its last page is (see above), so nothing is left here but in
/// a case this file does not know of. A failure cannot be reported from a barrier, and releasing
/// the write lock next would forget it while the commit is published without its frames: the
/// process stops at once instead, as it does after a failed fsync (exit status 75, no reply
/// sent for anything not synced; SQLite recovers from the WAL at the next start).
static void databaseShmBarrier(sqlite3_file *base) {
    DatabaseFile *file = (DatabaseFile *)base;
    if (file->wal != NULL && file->wal->length > 0) {
        barrierWriteCount += 1;
        if (flush(file->wal) != SQLITE_OK) {
            static const char line[] =
                "level=critical msg=\"a write of the database's WAL failed as a commit was published; intaked stops so "
                "that SQLite recovers from the WAL at the next start, and the senders of the messages in flight retry\"\n";
            ssize_t written = write(STDERR_FILENO, line, sizeof line - 1);
            (void)written;
            _exit(75);  // EX_TEMPFAIL
        }
    }
    forwardShmBarrier(base);
}

static int databaseFetch(sqlite3_file *base, sqlite3_int64 offset, int amount, void **pointer) {
    const sqlite3_io_methods *methods = realFile(base)->pMethods;
    if (methods->iVersion < 3 || methods->xFetch == NULL) {
        *pointer = NULL;
        return SQLITE_OK;
    }
    return methods->xFetch(realFile(base), offset, amount, pointer);
}

static const sqlite3_io_methods databaseMethods = {
    3,
    databaseClose,
    databaseRead,
    databaseWrite,
    databaseTruncate,
    databaseSync,
    databaseFileSize,
    forwardLock,
    forwardUnlock,
    forwardCheckReservedLock,
    databaseFileControl,
    forwardSectorSize,
    forwardDeviceCharacteristics,
    forwardShmMap,
    databaseShmLock,
    databaseShmBarrier,
    forwardShmUnmap,
    databaseFetch,
    forwardUnfetch,
};

/// The real file sits after either wrapper, at an offset every sqlite3_file may be placed at.
static size_t realOffset(void) {
    size_t size = sizeof(WALBufferFile) > sizeof(DatabaseFile) ? sizeof(WALBufferFile) : sizeof(DatabaseFile);
    return (size + 15) & ~(size_t)15;
}

/// Clears the wrapper (`size` octets) and opens the real file after it. On failure SQLite calls no
/// xClose (pMethods is NULL), and the real file has cleaned up after itself.
static int openReal(sqlite3_filename name, sqlite3_file *base, size_t size, int flags, int *outFlags) {
    memset(base, 0, size);
    sqlite3_file *real = (sqlite3_file *)((unsigned char *)base + realOffset());
    ((WALBufferFile *)base)->real = real;
    int result = realVFS->xOpen(realVFS, name, real, flags, outFlags);
    if (result == SQLITE_OK && real->pMethods == NULL) result = SQLITE_CANTOPEN;
    if (result != SQLITE_OK) base->pMethods = NULL;
    return result;
}

/// Opens a main database or a WAL wrapped, any other file as the real VFS does, in the memory
/// SQLite gives it.
static int bufferOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *base, int flags, int *outFlags) {
    (void)vfs;
    if ((flags & SQLITE_OPEN_MAIN_DB) && name != NULL) {
        DatabaseFile *file = (DatabaseFile *)base;
        int result = openReal(name, base, sizeof(*file), flags, outFlags);
        if (result != SQLITE_OK) return result;
        file->name = name;
        pthread_mutex_lock(&databasesLock);
        file->next = databases;
        databases = file;
        pthread_mutex_unlock(&databasesLock);
        base->pMethods = &databaseMethods;
        return SQLITE_OK;
    }
    if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
        WALBufferFile *file = (WALBufferFile *)base;
        int result = openReal(name, base, sizeof(*file), flags, outFlags);
        if (result != SQLITE_OK) return result;
        file->end = -1;
        sqlite3_filename databaseName = sqlite3_filename_database(name);
        pthread_mutex_lock(&databasesLock);
        for (DatabaseFile *database = databases; database != NULL; database = database->next) {
            if (database->name == databaseName && database->wal == NULL) {
                database->wal = file;
                file->database = database;
                break;
            }
        }
        pthread_mutex_unlock(&databasesLock);
        // Without its database file the write lock's release cannot be seen: written through.
        file->writeThrough =
            file->database == NULL
            || (file->real->pMethods->xDeviceCharacteristics(file->real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) == 0;
        base->pMethods = &walMethods;
        return SQLITE_OK;
    }
    return realVFS->xOpen(realVFS, name, base, flags, outFlags);
}

static void registerOnce(void) {
    realVFS = sqlite3_vfs_find(NULL);
    if (realVFS == NULL) return;
    // Everything the real VFS does, under another name, with room for a wrapper before the file.
    bufferVFS = *realVFS;
    bufferVFS.pNext = NULL;
    bufferVFS.zName = "intake-wal-buffer";
    bufferVFS.szOsFile = (int)(realOffset() + (size_t)realVFS->szOsFile);
    bufferVFS.xOpen = bufferOpen;
    registration = sqlite3_vfs_register(&bufferVFS, 1);
}

int intake_wal_buffer_register(void) {
    pthread_once(&registrationOnce, registerOnce);
    return registration;
}

void intake_wal_buffer_thread_counts(long long *writes, long long *octets, long long *barrierWrites) {
    *writes = writeCount;
    *octets = octetCount;
    *barrierWrites = barrierWriteCount;
}
