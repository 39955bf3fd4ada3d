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
}
