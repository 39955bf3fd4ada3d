import Foundation
import IntakeStore
import Testing

/// A data folder on a file system that fills up: a real `ENOSPC`, met where SQLite appends a
/// commit to the WAL (the WAL write buffer writes a commit's frames only at its last page).
/// Mounting a small `tmpfs` needs root, as `.ci/run` runs.
@Suite(.enabled(if: canMountTmpfs, "mounting a small tmpfs needs root with CAP_SYS_ADMIN"))
struct FullDiskTests {
    static let bob = "bob.carter@harbourview.example"

    /// Messages small enough to stay in memory (no spool or raw file), each filed in one commit,
    /// until the 3 MiB file system is full: then each gets 452 4.3.1, nothing of it is kept, and
    /// the daemon keeps running; so does a large message, which fails as it is spilled to a file.
    /// Once the file system has room, a refused message is filed, once, by the same daemon.
    @Test func aFullFileSystemGets452WithNothingPartialAndRecoversWithRoom() async throws {
        let folder = Daemon.temporaryDirectory("intake-full-disk")
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", folder])
        try #require(mounted.status == 0, "mount: \(mounted.error)")
        defer { _ = try? runCommand("/bin/umount", ["--lazy", folder]) }

        let crm = try await CRMFixture.start(folder: folder)
        var filed = 0
        var refused: [String] = []
        for index in 0..<300 where refused.count < 3 {
            let body = String(repeating: "Delivery schedule for week \(index): two pallets, dock 4.\n", count: 400)
            let message = mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Schedule \(index)", body: body)
            let sent = try await crm.send(message, to: [crm.dropbox(Self.bob)])
            if sent.code == 250 {
                #expect(refused.isEmpty, "a 250 after a 452 on a file system still full")
                filed += 1
            } else {
                #expect(sent.code == 452)
                #expect(sent.text.hasPrefix("4.3.1"), "\(sent.text)")
                refused.append(message)
            }
        }
        try #require(refused.count == 3, "the file system never filled")
        #expect(filed > 0)
        // A message over `smtp.memory_threshold` (64 KiB), spilled to a file as it arrives.
        let large = mail(
            to: "jane.fenwick@fenwick-logistics.example", subject: "Annual report",
            body: String(repeating: "Revenue by quarter, region and product line, in full.\n", count: 2_000))
        let sentLarge = try await crm.send(large, to: [crm.dropbox(Self.bob)])
        #expect(sentLarge.code == 452)
        #expect(sentLarge.text.hasPrefix("4.3.1"), "\(sentLarge.text)")
        // Nothing of it is left in the temporary folders.
        #expect(crm.daemon.temporaryFiles().isEmpty)
        #expect(crm.daemon.isRunning)

        // Nothing of the refused messages: as many messages, notes and log rows as 250s.
        #expect(try await crm.database.storedMessageCount() == filed)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == filed)
        #expect(try await crm.database.messageLog(organisation: nil, limit: 1_000).count == filed)

        // Room again, under the same daemon: the first refused message is filed, once.
        let grown = try runCommand("/bin/mount", ["-o", "remount,size=64m", folder])
        try #require(grown.status == 0, "remount: \(grown.error)")
        #expect(try await crm.send(refused[0], to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.send(refused[0], to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.database.storedMessageCount() == filed + 1)
        #expect(try await crm.database.messageLog(organisation: nil, outcome: "duplicate").count == 1)
        #expect(crm.daemon.logText.contains("the database or its disk is full (commit)"), "\(crm.daemon.logText)")
        await crm.stop()
    }
}

extension FullDiskTests {
    /// A data folder on a file system that went read-only (as ext4 does after an I/O error) is a
    /// reason to try again later, exit 75, which the unit restarts on; not a setting to mend (78).
    @Test func aReadOnlyDataFolderAtStartIsATemporaryFailure() async throws {
        let folder = Daemon.temporaryDirectory("intake-read-only")
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", folder])
        try #require(mounted.status == 0, "mount: \(mounted.error)")
        defer { _ = try? runCommand("/bin/umount", ["--lazy", folder]) }
        let first = try await Daemon(settings: ["delivery": "filing"], dataDirectory: folder)
        await first.stop()
        let readOnly = try runCommand("/bin/mount", ["-o", "remount,ro", folder])
        try #require(readOnly.status == 0, "remount: \(readOnly.error)")
        let result = try await runCommandDetached(
            Daemon.executable, ["--data-dir", folder, "--smtp-port", "0", "--set", "delivery=filing"])
        #expect(result.status == 75, "\(result.error)")
        #expect(result.error.contains("Read-only file system"), "\(result.error)")
    }

    /// A data folder on a mount made read-only on purpose (a read-only bind mount, as a unit's
    /// ProtectSystem=strict makes) is a setting to mend: exit 78, not a restart every 2 s.
    @Test func aDataFolderOnAReadOnlyBindMountIsASettingToMend() async throws {
        let folder = Daemon.temporaryDirectory("intake-read-only-bind")
        let first = try await Daemon(settings: ["delivery": "filing"], dataDirectory: folder)
        await first.stop()
        let bound = try runCommand("/bin/mount", ["--bind", folder, folder])
        try #require(bound.status == 0, "mount: \(bound.error)")
        defer { _ = try? runCommand("/bin/umount", ["--lazy", folder]) }
        let readOnly = try runCommand("/bin/mount", ["-o", "remount,bind,ro", folder])
        try #require(readOnly.status == 0, "remount: \(readOnly.error)")
        let result = try await runCommandDetached(
            Daemon.executable, ["--data-dir", folder, "--smtp-port", "0", "--set", "delivery=filing"])
        #expect(result.status == 78, "\(result.error)")
        #expect(result.error.contains("Read-only file system"), "\(result.error)")
    }
}

/// Whether this process may mount a tmpfs (root, and not in a container without CAP_SYS_ADMIN):
/// tried once on a folder of its own.
let canMountTmpfs: Bool = {
    guard getuid() == 0 else { return false }
    let folder = Daemon.temporaryDirectory("intake-mount-probe")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    guard (try? runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder]))?.status == 0 else { return false }
    return (try? runCommand("/bin/umount", ["--lazy", folder]))?.status == 0
}()
