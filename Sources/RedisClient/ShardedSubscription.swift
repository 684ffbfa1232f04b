// Sharded pub/sub on a Redis Cluster (SSUBSCRIBE, Redis 7): a channel's messages are published on
// the primary that owns its slot and go no further, so each channel is subscribed there, on one
// connection per primary. When a channel's slot changes hands (a failover, a migration: the node
// says `sunsubscribe` or `MOVED`, or its connection breaks) it is subscribed again where the map
// now says. Each subscription is reported once the node confirms it (`subscribed`): from then on
// its messages come, and what was published before (or meanwhile) was missed, and the
// caller reads it from wherever it keeps it. hiredis 0.14 knows no sharded subscriptions, so
// this reads them with its synchronous API, polling the connections' sockets together.
import Foundation

/// Used by one thread at a time.
public final class ShardedSubscription {
    public enum Event: Equatable, Sendable {
        /// A message published on `channel`.
        case message(channel: String, payload: String)
        /// The node confirmed `channel`'s subscription (the first, or again after its slot moved):
        /// every message published from now on comes; any published before did not.
        case subscribed(channel: String)
    }

    private let cluster: RedisClusterConnection
    /// The channels asked for, and the primary each is subscribed on (nil: not placed yet).
    private var channels: [String: RedisAddress?] = [:]
    private var nodes: [RedisAddress: RedisConnection] = [:]
    private var events: [Event] = []
    /// Channels not subscribed on any node yet.
    private var unplaced: Set<String> = []

    /// Reads the slot map at once, through `seeds`.
    public init(seeds: [RedisEndpoint], timeout: Duration = .seconds(2)) throws(RedisError) {
        cluster = try RedisClusterConnection(seeds: seeds, timeout: timeout)
    }

    /// The channels subscribed (or to be), for tests and diagnostics.
    public var subscribedChannels: Set<String> { Set(channels.keys) }

    /// Subscribes `channel` on the primary of its slot, now if it can (else `next` tries again
    /// and tells why it cannot).
    public func subscribe(_ channel: String) {
        guard channels[channel] == nil else { return }
        channels[channel] = .some(nil)
        unplaced.insert(channel)
        nextPlacement = .now
        try? placeUnplaced()
    }

    /// Stops the subscription of `channel`.
    public func unsubscribe(_ channel: String) {
        guard let placed = channels.removeValue(forKey: channel) else { return }
        unplaced.remove(channel)
        guard let address = placed, let connection = nodes[address] else { return }
        do { try connection.send([[Array("SUNSUBSCRIBE".utf8), Array(channel.utf8)]]) } catch { lost(address) }
    }

    /// The next message or resubscription, waiting up to `timeout`; nil when nothing came.
    /// Throws when channels cannot be placed (no node serves their slot: a failover is under
    /// way); the other channels' messages still come, and placing is tried again every
    /// `placementRetry`.
    public func next(timeout: Duration) throws(RedisError) -> Event? {
        try placeUnplaced()
        if let event = takeEvent() { return event }
        for (address, connection) in nodes {
            do {
                while let push = try connection.bufferedPush() { handle(push, from: address) }
            } catch { lost(address) }
        }
        if let event = takeEvent() { return event }
        guard !nodes.isEmpty else {
            // Nothing subscribed anywhere (yet): wait as a read would have.
            timeout.sleep()
            return nil
        }
        let ready = RedisConnection.readable(Array(nodes.values), timeout: timeout)
        for connection in ready {
            guard let address = nodes.first(where: { $0.value === connection })?.key else { continue }
            do {
                // Readable: one read takes what came, or finds the connection's failure.
                try connection.readAvailable()
                while let push = try connection.bufferedPush() { handle(push, from: address) }
            } catch { lost(address) }
        }
        try placeUnplaced()
        return takeEvent()
    }

    /// How often channels that could not be placed are tried again.
    public var placementRetry = Duration.milliseconds(100)
    private var nextPlacement = ContinuousClock.now

    private func placeUnplaced() throws(RedisError) {
        guard !unplaced.isEmpty, ContinuousClock.now >= nextPlacement else { return }
        do { try place(Array(unplaced)) } catch {
            nextPlacement = .now + placementRetry
            throw error
        }
    }

    public func disconnect() {
        nodes.values.forEach { $0.disconnect() }
        nodes = [:]
        cluster.disconnect()
    }

    // MARK: -

    private func takeEvent() -> Event? { events.isEmpty ? nil : events.removeFirst() }

    /// Subscribes each of `wanted` on its slot's primary as the map has it now.
    private func place(_ wanted: [String]) throws(RedisError) {
        try cluster.refreshMapIfStale()
        var byNode: [RedisAddress: [String]] = [:]
        for channel in wanted where channels[channel] != nil {
            let slot = ClusterSlot.of(Array(channel.utf8))
            guard let owner = try cluster.primary(for: slot) else {
                throw .server("CLUSTERDOWN no node serves slot \(slot) of channel \(channel)")
            }
            byNode[owner, default: []].append(channel)
        }
        for (address, list) in byNode {
            do throws(RedisError) {
                let connection: RedisConnection
                if let known = nodes[address] {
                    connection = known
                } else {
                    connection = try RedisConnection(endpoint: cluster.seeds[0].node(address), timeout: cluster.timeout)
                    nodes[address] = connection
                }
                // One slot per call: each channel on its own SSUBSCRIBE.
                try connection.send(list.map { [Array("SSUBSCRIBE".utf8), Array($0.utf8)] })
            } catch {
                lost(address)
                throw error
            }
            for channel in list {
                channels[channel] = address
                unplaced.remove(channel)
            }
        }
    }

    /// `["smessage", channel, payload]`, `["ssubscribe" | "sunsubscribe", channel, count]`, or an
    /// error answering an SSUBSCRIBE sent where the slot no longer is.
    private func handle(_ push: RedisReply, from address: RedisAddress) {
        if case .error(let message) = push {
            // `MOVED slot host:port` (or CLUSTERDOWN): every channel of that node goes again.
            cluster.mapMayHaveChanged(ClusterRedirection(errorReply: message))
            displaceChannels(of: address)
            return
        }
        guard let parts = push.array, parts.count == 3, let kind = parts[0].string, let channel = parts[1].string else { return }
        switch kind {
        case "ssubscribe":
            if channels[channel] == address { events.append(.subscribed(channel: channel)) }
        case "smessage":
            if channels[channel] == address, let payload = parts[2].string { events.append(.message(channel: channel, payload: payload)) }
        case "sunsubscribe":
            // Asked for (the channel is gone from the list), or the slot left this node.
            if channels[channel] == address {
                displace(channel)
                cluster.mapMayHaveChanged()
            }
        default:
            break
        }
    }

    private func displace(_ channel: String) {
        channels[channel] = .some(nil)
        unplaced.insert(channel)
    }

    private func displaceChannels(of address: RedisAddress) {
        for (channel, placed) in channels where placed == address { displace(channel) }
        cluster.mapMayHaveChanged()
        nextPlacement = .now
    }

    /// The node's connection broke: its channels go where the map says next.
    private func lost(_ address: RedisAddress) {
        nodes.removeValue(forKey: address)?.disconnect()
        displaceChannels(of: address)
    }
}
