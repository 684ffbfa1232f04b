import RedisClient

/// Why a store operation did not happen. Each case says so in plain English; none leaves a
/// half-applied change behind, because every change is one script.
public enum AuctionStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Redis did not answer within the retry budget; nothing was changed by this call or, for a
    /// retried idempotent call, its first answer is the one that counts.
    case unavailable(RedisError)
    /// Redis answered an error (a bug in a script or a key of the wrong type).
    case redis(String)
    case unknownAuction(String)
    /// The stored plan or log cannot be read back: a bug or a hand-edited key.
    case corrupted(auctionId: String, reason: String)
    /// Other writers kept changing the auction: a compare-and-set lost every attempt.
    case contended(auctionId: String)
    /// Redis, or every process, was down: the auction's timeline is about to move by the outage
    /// (SPEC §3), so nothing was judged or recorded. Send it again shortly (same `requestId`).
    case outagePending(auctionId: String)
    /// The primary recorded it, but fewer than `needed` replicas had it within the wait
    /// (`redisReplicasToAck`): a failover now could lose it. Send it again (same `requestId`).
    case notReplicated(auctionId: String, replicas: Int, needed: Int)

    public var description: String {
        switch self {
        case .unavailable(let error): "Redis is unavailable: \(error)"
        case .redis(let message): "Redis refused a command: \(message)"
        case .unknownAuction(let id): "no auction \(id) in Redis"
        case .corrupted(let id, let reason): "the stored state of auction \(id) is unreadable: \(reason)"
        case .contended(let id): "auction \(id) kept changing; nothing was written"
        case .outagePending(let id): "auction \(id) is recovering from an outage; nothing was judged"
        case .notReplicated(let id, let replicas, let needed):
            "a change to auction \(id) reached \(replicas) of the \(needed) Redis replicas it must reach before it is acknowledged"
        }
    }
}

/// How long to keep retrying Redis after a lost connection, and how fast: exponential backoff
/// from `initialDelay` up to `maximumDelay`, giving up after `budget`.
public struct RetryPolicy: Sendable {
    public var initialDelay: Duration
    public var maximumDelay: Duration
    public var budget: Duration

    public init(initialDelay: Duration = .milliseconds(20), maximumDelay: Duration = .milliseconds(500), budget: Duration = .seconds(3)) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.budget = budget
    }
}
