// The index of auctions: ids by start time and their status.
import AuctionCore
import Foundation
import RedisClient

extension AuctionStore {
    // MARK: - The index of auctions

    /// Every auction the index knows, with its status, soonest start first.
    public func indexedAuctions() throws(AuctionStoreError) -> [(id: String, status: AuctionStatus?, startMilliseconds: Int64)] {
        let replies = try run {
            try $0.pipeline([command("ZRANGE", ServiceKeys.schedule, "0", "-1", "WITHSCORES"), command("HGETALL", ServiceKeys.status)])
        }
        let statuses = Self.fieldMap(replies[1].array ?? [])
        let flat = replies[0].array ?? []
        return stride(from: 0, to: flat.count - 1, by: 2).compactMap { i in
            guard let id = flat[i].string, let score = flat[i + 1].string.flatMap(Double.init) else { return nil }
            return (id, statuses[id].flatMap(AuctionStatus.init(rawValue:)), Int64(score))
        }
    }

    func index(_ auctionId: String, status: AuctionStatus, start: Timestamp?) throws(AuctionStoreError) {
        try index([(auctionId, status, start)])
    }

    /// Whether the auction's plan is still in Redis (not expired).
    public func exists(_ auctionId: String) throws(AuctionStoreError) -> Bool {
        try run { try $0.execute("EXISTS", AuctionKeys(auctionId).plan) }.integer == 1
    }

    /// Takes an auction whose keys are gone (expired after the retention) out of the index.
    public func unindex(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.pipeline([command("ZREM", ServiceKeys.schedule, auctionId), command("HDEL", ServiceKeys.status, auctionId)]) }
    }

    /// Records each auction's status, and its start when given, in one round trip.
    func index(_ entries: [(auctionId: String, status: AuctionStatus, start: Timestamp?)]) throws(AuctionStoreError) {
        guard !entries.isEmpty else { return }
        var commands: [[[UInt8]]] = []
        for entry in entries {
            commands.append(command("HSET", ServiceKeys.status, entry.auctionId, entry.status.rawValue))
            if let start = entry.start {
                commands.append(command("ZADD", ServiceKeys.schedule, String(start.milliseconds), entry.auctionId))
            }
        }
        _ = try run { try $0.pipeline(commands) }
    }
}
