// The clock's leases and the process heartbeat that tells an outage.
import AuctionCore
import Foundation
import RedisClient

/// An interval in which no process could reach the auction's Redis (SPEC §3), in Redis time.
public struct Outage: Sendable, Equatable {
    public var from: Timestamp
    public var until: Timestamp

    public init(from: Timestamp, until: Timestamp) {
        self.from = from
        self.until = until
    }
}

extension AuctionStore {
    // MARK: - Leases and liveness

    /// Takes or renews the lease on `auctionId`'s clock. Returns whether `owner` holds it now.
    public func acquireLease(_ auctionId: String, owner: String, ttl: Duration) throws(AuctionStoreError) -> Bool {
        try acquireLeases([auctionId], owner: owner, ttl: ttl)[0]
    }

    /// `acquireLease` for several auctions in one round trip (a clock with hundreds of auctions
    /// renews them all each second; one by one, each would wait for its own fsync).
    public func acquireLeases(_ auctionIds: [String], owner: String, ttl: Duration) throws(AuctionStoreError) -> [Bool] {
        let calls = auctionIds.map { id in (keys: [AuctionKeys(id).lease], arguments: [owner, String(ttl.wholeMilliseconds)]) }
        return try evaluateBatch(Scripts.acquireLease, calls: calls).map { reply throws(AuctionStoreError) in
            if case .error(let message) = reply { throw .redis(message) }
            return reply.integer == 1
        }
    }

    /// Gives the leases up so that another process takes over at once.
    public func releaseLeases(_ auctionIds: [String], owner: String) throws(AuctionStoreError) {
        guard !auctionIds.isEmpty else { return }
        let calls = auctionIds.map { id in (keys: [AuctionKeys(id).lease], arguments: [owner]) }
        for reply in try evaluateBatch(Scripts.releaseLease, calls: calls) {
            if case .error(let message) = reply { throw .redis(message) }
        }
    }

    /// Says this process is alive and returns how many outages (every process down for longer
    /// than `threshold`) have been recorded in all.
    public func heartbeat(threshold: Duration) throws(AuctionStoreError) -> Int {
        let reply = try evaluate(
            Scripts.heartbeat, keys: [ServiceKeys.heartbeat, ServiceKeys.outages], arguments: [String(threshold.wholeMicroseconds)])
        return Int(reply.integer ?? 0)
    }

    /// Renames the heartbeat and the outages from their names before they had a tag, where only
    /// the old ones exist (a Redis that served an earlier version), so that an outage that spans the
    /// upgrade is still measured and the outage counts of planned auctions still agree. One server
    /// only: a cluster never held the old names. Returns the keys renamed.
    @discardableResult
    public func adoptUntaggedServiceKeys() throws(AuctionStoreError) -> [String] {
        guard endpoint.cluster == nil else { return [] }
        var renamed: [String] = []
        for (old, new) in ServiceKeys.untagged {
            let moved = try run { connection in
                try connection.execute(
                    "EVAL",
                    "if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then "
                        + "redis.call('RENAME', KEYS[1], KEYS[2]) return 1 end return 0", "2", old, new)
            }
            if moved.integer == 1 { renamed.append(old) }
        }
        return renamed
    }

    /// The heartbeat's keys for the bid and event scripts: on one server; none on a cluster.
    var heartbeatKeys: [String] { endpoint.cluster == nil ? [ServiceKeys.heartbeat, ServiceKeys.outages] : [] }

    /// Whether outages are each auction's own (a cluster: `stamp`), or the service's (one server
    /// or Sentinel: `heartbeat`). See `Scripts.outagePending`.
    public var outagesArePerAuction: Bool { endpoint.cluster != nil }

    /// Says that this process reached each auction's shard (`Scripts.stamp`; a cluster's outage
    /// rule), each shard apart: one shard that cannot be reached must not leave the others'
    /// auctions unstamped, which would make an outage of theirs. Returns, for each auction, the
    /// outage it has pending (nil for none) or why its shard could not be reached.
    public func stamp(_ auctionIds: [String]) -> [Result<Outage?, AuctionStoreError>] {
        let calls = auctionIds.map { id in (keys: [AuctionKeys(id).live], arguments: [String(policy.outageThreshold.wholeMicroseconds)]) }
        return evaluateEachServerApart(Scripts.stamp, calls: calls).map { reply in
            Result { () throws(AuctionStoreError) -> Outage? in
                let text = try reply.get().string ?? ""
                if text.isEmpty { return nil }
                let parts = text.split(separator: " ").compactMap { Int64($0) }
                guard parts.count == 2 else { throw .redis("stamp script answered \(text)") }
                return Outage(from: Timestamp(microseconds: parts[0]), until: Timestamp(microseconds: parts[1]))
            }
        }
    }

    /// Recorded outages from index `first` on (0-based), oldest first.
    public func outages(from first: Int) throws(AuctionStoreError) -> [(from: Timestamp, until: Timestamp)] {
        let reply = try run { try $0.execute("LRANGE", ServiceKeys.outages, String(first), "-1") }
        return (reply.array ?? []).compactMap { item in
            let parts = (item.string ?? "").split(separator: ":").compactMap { Int64($0) }
            guard parts.count == 2 else { return nil }
            return (Timestamp(microseconds: parts[0]), Timestamp(microseconds: parts[1]))
        }
    }

    /// Redis' own clock: the one deadlines are judged by.
    public func now() throws(AuctionStoreError) -> Timestamp {
        let parts = try run { try $0.execute("TIME") }.array ?? []
        guard parts.count == 2, let seconds = parts[0].integer, let micro = parts[1].integer else {
            throw .redis("TIME answered \(parts)")
        }
        return Timestamp(microseconds: seconds * 1_000_000 + micro)
    }

    /// Whether Redis keeps an acknowledged write through a crash: `appendonly yes` and
    /// `appendfsync always` (SPEC §7). A Redis that refuses `CONFIG GET` cannot say.
    public func durability() throws(AuctionStoreError) -> RedisDurability {
        let replies = try run { try $0.exchange([command("CONFIG", "GET", "appendonly"), command("CONFIG", "GET", "appendfsync")]) }
        var values: [String: String] = [:]
        for reply in replies {
            if case .error(let message) = reply { return .unverifiable(reason: message) }
            values.merge(Self.fieldMap(reply.array ?? [])) { $1 }
        }
        for (setting, needed) in [("appendonly", "yes"), ("appendfsync", "always")] {
            guard let value = values[setting] else { return .unverifiable(reason: "CONFIG GET \(setting) answered nothing") }
            if value.lowercased() != needed { return .lossy(setting: setting, value: value, needed: needed) }
        }
        return .durable
    }

    /// Whether Redis answers, without retrying.
    public func ping() -> Bool {
        (try? connected().execute("PING")) == .status("PONG")
    }
}
