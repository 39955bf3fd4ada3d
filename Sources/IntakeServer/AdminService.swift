#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AdminAPI
import Foundation
import Logging
import NIOCore
import NIOPosix
import SMTPNIO
import ServiceLifecycle
import Synchronization

/// The credentials of the process at the other end of the admin socket (SO_PEERCRED). Its layout
/// is Linux's `struct ucred` (pid, uid, gid: three 32-bit fields), which Swift's Glibc module does
/// not export, so `getsockopt` fills it in directly.
struct PeerCredentials: Sendable, Hashable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// The admin socket as a service: a Unix stream socket speaking newline-delimited JSON
/// (``AdminFraming``), one response per request in order, many connections at once.
///
/// The socket file is created with mode 0660 (group: `admin.group` when set). A file left at the
/// path by a crash is replaced, but the daemon refuses to start when another one answers there.
/// Each connection's peer is checked once (``AdminAccessPolicy``): anyone else gets `forbidden`
/// to their first request and the connection closes. At graceful shutdown it stops accepting,
/// lets each connection finish the request it is answering (closing it after
/// ``shutdownGracePeriod`` if its peer does not read), and removes the socket file.
///
/// Peer credentials come from `getsockopt(SOL_SOCKET, SO_PEERCRED)` through NIO's
/// `SocketOptionProvider.unsafeGetSocketOption` (the accepted channel is a NIOPosix socket channel,
/// which conforms), read in the child channel initializer on the channel's event loop into
/// ``PeerCredentials``, laid out as `struct ucred`.
final class AdminService: Service {
    private let socketPath: String
    private let policy: AdminAccessPolicy
    private let handler: AdminCommandHandler
    private let group: any EventLoopGroup
    private let logger: Logger
    private let connections = Mutex(ConnectionRegistry())
    /// How long connections get to finish at shutdown before they are closed.
    static let shutdownGracePeriod = Duration.seconds(5)

    /// Checks the socket path (replacing a stale socket file) and resolves the admin group.
    /// - Throws: when another daemon answers on the path, the path is not a socket, or the group
    ///   does not exist.
    init(socketPath: String, adminGroup: String?, handler: AdminCommandHandler, group: any EventLoopGroup, logger: Logger)
        throws(IntakeConfigurationError)
    {
        self.socketPath = socketPath
        self.policy = try AdminAccessPolicy(groupName: adminGroup)
        self.handler = handler
        self.group = group
        self.logger = logger
        try Self.prepareSocketPath(socketPath)
    }

    func run() async throws {
        let maxLineLength = AdminFraming.maxLineLength
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                // NIO's own back-off, which this bind adds, cannot pause a listener whose accept
                // failed (it stays registered for reading): this one can, and logs.
                .acceptBackoff(logger: logger, listener: "admin")
                .bind(unixDomainSocketPath: socketPath) { channel in
                    Self.makeConnection(channel, maxLineLength: maxLineLength)
                }
        } catch {
            // A read-only or missing folder: named like the other listeners, exit 78.
            throw ListenError(socketPath: socketPath, key: "admin.socket", error)
        }
        var status = stat()
        let inode = stat(socketPath, &status) == 0 ? status.st_ino : 0
        if chmod(socketPath, 0o660) != 0 {
            logger.warning("cannot set the admin socket's mode to 0660", metadata: ["admin.socket": "\(socketPath)", "errno": "\(errno)"])
        }
        if let groupID = policy.groupID, chown(socketPath, uid_t.max, groupID) != 0 {
            logger.warning(
                "cannot give the admin socket to admin.group", metadata: ["admin.socket": "\(socketPath)", "errno": "\(errno)"])
        }
        if let groupID = policy.groupID, let problem = Self.unreachable(socketPath, groupID: groupID) {
            logger.warning(
                "members of admin.group cannot reach the admin socket", metadata: ["admin.socket": "\(socketPath)", "reason": "\(problem)"])
        }
        logger.info("admin listening", metadata: ["admin.socket": "\(socketPath)"])
        handler.listeners.set("admin", socketPath)

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { tasks in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        tasks.addTask { await self.serve(connection) }
                    }
                }
                // Shutting down: connections finish the request they answer; one whose peer does
                // not read its answers is closed after the grace period.
                let deadline = ContinuousClock.now + Self.shutdownGracePeriod
                while !connections.withLock({ $0.channels.isEmpty }) && ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(20))
                }
                for channel in connections.withLock({ Array($0.channels.values) }) { channel.close(promise: nil) }
            }
        } onGracefulShutdown: {
            self.logger.info("admin shutting down")
            server.channel.close(promise: nil)
            let open = self.connections.withLock { registry in
                registry.shuttingDown = true
                return Array(registry.channels.values)
            }
            for channel in open { Self.stopReading(channel) }
        }
        // Remove the socket file, unless something else has replaced it meanwhile.
        if stat(socketPath, &status) == 0, status.st_ino == inode { unlink(socketPath) }
        logger.info("admin stopped")
    }

    /// A connection whose peer is known, its frames decoded.
    struct Connection: Sendable {
        var peer: PeerCredentials
        var channel: NIOAsyncChannel<AdminFrame, ByteBuffer>
    }

    /// Sets up a connection's pipeline: reads its peer's credentials, adds the frame decoder and
    /// wraps it for async code.
    private static func makeConnection(_ channel: any Channel, maxLineLength: Int) -> EventLoopFuture<Connection> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(AdminError(.internal, "the admin connection has no socket options"))
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .flatMapThrowing { (credentials: PeerCredentials) in
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(AdminFrameDecoder(maxLineLength: maxLineLength)))
                return Connection(
                    peer: credentials,
                    channel: try NIOAsyncChannel<AdminFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                )
            }
    }

    /// Stops reading a connection: it answers what it has read, then closes.
    private static func stopReading(_ channel: any Channel) {
        channel.close(mode: .input).whenFailure { _ in channel.close(promise: nil) }
    }

    /// Serves one connection until the peer closes it, it sends too long a line, or shutdown.
    private func serve(_ connection: Connection) async {
        let channel = connection.channel.channel
        let key = ObjectIdentifier(channel)
        let late = connections.withLock { registry in
            registry.channels[key] = channel
            return registry.shuttingDown
        }
        if late { Self.stopReading(channel) }
        defer { _ = connections.withLock { $0.channels.removeValue(forKey: key) } }

        let peer = connection.peer
        let allowed = policy.allows(peer)
        if !allowed {
            logger.notice("admin connection refused", metadata: ["admin.peer.uid": "\(peer.uid)", "admin.peer.pid": "\(peer.pid)"])
        }
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                for try await frame in inbound {
                    switch frame {
                    case .line(let line):
                        let bytes = line.readableBytesView
                        if bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) {
                            continue
                        }
                        let request = AdminFraming.decodeRequest(bytes)
                        guard allowed else {
                            let id = (try? request.get().id) ?? .null
                            try await outbound.write(Self.encode(.failure(id: id, Self.forbidden(peer))))
                            return
                        }
                        let response: AdminResponse
                        switch request {
                        case .success(let request): response = await handler.handle(request, peer: peer)
                        case .failure(let failure): response = .failure(id: failure.id, failure.error)
                        }
                        try await outbound.write(Self.encode(response))
                    case .tooLong:
                        let error =
                            allowed
                            ? AdminError(.invalid, "the request line is longer than 1 MiB (1048576 octets); closing the connection")
                            : Self.forbidden(peer)
                        try await outbound.write(Self.encode(.failure(id: .null, error)))
                        return
                    }
                }
            }
        } catch {
            logger.debug("admin connection ended", metadata: ["error": "\(error)"])
        }
    }

    private static func forbidden(_ peer: PeerCredentials) -> AdminError {
        AdminError(
            .forbidden, "uid \(peer.uid) may not use the admin socket: run as root, as the daemon's user or as a member of its admin.group")
    }

    private static func encode(_ response: AdminResponse) -> ByteBuffer {
        do {
            return ByteBuffer(bytes: try AdminFraming.encodeLine(response))
        } catch {
            return ByteBuffer(string: #"{"error":{"code":"internal","message":"cannot encode the response"},"id":null,"ok":false}"# + "\n")
        }
    }

    /// Replaces a stale socket file at `path`; refuses a live one or a file of another kind.
    static func prepareSocketPath(_ path: String) throws(IntakeConfigurationError) {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw IntakeConfigurationError("admin.socket is longer than 107 octets, too long for a Unix socket: \(path)")
        }
        // A folder made for the socket alone may be open to all: the socket's own mode guards it.
        var current = path.hasPrefix("/") ? "" : "."
        for component in (path as NSString).deletingLastPathComponent.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw IntakeConfigurationError(
                    "cannot create the admin socket's folder \(current): \(String(cString: strerror(errno))) (check admin.socket)")
            }
        }
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw IntakeConfigurationError("admin.socket \(path) exists and is not a socket; remove it or choose another path")
        }
        if (try? AdminClient(socketPath: path, timeout: .seconds(2))) != nil {
            throw IntakeConfigurationError("another intaked answers on the admin socket \(path); stop it first or set admin.socket")
        }
        // Left behind by a daemon that did not stop cleanly.
        unlink(path)
    }

    /// Why members of the group cannot get through the socket's folders, if they cannot: each
    /// folder must be searchable by the group or by others.
    static func unreachable(_ path: String, groupID: UInt32) -> String? {
        var folder = (path as NSString).deletingLastPathComponent
        if folder.isEmpty { folder = "." }
        let absolute = folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + "/" + folder
        var current = ""
        for component in absolute.split(separator: "/") {
            current += "/" + component
            var status = stat()
            guard stat(current, &status) == 0 else { continue }
            let searchable = status.st_mode & 0o001 != 0 || (status.st_gid == groupID && status.st_mode & 0o010 != 0)
            if !searchable {
                return "\(current) is not searchable by the group; put the socket in a folder such as /run/intake (admin.socket)"
            }
        }
        return nil
    }

    private struct ConnectionRegistry {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
    }
}

/// Who may use the admin socket: root, the daemon's own user, and members of `admin.group` (the
/// peer's group, its supplementary groups as the kernel reports them in `/proc/PID/status`, or the
/// group database's members and primary groups).
struct AdminAccessPolicy: Sendable {
    let daemonUID: UInt32
    let groupID: UInt32?

    init(groupName: String?) throws(IntakeConfigurationError) {
        daemonUID = geteuid()
        guard let groupName, !groupName.isEmpty else {
            groupID = nil
            return
        }
        if let number = UInt32(groupName) {
            groupID = number
        } else if let entry = Self.groupEntry(named: groupName) {
            groupID = entry.id
        } else {
            throw IntakeConfigurationError("admin.group names no group on this system: \(groupName)")
        }
    }

    func allows(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID { return true }
        guard let groupID else { return false }
        if peer.gid == groupID { return true }
        if Self.supplementaryGroups(pid: peer.pid).contains(groupID) { return true }
        guard let user = Self.userEntry(id: peer.uid) else { return false }
        if user.groupID == groupID { return true }
        return Self.groupEntry(id: groupID)?.members.contains(user.name) ?? false
    }

    /// The `Groups:` line of `/proc/PID/status`.
    static func supplementaryGroups(pid: Int32) -> [UInt32] {
        guard pid > 0, let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("Groups:") {
            return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
        }
        return []
    }

    static func groupEntry(named name: String) -> (id: UInt32, members: [String])? {
        lookupGroup { entry, buffer, result in getgrnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result) }
    }

    static func groupEntry(id: UInt32) -> (id: UInt32, members: [String])? {
        lookupGroup { entry, buffer, result in getgrgid_r(id, &entry, buffer.baseAddress!, buffer.count, &result) }
    }

    private static func lookupGroup(
        _ call: (inout Glibc.group, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<Glibc.group>?) -> Int32
    ) -> (id: UInt32, members: [String])? {
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var storage = [CChar](repeating: 0, count: 65536)
        return storage.withUnsafeMutableBufferPointer { buffer -> (id: UInt32, members: [String])? in
            guard call(&entry, buffer, &result) == 0, result != nil else { return nil }
            var members: [String] = []
            if var member = entry.gr_mem {
                while let name = member.pointee {
                    members.append(String(cString: name))
                    member += 1
                }
            }
            return (entry.gr_gid, members)
        }
    }

    static func userEntry(id: UInt32) -> (name: String, groupID: UInt32)? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var storage = [CChar](repeating: 0, count: 65536)
        return storage.withUnsafeMutableBufferPointer { buffer -> (name: String, groupID: UInt32)? in
            guard getpwuid_r(id, &entry, buffer.baseAddress!, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
                return nil
            }
            return (String(cString: name), entry.pw_gid)
        }
    }
}

/// A frame of the admin socket: a request line (without its newline), or the news that the peer sent
/// more than the cap without one.
enum AdminFrame: Sendable {
    case line(ByteBuffer)
    case tooLong
}

/// Splits the admin stream into lines at `\n`, at most `maxLineLength` octets each. Over the cap
/// it emits ``AdminFrame/tooLong`` once and discards everything after (the connection is closed).
struct AdminFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = AdminFrame

    let maxLineLength: Int
    /// Octets after the reader index already searched for a newline.
    private var scanned = 0
    private var discarding = false

    init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if discarding {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        if let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            scanned = 0
            guard length <= maxLineLength else { return tooLong(context: context, buffer: &buffer) }
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        scanned = view.count
        if view.count > maxLineLength { return tooLong(context: context, buffer: &buffer) }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A partial line at the end of the stream is dropped: it has no end, so it is no request.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    private mutating func tooLong(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        discarding = true
        buffer.moveReaderIndex(to: buffer.writerIndex)
        context.fireChannelRead(wrapInboundOut(.tooLong))
        return .needMoreData
    }
}
