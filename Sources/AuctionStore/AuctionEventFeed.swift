// Fan-out between processes: every appended event is published on its auction's channel. The
// feed subscribes to all of them and hands each followed auction's events to its handler in `seq`
// order, exactly once: duplicates are dropped, and a gap (a message lost while the subscription
// was down) is filled from the log before anything after it is delivered.
import AuctionCore
import Foundation
import RedisClient
import Synchronization

public final class AuctionEventFeed: Sendable {
    private let endpoint: RedisEndpoint
    private let handler: @Sendable (SequencedEvent) -> Void
    private let failure: @Sendable (AuctionStoreError) -> Void
    private let thread = ServiceThread(name: "auction-feed")
    private let control = Mutex(Control())

    private struct Control {
        /// Followed auctions and the last seq delivered (or known to the follower).
        var lastDelivered: [String: Int64] = [:]
        /// Auctions just followed: their log is read once, in case events came before the follow.
        var needsCatchUp: Set<String> = []
    }

    /// - Parameters:
    ///   - handler: called on the feed's thread with each event of a followed auction, in order.
    ///   - failure: told when Redis is unreachable (the feed keeps retrying).
    public init(
        endpoint: RedisEndpoint, handler: @escaping @Sendable (SequencedEvent) -> Void,
        failure: @escaping @Sendable (AuctionStoreError) -> Void = { _ in }
    ) {
        self.endpoint = endpoint
        self.handler = handler
        self.failure = failure
    }

    /// Delivers `auctionId`'s events after `seq` (the follower has folded in everything up to it).
    /// Non-blocking: safe to call from any thread, including the lws service thread.
    public func follow(_ auctionId: String, after seq: Int64) {
        control.withLock { control in
            control.lastDelivered[auctionId] = max(seq, control.lastDelivered[auctionId] ?? 0)
            control.needsCatchUp.insert(auctionId)
        }
    }

    /// Stops delivering `auctionId`'s events (it left the process's memory).
    public func unfollow(_ auctionId: String) {
        control.withLock { control in
            control.lastDelivered[auctionId] = nil
            control.needsCatchUp.remove(auctionId)
        }
    }

    public func start() {
        thread.start { [self] in run() }
    }

    public func stop() {
        thread.stop()
    }

    // MARK: - The loop

    private func run() {
        let store = AuctionStore(endpoint: endpoint, retry: RetryPolicy(budget: .milliseconds(500)))
        var subscription: RedisConnection?
        var delay = Duration.milliseconds(20)
        while !thread.isStopping {
            do {
                if subscription == nil {
                    let connection = try RedisConnection(endpoint: endpoint)
                    try connection.execute("PSUBSCRIBE", ServiceKeys.channelPattern)
                    subscription = connection
                    // Whatever was published while not subscribed is in the logs.
                    control.withLock { $0.needsCatchUp.formUnion($0.lastDelivered.keys) }
                }
                try catchUpWhereNeeded(store)
                if let push = try subscription?.nextPush(timeout: .milliseconds(50)) { try receive(push, store) }
                delay = .milliseconds(20)
            } catch {
                subscription = nil
                failure(error as? AuctionStoreError ?? .unavailable(error as? RedisError ?? .server("\(error)")))
                Thread.sleep(forTimeInterval: delay.inSeconds)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    private func catchUpWhereNeeded(_ store: AuctionStore) throws {
        let pending = control.withLock { control in
            defer { control.needsCatchUp.removeAll() }
            return control.needsCatchUp
        }
        for id in pending {
            do { try deliver(id, upTo: nil, store) } catch {
                control.withLock { _ = $0.needsCatchUp.insert(id) }
                throw error
            }
        }
    }

    /// A pmessage is `["pmessage", pattern, channel, payload]`.
    private func receive(_ push: RedisReply, _ store: AuctionStore) throws {
        guard let parts = push.array, parts.count == 4, parts[0].string == "pmessage",
            let channel = parts[2].string, let id = Self.auctionId(ofChannel: channel), let payload = parts[3].string,
            let fields = FlatJSONObject.decode(payload) ?? (try? JSONDecoder().decode([String: String].self, from: Data(payload.utf8))),
            let event = StoredEvent.decode(auctionId: id, fields)
        else { return }
        guard let last = control.withLock({ $0.lastDelivered[id] }), event.seq > last else { return }
        if event.seq > last + 1 { try deliver(id, upTo: event.seq - 1, store) }
        deliver(event)
    }

    /// Reads the log after the last delivered event (up to `upTo`) and delivers it.
    private func deliver(_ id: String, upTo: Int64?, _ store: AuctionStore) throws {
        guard let last = control.withLock({ $0.lastDelivered[id] }) else { return }
        for event in try store.events(of: id, after: last) where upTo.map({ event.seq <= $0 }) ?? true {
            deliver(event)
        }
    }

    private func deliver(_ event: SequencedEvent) {
        let isNext = control.withLock { control in
            guard let last = control.lastDelivered[event.auctionId], event.seq == last + 1 else { return false }
            control.lastDelivered[event.auctionId] = event.seq
            return true
        }
        if isNext { handler(event) }
    }

    static func auctionId(ofChannel channel: String) -> String? {
        let prefix = "auction:{", suffix = "}:events"
        guard channel.hasPrefix(prefix), channel.hasSuffix(suffix), channel.count > prefix.count + suffix.count else { return nil }
        return String(channel.dropFirst(prefix.count).dropLast(suffix.count))
    }
}
