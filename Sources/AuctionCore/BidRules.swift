/// Why a bid was refused. The raw values are the protocol's `bidRejected.code`s (PROTOCOL.md).
public enum BidRejectionCode: String, Codable, Sendable, CaseIterable {
    case tooHigh = "too_high"
    case tooLow = "too_low"
    case notYourTurn = "not_your_turn"
    case notBiddingStage = "not_bidding_stage"
    case turnOver = "turn_over"
    case invalidAmount = "invalid_amount"
    case observer = "observer"
    /// The `requestId` was used before for a different request; nothing changed (PROTOCOL.md).
    case requestIdReused = "request_id_reused"
}

public struct BidRejection: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: BidRejectionCode
    public let message: String

    public init(_ code: BidRejectionCode, _ message: String? = nil) {
        self.code = code
        self.message = message ?? Self.defaultMessage(code)
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The ProZorro module's wording where it had one (SPEC §4).
    static func defaultMessage(_ code: BidRejectionCode) -> String {
        switch code {
        case .tooHigh: "Too high value"
        case .tooLow: "Too low value"
        case .notYourTurn: "Not valid bidder"
        case .notBiddingStage: "Stage not for bidding"
        case .turnOver: "Your turn is over"
        case .invalidAmount: "Invalid amount"
        case .observer: "Observers cannot bid"
        case .requestIdReused: "This requestId was already used for a different request; nothing changed. Use a new requestId."
        }
    }
}

/// A bid amount as it came over the wire: clients may send a JSON number or a string.
public enum AmountInput: Sendable, Equatable {
    case text(String)
    case number(Double)
}

/// What a bid message asks for once its amount is read.
public enum BidIntent: Sendable, Equatable {
    case place(Money)
    /// `amount: -1` withdraws this turn's pending bid (the ProZorro page's convention).
    case cancel
}

/// Reads an amount: a well-formed number with at most two decimals below the maximum, or -1 for
/// cancel. Sign and size against the bidder's price are the step rule's business, not this one's.
public func readBidIntent(_ input: AmountInput) -> Result<BidIntent, BidRejection> {
    do {
        let money: Money
        switch input {
        case .text(let text): money = try Money(parsing: text)
        case .number(let value): money = try Money(jsonNumber: value)
        }
        return .success(money == Money(kopiyky: -100) ? .cancel : .place(money))
    } catch {
        return .failure(BidRejection(.invalidAmount, "Invalid amount: \(error)"))
    }
}

/// The step rule (SPEC §4). It compares with the bidder's own price before this turn, not the
/// leader's: lowestCost needs `0 < amount ≤ own − step`, highestCost `amount ≥ own + step`.
public func checkStep(amount: Money, own: Money, step: Money, criteria: AwardCriteria) -> BidRejection? {
    switch criteria {
    case .lowestCost:
        if amount <= .zero { return BidRejection(.tooLow) }
        if amount > own - step { return BidRejection(.tooHigh, "Too high value: at most \(own - step)") }
    case .highestCost:
        if amount < own + step { return BidRejection(.tooLow, "Too low value: at least \(own + step)") }
    }
    return nil
}
