import AuctionCore

/// A process's copy of one auction, kept in step with its log: the planned state folded over
/// every event up to `seq`. Any process can build one from Redis alone (`AuctionStore.load`).
public struct AuctionReplica: Sendable {
    public let planned: AuctionState
    public private(set) var state: AuctionState
    /// The last event folded in; 0 for none.
    public private(set) var seq: Int64 = 0
    /// Service-wide outages recorded before this auction was planned (they do not concern it).
    public let outagesAtPlan: Int
    /// How many `outageRecovered` events the log holds: each recorded outage is looked at once.
    public private(set) var outagesApplied = 0
    /// The chain's head as of `seq` (docs/AUDIT.md); nil while the events folded in carry none.
    public private(set) var head: String?

    public init(planned: AuctionState, outagesAtPlan: Int = 0) {
        self.planned = planned
        self.state = planned
        self.outagesAtPlan = outagesAtPlan
    }

    public var auctionId: String { planned.input.auctionId }

    /// Service-wide outages this auction has taken into account (recorded outages are counted
    /// from the start of the service's list).
    public var outagesConsidered: Int { outagesAtPlan + outagesApplied }

    /// What became of an event offered to the replica.
    public enum Step: Equatable, Sendable {
        case applied
        /// Seen already (a duplicate from pub/sub after a catch-up).
        case duplicate
        /// Events between `seq` and this one are missing: read them from the log first.
        case gap
    }

    /// Folds in the next event of the log.
    @discardableResult
    public mutating func apply(_ event: SequencedEvent) throws(AuctionStoreError) -> Step {
        if event.seq <= seq { return .duplicate }
        if event.seq > seq + 1 { return .gap }
        do { try state.apply(event.event) } catch {
            throw .corrupted(auctionId: auctionId, reason: "event \(event.seq): \(error)")
        }
        if case .outageRecovered = event.event { outagesApplied += 1 }
        head = event.hash
        seq = event.seq
        return .applied
    }

    /// What every observer receives; once the results are final (`finished`, `announced`), with
    /// the chain's head, by which anyone can check the auction's record.
    public func publicView(serverTime: Timestamp) -> PublicAuctionState {
        var view = state.publicView(serverTime: serverTime)
        if state.status == .finished || state.status == .announced { view.chainHead = head }
        return view
    }

    /// Folds in consecutive events read from the log.
    public mutating func catchUp(with events: [SequencedEvent]) throws(AuctionStoreError) {
        for event in events where try apply(event) == .gap {
            throw .corrupted(auctionId: auctionId, reason: "the log skips from \(seq) to \(event.seq)")
        }
    }
}
