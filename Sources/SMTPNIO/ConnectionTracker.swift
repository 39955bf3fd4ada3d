import NIOCore
import Synchronization

/// Counts the open sessions, in total and per client IP address, and knows their channels, so the
/// listener can enforce the connection caps and ask every session to finish at shutdown.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perAddress: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let maxTotal: Int
    private let maxPerAddress: Int
    /// Sessions from which the server is under load, in total and per address: 80 % of the cap
    /// rounded up, and at least two (one session alone is never load).
    private let loadTotal: Int
    private let loadPerAddress: Int

    init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
        self.loadTotal = max(2, maxTotal - maxTotal / 5)
        self.loadPerAddress = max(2, maxPerAddress - maxPerAddress / 5)
    }

    /// Admits the channel, or returns `false` when a cap is reached.
    func admit(_ channel: any Channel, address: String) -> Bool {
        state.withLock { state in
            guard state.channels.count < maxTotal, state.perAddress[address, default: 0] < maxPerAddress else {
                return false
            }
            state.channels[ObjectIdentifier(channel)] = channel
            state.perAddress[address, default: 0] += 1
            return true
        }
    }

    /// Forgets a channel admitted before.
    func release(_ channel: any Channel, address: String) {
        state.withLock { state in
            guard state.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            let remaining = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    /// Whether the server is under load for a session from `address`: 80 % of the sessions it
    /// may hold are open, or 80 % of those `address` may hold (each at least two).
    func underLoad(from address: String) -> Bool {
        state.withLock { state in
            state.channels.count >= loadTotal || state.perAddress[address, default: 0] >= loadPerAddress
        }
    }

    /// The channels open now.
    var channels: [any Channel] {
        state.withLock { Array($0.channels.values) }
    }

    /// How many sessions are open.
    var count: Int {
        state.withLock { $0.channels.count }
    }
}
