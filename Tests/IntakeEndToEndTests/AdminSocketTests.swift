import AdminAPI
import Foundation
import Testing

/// The admin socket's file and who may use it: peer credentials, the admin group, the socket's
/// folder, a stale socket and a second daemon.
@Suite struct AdminSocketTests {
    /// Runs Scripts/admin_client.py as nobody (uid 65534) with the given group settings.
    static func asNobody(_ socket: String, group: [String], _ lines: [String]) throws -> [String: Any] {
        let result = try runCommand(
            "/usr/bin/setpriv",
            ["--reuid=65534"] + group + ["/usr/bin/python3", ClientTests.scripts + "/admin_client.py", socket] + lines)
        #expect(result.status == 0, "\(result.error)")
        return (try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]) ?? [:]
    }

    /// A socket folder that nobody may enter (the data folder is root's alone).
    static func socketFolder() -> String {
        let folder = Daemon.temporaryDirectory("intake-sock")
        chmod(folder, 0o755)
        return folder
    }

    @Test func peersOtherThanRootTheDaemonOrTheAdminGroupAreForbidden() async throws {
        let folder = Self.socketFolder()
        let admin = try await AdminFixture.start(settings: ["admin.socket": folder + "/admin.sock"])
        let request = #"{"id":1,"command":"status"}"#
        var status = stat()
        #expect(stat(admin.socketPath, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o660)
        // The file mode keeps others out before the daemon is even asked.
        let blocked = try Self.asNobody(admin.socketPath, group: ["--regid=65534", "--clear-groups"], [request])
        #expect(blocked["connect_error"] as? String == "EACCES", "\(blocked)")
        // With the file opened up, the peer check answers forbidden and closes.
        chmod(admin.socketPath, 0o666)
        let forbidden = try Self.asNobody(admin.socketPath, group: ["--regid=65534", "--clear-groups"], [request, request])
        let responses = forbidden["responses"] as? [[String: Any]] ?? []
        #expect(responses.count == 1, "\(forbidden)")
        #expect((responses.first?["error"] as? [String: Any])?["code"] as? String == "forbidden")
        #expect(responses.first?["id"] as? Int == 1)
        #expect(forbidden["closed"] as? Bool == true)
        // Root is let in.
        #expect(try admin.call("status").ok)
        #expect(admin.daemon.logText.contains("admin connection refused"))
        await admin.stop()
    }

    @Test func membersOfTheAdminGroupAreAllowed() async throws {
        let folder = Self.socketFolder()
        // Group `daemon` (gid 1): nobody is not in it.
        let admin = try await AdminFixture.start(settings: ["admin.socket": folder + "/admin.sock", "admin.group": "daemon"])
        let request = #"{"id":1,"command":"org.list"}"#
        var status = stat()
        #expect(stat(admin.socketPath, &status) == 0)
        #expect(status.st_gid == 1 && status.st_mode & 0o777 == 0o660)
        #expect(!admin.daemon.logText.contains("cannot reach the admin socket"))
        // Primary group and supplementary group both count.
        for group in [["--regid=1", "--clear-groups"], ["--regid=65534", "--groups=1"]] {
            let allowed = try Self.asNobody(admin.socketPath, group: group, [request])
            let responses = allowed["responses"] as? [[String: Any]] ?? []
            #expect(responses.first?["ok"] as? Bool == true, "\(group): \(allowed)")
        }
        chmod(admin.socketPath, 0o666)
        let outsider = try Self.asNobody(admin.socketPath, group: ["--regid=65534", "--clear-groups"], [request])
        let responses = outsider["responses"] as? [[String: Any]] ?? []
        #expect((responses.first?["error"] as? [String: Any])?["code"] as? String == "forbidden", "\(outsider)")
        await admin.stop()
    }

    @Test func aSocketFolderTheGroupCannotEnterIsWarnedAbout() async throws {
        let folder = Daemon.temporaryDirectory("intake-private")
        chmod(folder, 0o700)
        let admin = try await AdminFixture.start(settings: ["admin.socket": folder + "/admin.sock", "admin.group": "daemon"])
        #expect(admin.daemon.logText.contains("members of admin.group cannot reach the admin socket"))
        #expect(admin.daemon.logText.contains("\(folder) is not searchable by the group"))
        #expect(try admin.call("status").ok)
        await admin.stop()
    }

    @Test func anUnknownAdminGroupStopsTheDaemon() async throws {
        do {
            _ = try await Daemon(settings: ["delivery": "filing", "admin.group": "no-such-group-here"])
            Issue.record("the daemon started with an unknown admin.group")
        } catch let DaemonError.didNotStart(log) {
            #expect(log.contains("admin.group names no group on this system: no-such-group-here"), "\(log)")
        }
    }

    // MARK: Socket lifecycle

    @Test func aStaleSocketIsReplacedAndALiveOneRefused() async throws {
        let first = try await AdminFixture.start()
        let folder = first.daemon.dataDirectory
        // A second daemon on the same folder finds it locked and stops before touching it: a
        // session's partial content in tmp/ stays.
        let partial = folder + "/tmp/partial-of-a-live-session"
        #expect(FileManager.default.createFile(atPath: partial, contents: Data("half a message".utf8)))
        do {
            _ = try await Daemon(settings: ["delivery": "filing"], dataDirectory: folder)
            Issue.record("a second daemon started on a data folder in use")
        } catch let DaemonError.didNotStart(log) {
            #expect(log.contains("another intaked (process \(first.daemon.pid)) uses the data folder \(folder)"), "\(log)")
        }
        #expect(FileManager.default.fileExists(atPath: partial))
        // One on another folder with the same admin socket finds the first answering there.
        do {
            _ = try await Daemon(settings: ["delivery": "filing", "admin.socket": first.socketPath])
            Issue.record("a second daemon started on a live admin socket")
        } catch let DaemonError.didNotStart(log) {
            #expect(log.contains("another intaked answers on the admin socket"))
        }
        try first.result("org.create", ["name": "acme"])
        // Killed: the socket file stays behind, and the next start replaces it.
        await first.daemon.stop(signal: SIGKILL)
        #expect(FileManager.default.fileExists(atPath: first.socketPath))
        let second = try await AdminFixture.start(dataDirectory: folder)
        #expect(try second.items("org.list").map { $0["name"] } == ["acme"])
        // A clean stop removes it.
        await second.stop()
        #expect(!FileManager.default.fileExists(atPath: second.socketPath))
    }
}
