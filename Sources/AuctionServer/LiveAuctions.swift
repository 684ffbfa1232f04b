// What one auctiond process knows of the live auctions and who is connected to them: a replica of
// each auction (kept in step by the event feed) and every WebSocket session. One lock guards it;
// it is touched by the lws thread (connects, messages), the feed thread (events) and the workers.
import AuctionCore
import AuctionStore
import Foundation
import Locking
import Synchronization
import WebServer

/// One connected WebSocket.
struct Session {
    let socket: any LiveConnection
    let auctionId: String
    let role: SessionRole
    /// Messages in the current one-second window, and violations in a row.
    var windowStart: Int64 = 0
    var messagesInWindow = 0
    var violations = 0
    /// Request ids this connection sent lately: it gets their answer directly, so the copy the
    /// feed brings for the bidder's other connections is not sent to it again.
    var ownRequestIds: [String] = []

    mutating func remember(_ requestId: String) {
        ownRequestIds.append(requestId)
        if ownRequestIds.count > 64 { ownRequestIds.removeFirst() }
    }
}

struct LiveAuction {
    var replica: AuctionReplica
    var sockets: Set<UInt64> = []
    /// When this process first saw the auction ended (announced, cancelled, rescheduled).
    var endedAt: ContinuousClock.Instant?
}

final class LiveAuctions: Sendable {
    struct Contents {
        var auctions: [String: LiveAuction] = [:]
        var sessions: [UInt64: Session] = [:]
        var connectionsPerPeer: [String: Int] = [:]
        /// Open connections per participation link (`linkKey`).
        var connectionsPerLink: [String: Int] = [:]
    }

    static func linkKey(_ auctionId: String, _ bidder: Int) -> String { "\(auctionId)#\(bidder)" }

    private let contents = Locked(Contents())

    func withContents<T>(_ body: (inout Contents) throws -> T) rethrows -> T {
        try contents.withLock { try body(&$0) }
    }

    func contains(_ auctionId: String) -> Bool { contents.withLock { $0.auctions[auctionId] != nil } }

    var auctionIds: Set<String> { contents.withLock { Set($0.auctions.keys) } }

    func replica(_ auctionId: String) -> AuctionReplica? { contents.withLock { $0.auctions[auctionId]?.replica } }

    /// Adds an auction loaded from Redis, unless the feed already brought a newer copy.
    func insert(_ replica: AuctionReplica) {
        contents.withLock { contents in
            if let existing = contents.auctions[replica.auctionId], existing.replica.seq >= replica.seq { return }
            let sockets = contents.auctions[replica.auctionId]?.sockets ?? []
            contents.auctions[replica.auctionId] = LiveAuction(replica: replica, sockets: sockets)
        }
    }
}

/// The order a public state is written in: the auction's bidders before its observers, each in
/// the order given. Handing one state to thousands of sockets takes a while, and no bidder may
/// learn that a turn began later than another bidder because of where
/// the observers happen to sit in a set.
func biddersFirst<Element>(_ items: [Element], isBidder: (Element) -> Bool) -> [Element] {
    var bidders: [Element] = []
    var observers: [Element] = []
    for item in items {
        if isBidder(item) { bidders.append(item) } else { observers.append(item) }
    }
    return bidders + observers
}
