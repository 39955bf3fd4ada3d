// A VFS for SQLite that gathers the frames a commit appends to a write-ahead log and writes them
// with one call, where SQLite writes each frame's header and page with two: 30 writes for a
// commit of 15 pages, each a system call that dirties the file's page cache and inode.
#ifndef C_SQLITE_WAL_BUFFER_H
#define C_SQLITE_WAL_BUFFER_H

/// Registers, once, the VFS "intake-wal-buffer" as SQLite's default: the default VFS it finds
/// (unix), but for write-ahead logs, whose appended frames it keeps in memory until the frame that
/// commits a transaction is whole, then writes them at once, before SQLite can tell any reader
/// that the transaction exists. Returns SQLite's result code (SQLITE_OK, 0, on success).
int intake_wal_buffer_register(void);

/// The calls to the real VFS that wrote to write-ahead logs through this VFS on the calling thread,
/// the octets they wrote, and the barriers before a publication that found frames still kept (a
/// case the buffer does not expect: they are written then), since the thread started: for tests
/// and measurements.
void intake_wal_buffer_thread_counts(long long *writes, long long *octets, long long *barrierWrites);

#endif
