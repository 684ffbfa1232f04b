// Every Redis key name of the service, in one place. docs/ARCHITECTURE.md ("Live state in Redis")
// describes what each holds.

/// The keys of one auction. They share the hash tag `{auctionId}`, so on Redis Cluster they land in
/// one slot and one script may touch them all.
public struct AuctionKeys: Sendable, Equatable {
    public let auctionId: String
    public let prefix: String

    public init(_ auctionId: String) {
        self.auctionId = auctionId
        prefix = "auction:{\(auctionId)}"
    }

    /// String: the planned `AuctionState` as JSON — the fold's starting point.
    public var plan: String { prefix + ":plan" }
    /// Hash: what the bid script checks, kept in step with the log by the scripts that append to
    /// it (`status`, `stage`, `seq`, `timeline`, `prices`, `step`, `criteria`, `bidders`, `outages`).
    public var live: String { prefix + ":live" }
    /// Stream: every event in order, entry id `0-{seq}`.
    public var log: String { prefix + ":log" }
    /// Hash: stage index → the pending bid of that turn (`bidder amount at`).
    public var pending: String { prefix + ":pending" }
    /// Hash: `{bidder}:{requestId}` → `action amount stage`, a tab, and the first answer to that
    /// request: a retry of the same request gets it, a different one `request_id_reused`.
    public var requests: String { prefix + ":requests" }
    /// Hash: bid id → bidder number (the participation-token index).
    public var bidders: String { prefix + ":bidders" }
    /// String with a TTL: the process that drives this auction's clock.
    public var lease: String { prefix + ":lease" }
    /// String: the results report's JSON body, until the API accepts it.
    public var report: String { prefix + ":report" }
    /// String: a results report the API refused for good and the tender does not show; kept as
    /// the record of what was not accepted, never retried.
    public var refusedReport: String { prefix + ":reportRefused" }
    /// String with a TTL: the process writing this auction's links to the API right now.
    public var linksClaim: String { prefix + ":linksClaim" }
    /// Pub/sub channel of this auction's events (on a cluster, a shard channel in the
    /// auction's slot, like its keys).
    public var channel: String { prefix + ":events" }

    /// The auction whose events `channel` carries.
    public static func auctionId(ofChannel channel: String) -> String? {
        let (head, tail) = ("auction:{", "}:events")
        guard channel.hasPrefix(head), channel.hasSuffix(tail), channel.count > head.count + tail.count else { return nil }
        return String(channel.dropFirst(head.count).dropLast(tail.count))
    }

    /// Every key, for deleting an auction.
    var all: [String] { [plan, live, log, pending, requests, bidders, lease, report, refusedReport, linksClaim] }
}

/// Keys that span auctions. They are indexes, not the truth: each auction's own keys are, and
/// recovery repairs an index from them.
public enum ServiceKeys {
    /// Sorted set: auction id by start time (milliseconds).
    public static let schedule = "auctions:schedule"
    /// Hash: auction id → status.
    public static let status = "auctions:status"
    /// Set: auction ids whose results report waits to be accepted by the API.
    public static let outbox = "auctions:outbox"
    /// Set: auction ids whose links (`auctionUrl`, `participationUrl`s) wait to be accepted by the API.
    public static let linksOutbox = "auctions:links"
    /// Auctions whose audit document waits to be attached to the tender (docs/AUDIT.md).
    public static let auditOutbox = "auctions:audits"
    /// String per API collection: the tender list's `offset` the feed follower has handled up to.
    public static func feedPosition(_ resource: String) -> String { "tenderfeed:\(resource):offset" }
    /// Sorted set: `resource/tenderId` of listed tenders the feed could not plan, by the time
    /// (ms) of their next attempt.
    public static let skippedTenders = "tenderfeed:skipped"
    /// String: `µs count`, the Redis time when some process last said it was alive and how many
    /// outages are recorded (so that a bid reads both at once). It shares the tag `{auctiond}`
    /// with `outages`, so that the heartbeat script may write both on a cluster.
    public static let heartbeat = "auctiond:{auctiond}:heartbeat"
    /// List: `from:until` (µs) of each time every process was down.
    public static let outages = "auctiond:{auctiond}:outages"
    /// The names before they had a tag (until 2026-12-07): `adoptUntaggedServiceKeys` renames them.
    static let untagged = [("auctiond:heartbeat", heartbeat), ("auctiond:outages", outages)]
    /// The pattern that matches every auction's event channel.
    public static let channelPattern = "auction:{*}:events"
}
