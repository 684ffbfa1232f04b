// Bids and cancels: the bid script, one bid or a batch in one round trip.
import AuctionCore
import Foundation
import RedisClient

public enum BidVerdict: Sendable, Equatable {
    case accepted(seq: Int64, amount: Money, at: Timestamp)
    case cancelled(seq: Int64, at: Timestamp)
    /// Not recorded; `at` is the Redis time it was judged at.
    case rejected(BidRejectionCode, at: Timestamp)

    /// Whether it changed the auction (an accepted bid or a cancel).
    public var isChange: Bool { if case .rejected = self { false } else { true } }
}

/// What a bidder asks for, once the message is read.
public enum BidRequest: Sendable, Equatable {
    case place(Money)
    case cancel
    /// An amount that is not a valid amount: refused as `invalid_amount` unless the turn check
    /// refuses it first (the same order as `AuctionState.decideBid`).
    case invalid

    public init(_ intent: Result<BidIntent, BidRejection>) {
        switch intent {
        case .success(.place(let money)): self = .place(money)
        case .success(.cancel): self = .cancel
        case .failure: self = .invalid
        }
    }
}

/// One bid for `AuctionStore.placeBids`.
public struct BidSubmission: Sendable, Equatable {
    public var auctionId: String
    public var bidder: Int
    public var request: BidRequest
    public var requestId: String
    /// When the bid reached the process, by its `RedisClock`: it is judged at that time if it
    /// waited no longer than the store's `maxBidWait` (nil: judged when Redis runs it).
    public var arrivedAt: Timestamp?

    public init(auctionId: String, bidder: Int, request: BidRequest, requestId: String, arrivedAt: Timestamp? = nil) {
        self.auctionId = auctionId
        self.bidder = bidder
        self.request = request
        self.requestId = requestId
        self.arrivedAt = arrivedAt
    }
}

/// The rules a store applies that are the service's configuration, the same in every process.

extension AuctionStore {
    // MARK: - Bids

    /// Decides and records a bid atomically in Redis (see `Scripts.bid`). Safe to retry with the
    /// same `requestId`: a retry after a lost connection returns the first answer.
    public func placeBid(auctionId: String, bidder: Int, request: BidRequest, requestId: String) throws(AuctionStoreError) -> BidVerdict {
        try placeBids([BidSubmission(auctionId: auctionId, bidder: bidder, request: request, requestId: requestId)])[0].get()
    }

    /// Decides and records several bids in one round trip: the scripts run one after the other, in
    /// this order, and with `appendfsync always` Redis writes them to disk with one fsync instead
    /// of one each. Each bid gets its own verdict or error. Throws only when Redis stays
    /// unreachable; the whole batch may then be sent again, since every bid is idempotent by its
    /// `requestId`.
    public func placeBids(_ bids: [BidSubmission]) throws(AuctionStoreError) -> [Result<BidVerdict, AuctionStoreError>] {
        guard !bids.isEmpty else { return [] }
        let calls = bids.map {
            bidCall(auctionId: $0.auctionId, bidder: $0.bidder, request: $0.request, requestId: $0.requestId, arrivedAt: $0.arrivedAt)
        }
        let (replies, replicated) = try evaluateBatch(Scripts.bid, calls: calls, thenWaitFor: policy.replicasToAck)
        return zip(bids, replies).enumerated().map { index, pair in
            let (bid, reply) = pair
            return Result { () throws(AuctionStoreError) in
                let verdict = try Self.verdict(reply, auctionId: bid.auctionId)
                // A change that a failover could still lose is not acknowledged (a rejection
                // changes nothing: judged again, it is judged the same or later).
                if let replicated, replicated[index] < policy.replicasToAck, verdict.isChange {
                    throw .notReplicated(auctionId: bid.auctionId, replicas: replicated[index], needed: policy.replicasToAck)
                }
                return verdict
            }
        }
    }

    static func verdict(_ reply: RedisReply, auctionId: String) throws(AuctionStoreError) -> BidVerdict {
        if case .error(let message) = reply { throw .redis(message) }
        guard let text = reply.string, let answer = BidScriptReply(text) else { throw .redis("bid script answered \(reply)") }
        switch answer {
        case .verdict(let verdict): return verdict
        case .missing: throw .unknownAuction(auctionId)
        case .outage: throw .outagePending(auctionId: auctionId)
        }
    }

    func bidCall(
        auctionId: String, bidder: Int, request: BidRequest, requestId: String, arrivedAt: Timestamp? = nil
    ) -> (keys: [String], arguments: [String]) {
        let keys = AuctionKeys(auctionId)
        let (action, amount): (String, String) =
            switch request {
            case .place(let money): ("place", String(money.kopiyky))
            case .cancel: ("cancel", "")
            case .invalid: ("invalid", "")
            }
        return (
            [keys.live, keys.log, keys.pending, keys.requests] + heartbeatKeys,
            [
                String(bidder), action, amount, requestId, keys.channel, String(policy.outageThreshold.wholeMicroseconds),
                arrivedAt.map { String($0.microseconds) } ?? "", String(policy.maxBidWait.wholeMicroseconds),
            ]
        )
    }

    /// The `EVALSHA` command `placeBid` sends, word by word, after loading the script: so that
    /// redis-benchmark can run the very same script beside the service (auction-loadtest).
    public func bidScriptCommand(auctionId: String, bidder: Int, amount: Money, requestId: String) throws(AuctionStoreError) -> [String] {
        let source = Scripts.bid.source(onCluster: endpoint.cluster != nil)
        let hash = try run { connection in try connection.execute("SCRIPT", "LOAD", source).string ?? "" }
        let call = bidCall(auctionId: auctionId, bidder: bidder, request: .place(amount), requestId: requestId)
        return ["EVALSHA", hash, String(call.keys.count)] + call.keys + call.arguments
    }
}
