import CGlibcExtras

/// How the daemon asks the C allocator to treat large buffers.
///
/// A message being parsed lives in a few large buffers (its octets, a decoded attachment) for a
/// few milliseconds. glibc's allocator serves such sizes from `mmap` at first, but after the first
/// one is freed it raises its threshold and serves later ones from its per-thread arenas, which
/// keep freed memory: the resident size then grows with the number of threads that ever parsed a
/// large message, not with the messages in flight. A fixed threshold keeps every buffer of 128 KiB
/// or more in a mapping of its own that goes back to the system when freed.
public enum MallocTuning {
    /// The size from which buffers get a mapping of their own.
    public static let mappingThreshold: Int32 = 128 * 1024

    /// Applies the setting (a no-op where the C library is not glibc). Call it once, at start.
    @discardableResult
    public static func returnLargeBuffersToTheSystem() -> Bool {
        intake_malloc_set_thresholds(mappingThreshold, 2 * mappingThreshold) == 1
    }

    /// The arenas glibc may make for `processors` processors: one each, and two at least.
    ///
    /// glibc gives threads that meet on its allocator's lock arenas of their own, up to eight per
    /// processor by default. Each keeps the small blocks freed into it, so the resident size
    /// grows with the threads the daemon has run (event loops, the I/O pool, the concurrency
    /// pool, the commit threads), not with its work. One arena per processor is as many as can
    /// be in use at once. Measured with 2 processors, twenty 2 MB messages arriving after the
    /// smaller shapes: 55.5 to 56.5 MiB at peak against 57.2 to 57.6, at the same rates
    /// (`bench/filing`, stop 28).
    public static func arenaLimit(processors: Int) -> Int { max(2, processors) }

    /// Caps glibc's arenas at ``arenaLimit(processors:)``, unless `MALLOC_ARENA_MAX` in the
    /// environment already sets it (glibc reads that itself); a no-op where the C library is not
    /// glibc. Call it once, at start.
    @discardableResult
    public static func limitArenas(processors: Int, environment: [String: String]) -> Bool {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return false }
        return intake_malloc_set_arena_max(Int32(clamping: arenaLimit(processors: processors))) == 1
    }
}
