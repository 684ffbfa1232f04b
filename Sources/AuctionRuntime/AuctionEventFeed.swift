// Fan-out between processes: every appended event is published on its auction's channel. The
// feed subscribes to them and hands each followed auction's events to its handler in `seq`
// order, exactly once: duplicates are dropped, and a gap (a message lost while the subscription
// was down) is filled from the log before anything after it is delivered. On one Redis (or
// Sentinel's primary) one pattern subscription takes every channel; on a cluster each followed
// auction's shard channel is subscribed on its slot's primary (sharded pub/sub), so an event
// travels no further than its shard.
import AuctionCore
import AuctionStore
import Foundation
import Locking
import RedisClient
import Synchronization

public final class AuctionEventFeed: Sendable {
    private let endpoint: RedisEndpoint
    private let handler: @Sendable (SequencedEvent) -> Void
    private let failure: @Sendable (AuctionStoreError) -> Void
    /// Waits on the subscription, not on a timer: a pass returns at once for the next.
    private let loop: ServiceLoop
    private let control = Locked(Control())

    private struct Control {
        /// Followed auctions and the last seq delivered (or known to the follower).
        var lastDelivered: [String: Int64] = [:]
        /// Auctions just followed: their log is read once, in case events came before the follow.
        var needsCatchUp: Set<String> = []
        /// On a cluster: auctions whose shard channel is to be subscribed, or no longer.
        var toSubscribe: Set<String> = []
        var toUnsubscribe: Set<String> = []
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
        loop = ServiceLoop(
            name: "auction-feed", interval: .zero,
            report: { error in failure(error as? AuctionStoreError ?? .unavailable(error as? RedisError ?? .server("\(error)"))) })
    }

    /// Delivers `auctionId`'s events after `seq` (the follower has folded in everything up to it).
    /// Non-blocking: safe to call from any thread, including the lws service thread.
    public func follow(_ auctionId: String, after seq: Int64) {
        control.withLock { control in
            control.lastDelivered[auctionId] = max(seq, control.lastDelivered[auctionId] ?? 0)
            control.needsCatchUp.insert(auctionId)
            control.toSubscribe.insert(auctionId)
            control.toUnsubscribe.remove(auctionId)
        }
    }

    /// Stops delivering `auctionId`'s events (it left the process's memory).
    public func unfollow(_ auctionId: String) {
        control.withLock { control in
            control.lastDelivered[auctionId] = nil
            control.needsCatchUp.remove(auctionId)
            control.toSubscribe.remove(auctionId)
            control.toUnsubscribe.insert(auctionId)
        }
    }

    public func start() {
        loop.start { [self] in
            Subscriber(feed: self, store: AuctionStore(endpoint: endpoint, retry: RetryPolicy(budget: .milliseconds(500))))
        }
    }

    public func stop() {
        loop.stop()
    }

    // MARK: - The loop

    /// The subscription and the store the feed reads logs with, on the feed's loop.
    private struct Subscriber: LoopWork {
        let feed: AuctionEventFeed
        let store: AuctionStore
        var subscription: Subscription?

        enum Subscription {
            /// Every auction's channel, by one pattern.
            case pattern(RedisConnection)
            /// The followed auctions' shard channels, each on its slot's primary.
            case sharded(ShardedSubscription)
        }

        init(feed: AuctionEventFeed, store: AuctionStore) {
            self.feed = feed
            self.store = store
        }

        mutating func pass(_ loop: ServiceLoop) throws -> Duration? {
            do {
                let subscription = try self.subscription ?? subscribe()
                self.subscription = subscription
                try feed.catchUpWhereNeeded(store)
                switch subscription {
                case .pattern(let connection):
                    // A pmessage is `["pmessage", pattern, channel, payload]`.
                    if let push = try connection.nextPush(timeout: .milliseconds(50)), let parts = push.array, parts.count == 4,
                        parts[0].string == "pmessage", let channel = parts[2].string, let payload = parts[3].string
                    {
                        try feed.receive(channel: channel, payload: payload, store)
                    }
                case .sharded(let shards):
                    // A shard failing over leaves its channels unplaced for a while; the others'
                    // events still come, so the failure is told and the subscription kept.
                    let event: ShardedSubscription.Event?
                    do {
                        feed.applySubscriptionChanges(shards)
                        event = try shards.next(timeout: .milliseconds(50))
                    } catch {
                        feed.failure(.unavailable(error))
                        return .zero
                    }
                    switch event {
                    case .message(let channel, let payload): try feed.receive(channel: channel, payload: payload, store)
                    case .subscribed(let channel):
                        // Confirmed by the node (first, or again after a failover or a move): from
                        // now on its events come live, and the log has any published before.
                        if let id = AuctionKeys.auctionId(ofChannel: channel) { feed.control.withLock { _ = $0.needsCatchUp.insert(id) } }
                    case nil: break
                    }
                }
                return .zero
            } catch {
                // A pattern subscription whose connection failed is made again; a sharded one
                // mends itself node by node.
                if case .pattern = subscription { subscription = nil }
                throw error
            }
        }

        /// A new subscription; whatever was published while there was none is in the logs.
        private func subscribe() throws -> Subscription {
            let subscription: Subscription
            if let seeds = feed.endpoint.cluster {
                let shards = try ShardedSubscription(seeds: seeds.map(feed.endpoint.node))
                feed.control.withLock { control in
                    control.toSubscribe = Set(control.lastDelivered.keys)
                    control.toUnsubscribe = []
                }
                feed.applySubscriptionChanges(shards)
                subscription = .sharded(shards)
            } else {
                let connection = try RedisConnection(endpoint: feed.endpoint)
                try connection.execute("PSUBSCRIBE", ServiceKeys.channelPattern)
                subscription = .pattern(connection)
            }
            feed.control.withLock { $0.needsCatchUp.formUnion($0.lastDelivered.keys) }
            return subscription
        }
    }

    /// Subscribes the auctions followed since the last pass and unsubscribes those let go.
    private func applySubscriptionChanges(_ shards: ShardedSubscription) {
        let (subscribe, unsubscribe) = control.withLock { control in
            defer {
                control.toSubscribe.removeAll()
                control.toUnsubscribe.removeAll()
            }
            return (control.toSubscribe, control.toUnsubscribe)
        }
        for id in unsubscribe { shards.unsubscribe(AuctionKeys(id).channel) }
        for id in subscribe { shards.subscribe(AuctionKeys(id).channel) }
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

    /// One published event: delivered if it is the next, after the log fills any gap before it.
    private func receive(channel: String, payload: String, _ store: AuctionStore) throws {
        guard let event = StoredEvent.decode(channel: channel, payload: payload) else { return }
        let id = event.auctionId
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
}
