import AuctionTesting
import Foundation
import Testing

@testable import RedisClient

/// Sharded pub/sub against a real local cluster of its own: channels on every shard, a channel
/// whose slot migrates, a primary killed and replaced by its replica.
@Suite(.serialized) struct ShardedSubscriptionTests {
    static let cluster = Result { try RedisCluster() }

    func channels(_ count: Int) -> [String] {
        let run = UUID().uuidString.prefix(8)
        return (0..<count).map { "auction:{shard-\(run)-\($0)}:events" }
    }

    /// What `subscription` yields until `enough` holds or `timeout` passes; failures while the
    /// cluster changes are retried, as the event feed retries.
    func collect(
        _ subscription: ShardedSubscription, timeout: Duration = .seconds(15),
        until enough: ([ShardedSubscription.Event]) -> Bool = { _ in false }
    ) -> [ShardedSubscription.Event] {
        var events: [ShardedSubscription.Event] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !enough(events) {
            do {
                if let event = try subscription.next(timeout: .milliseconds(50)) { events.append(event) }
            } catch { Thread.sleep(forTimeInterval: 0.1) }
        }
        return events
    }

    func subscribed(_ events: [ShardedSubscription.Event]) -> Set<String> {
        Set(events.compactMap { if case .subscribed(let channel) = $0 { channel } else { nil } })
    }

    func messages(_ events: [ShardedSubscription.Event]) -> Set<String> {
        Set(events.compactMap { if case .message(_, let payload) = $0 { payload } else { nil } })
    }

    /// Publishes `payload-of-channel` on each channel through the cluster client (SPUBLISH goes to
    /// the channel's slot), sending again while the cluster is failing over.
    func publish(_ channels: [String], _ client: RedisClusterConnection, tag: String) {
        for channel in channels {
            let deadline = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < deadline {
                if (try? client.execute("SPUBLISH", channel, "\(tag) \(channel)")) != nil { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    @Test func messagesOfChannelsOnEveryShardArriveFromTheirPrimaries() throws {
        let cluster = try Self.cluster.get()
        let client = try RedisClusterConnection(seeds: cluster.seeds)
        let subscription = try ShardedSubscription(seeds: [cluster.seeds[0]])
        let all = channels(30)
        for channel in all { subscription.subscribe(channel) }
        #expect(Set(all.map { client.map.primary(for: ClusterSlot.of($0)) }).count == 3, "channels on the three shards")
        #expect(subscribed(collect(subscription) { subscribed($0).count == all.count }) == Set(all), "each confirmed")
        publish(all, client, tag: "first")
        let first = collect(subscription) { messages($0).count == all.count }
        #expect(messages(first) == Set(all.map { "first \($0)" }))

        for channel in all.prefix(10) { subscription.unsubscribe(channel) }
        _ = collect(subscription, timeout: .milliseconds(300))
        publish(all, client, tag: "second")
        let second = collect(subscription, timeout: .seconds(3)) { messages($0).count == 20 }
        #expect(messages(second) == Set(all.dropFirst(10).map { "second \($0)" }), "nothing of the channels let go")
        #expect(subscription.subscribedChannels == Set(all.dropFirst(10)))
    }

    @Test func aChannelWhoseSlotMigratesIsSubscribedAgainAtItsNewOwner() throws {
        let cluster = try Self.cluster.get()
        let client = try RedisClusterConnection(seeds: cluster.seeds)
        let channel = channels(1)[0]
        let slot = ClusterSlot.of(channel)
        let subscription = try ShardedSubscription(seeds: cluster.seeds)
        subscription.subscribe(channel)
        #expect(subscribed(collect(subscription) { !subscribed($0).isEmpty }) == [channel])
        let sourceAddress = try #require(client.map.primary(for: slot))
        let targetAddress = try #require(client.map.primaries.first { $0 != sourceAddress })
        let (source, target) = (try #require(cluster.node(at: sourceAddress)), try #require(cluster.node(at: targetAddress)))
        let (sourceId, targetId) = (try cluster.id(of: source), try cluster.id(of: target))
        try target.connect().execute("CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceId)
        try source.connect().execute("CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetId)
        for node in cluster.nodes where node.pid != nil {
            _ = try? node.connect().execute("CLUSTER", "SETSLOT", String(slot), "NODE", targetId)
        }
        let moved = collect(subscription) { $0.contains(.subscribed(channel: channel)) }
        #expect(moved.contains(.subscribed(channel: channel)), "the old owner let the channel go, the new one took it: \(moved)")
        publish([channel], client, tag: "moved")
        #expect(messages(collect(subscription) { !messages($0).isEmpty }) == ["moved \(channel)"])
    }

    /// Last: it kills a primary.
    @Test func channelsOfAKilledPrimaryAreSubscribedAgainOnItsPromotedReplica() throws {
        let cluster = try Self.cluster.get()
        let client = try RedisClusterConnection(seeds: cluster.seeds)
        let all = channels(30)
        let subscription = try ShardedSubscription(seeds: cluster.seeds)
        for channel in all { subscription.subscribe(channel) }
        #expect(subscribed(collect(subscription) { subscribed($0).count == all.count }) == Set(all))
        let victimAddress = try #require(client.map.primary(for: ClusterSlot.of(all[0])))
        let orphans = Set(all.filter { client.map.primary(for: ClusterSlot.of($0)) == victimAddress })
        try #require(cluster.node(at: victimAddress)).kill9()
        let again = collect(subscription, timeout: .seconds(20)) { orphans.isSubset(of: subscribed($0)) }
        #expect(subscribed(again) == orphans, "the dead primary's channels, and only those, subscribed again")
        publish(all, client, tag: "after")
        let after = collect(subscription) { messages($0).count == all.count }
        #expect(messages(after) == Set(all.map { "after \($0)" }))
    }
}
