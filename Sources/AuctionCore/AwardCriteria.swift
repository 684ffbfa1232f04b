/// Which way the price goes (SPEC §2): `lowestCost` tenders fall and the lowest wins;
/// `highestCost` DGF auctions rise and the highest wins.
public enum AwardCriteria: String, Codable, Sendable, CaseIterable {
    case lowestCost
    case highestCost

    /// Whether normalised price `a` beats `b` (strictly).
    public func isBetter(_ a: Rational, than b: Rational) -> Bool {
        self == .lowestCost ? a < b : b < a
    }
}

/// A bidder's standing price and the instant it was made (the bid's date, or the server time at
/// which a bid in the auction was accepted).
public struct Price: Codable, Hashable, Sendable {
    public var amount: Money
    public var date: Timestamp

    public init(amount: Money, date: Timestamp) {
        self.amount = amount
        self.date = date
    }
}

/// Orders bidders best first: better normalised price first; equal prices, the earlier date wins;
/// equal dates too, the lower bidder number (so the order is total and replays identically).
public func rankBestFirst(
    _ entries: [(bidder: Int, normalized: Rational, date: Timestamp)], criteria: AwardCriteria
) -> [Int] {
    entries.sorted { a, b in
        if a.normalized != b.normalized { return criteria.isBetter(a.normalized, than: b.normalized) }
        if a.date != b.date { return a.date < b.date }
        return a.bidder < b.bidder
    }.map(\.bidder)
}
