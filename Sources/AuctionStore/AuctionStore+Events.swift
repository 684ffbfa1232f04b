// Appending the events AuctionCore decided (stage switches, outages, results, names, cancels) and reading an auction's log.
import AuctionCore
import Foundation
import RedisClient

public enum AppendOutcome: Sendable, Equatable {
    /// Appended as `seq`; `at` is the Redis time, which replaced any `redisTimePlaceholder`.
    case appended(seq: Int64, at: Timestamp)
    /// Another event came first: the log is at `seq`. Read it and decide again.
    case conflict(seq: Int64)
    /// Redis time is still before `notBefore`.
    case early(now: Timestamp)
    /// A stage switch waits: an outage is pending for the auction (Redis or every process was down
    /// and the heartbeat has not recorded it, or the clock has not applied it yet). For an
    /// auction's own outage on a cluster: it is not the one pending any more (read it again).
    case outagePending
    /// The lease is not (or no longer) this owner's.
    case notLeaseHolder
}

/// One event for `AuctionStore.append(_:)`: see `append(_:to:next:…)` for each part.
public struct AppendRequest: Sendable {
    public var event: AuctionEvent
    public var replica: AuctionReplica
    public var next: AuctionState
    public var leaseOwner: String?
    public var notBefore: Timestamp?
    public var stampWithRedisTime: Bool

    public init(
        _ event: AuctionEvent, to replica: AuctionReplica, next: AuctionState, leaseOwner: String? = nil,
        notBefore: Timestamp? = nil, stampWithRedisTime: Bool = false
    ) {
        self.event = event
        self.replica = replica
        self.next = next
        self.leaseOwner = leaseOwner
        self.notBefore = notBefore
        self.stampWithRedisTime = stampWithRedisTime
    }
}

extension AuctionStore {
    // MARK: - Appending events

    /// Appends `event`, which `replica` decided, if nothing was appended since (compare-and-set on
    /// `replica.seq`). `next` is the state after the event: the bid script's values are updated
    /// from it in the same step. With `leaseOwner`, only that lease's holder may append.
    public func append(
        _ event: AuctionEvent, to replica: AuctionReplica, next: AuctionState, leaseOwner: String? = nil,
        notBefore: Timestamp? = nil, stampWithRedisTime: Bool = false
    ) throws(AuctionStoreError) -> AppendOutcome {
        let request = AppendRequest(
            event, to: replica, next: next, leaseOwner: leaseOwner, notBefore: notBefore, stampWithRedisTime: stampWithRedisTime)
        return try append([request])[0].get()
    }

    /// `append` for events of several auctions in one round trip (the clock switching the stages
    /// of every auction that is due at the same second). Each is its own compare-and-set, with its
    /// own outcome or error; the index follows the appended ones in one more round trip.
    public func append(_ requests: [AppendRequest]) throws(AuctionStoreError) -> [Result<AppendOutcome, AuctionStoreError>] {
        guard !requests.isEmpty else { return [] }
        let replies = try evaluateBatch(Scripts.append, calls: requests.map(appendCall))
        let outcomes = zip(requests, replies).map { request, reply in
            Result { () throws(AuctionStoreError) in try Self.appendOutcome(reply, auctionId: request.replica.auctionId) }
        }
        let moves: [(String, AuctionStatus, Timestamp?)] = zip(requests, outcomes).compactMap { request, outcome in
            guard case .success(.appended) = outcome else { return nil }
            let (before, after) = (request.replica.state, request.next)
            let moved = after.input.startDate != before.input.startDate
            guard after.status != before.status || moved else { return nil }
            return (request.replica.auctionId, after.status, moved ? after.input.startDate : nil)
        }
        try index(moves)
        return outcomes
    }

    func appendCall(_ request: AppendRequest) -> (keys: [String], arguments: [String]) {
        let (event, replica, next) = (request.event, request.replica, request.next)
        let keys = AuctionKeys(replica.auctionId)
        let clearPending: String =
            switch event {
            case .stageStarted(let index, _) where index > 0 && replica.state.stages[index - 1].kind == .bids: String(index - 1)
            case .cancelled, .rescheduled: "all"
            case .outageRecovered where next.status == .rescheduled: "all"
            case .replanned: "reset"
            default: ""
            }
        let mirror = LiveMirror.fields(of: next)
        var fields = StoredEvent.fields(of: event)
        if request.stampWithRedisTime { fields = fields.map { $0.0 == "at" ? ($0.0, redisTimePlaceholder) : $0 } }
        var arguments = [
            request.leaseOwner ?? "", String(replica.seq), request.notBefore.map { String($0.microseconds) } ?? "", keys.channel,
            clearPending, String(mirror.count),
        ]
        let ends = next.status != replica.state.status && next.status.hasEnded
        let expiry: String =
            if case .replanned = event { "persist" } else if ends { String(max(1, policy.retention.wholeMilliseconds)) } else { "" }
        arguments +=
            mirror.flatMap { [$0.0, $0.1] } + [String(policy.outageThreshold.wholeMicroseconds), expiry]
            + fields.flatMap { [$0.0, $0.1] }
        return (
            [keys.live, keys.log, keys.pending, keys.lease, keys.requests, keys.plan, keys.bidders, keys.report, keys.refusedReport]
                + heartbeatKeys,
            arguments
        )
    }

    static func appendOutcome(_ reply: RedisReply, auctionId: String) throws(AuctionStoreError) -> AppendOutcome {
        if case .error(let message) = reply { throw .redis(message) }
        let parts = reply.array ?? []
        func int(_ i: Int) -> Int64? { i < parts.count ? parts[i].integer : nil }
        switch parts.first?.string {
        case "appended": if let seq = int(1), let at = int(2) { return .appended(seq: seq, at: Timestamp(microseconds: at)) }
        case "conflict": if let seq = int(1) { return .conflict(seq: seq) }
        case "early": if let now = int(1) { return .early(now: Timestamp(microseconds: now)) }
        case "outage": return .outagePending
        case "lease": return .notLeaseHolder
        case "missing": throw .unknownAuction(auctionId)
        default: break
        }
        throw .redis("append script answered \(reply)")
    }

    /// Appends the event `decide` makes of the auction's latest state (stamped with Redis time),
    /// reading the log again and asking again whenever another event came first. Returns the state
    /// decided on and the event appended, or nil as the event when `decide` declined (or its event
    /// does not apply to that state).
    public func appendDecided(
        _ auctionId: String, attempts: Int = 10, _ decide: (AuctionState, Timestamp) -> AuctionEvent?
    ) throws(AuctionStoreError) -> (state: AuctionState, event: AuctionEvent?) {
        for _ in 0..<attempts {
            let replica = try load(auctionId)
            guard let event = decide(replica.state, try now()) else { return (replica.state, nil) }
            var next = replica.state
            do { try next.apply(event) } catch { return (replica.state, nil) }
            if case .appended = try append(event, to: replica, next: next, stampWithRedisTime: true) { return (replica.state, event) }
        }
        throw .contended(auctionId: auctionId)
    }
}
