/// Why a tender cannot become an auction. Each case reads as a sentence an operator can act on.
public enum AuctionInputError: Error, Equatable, Sendable, CustomStringConvertible {
    case limitedProcedure(type: String)
    case unsupportedAwardCriteria(String)
    case lotRequired(tenderId: String)
    case lotNotFound(tenderId: String, lotId: String)
    case lotNotActive(lotId: String, status: String)
    case noLots(tenderId: String)
    case missingField(String)
    case invalidAmount(field: String, reason: String)
    case invalidDate(field: String, text: String)
    case invalidFeatures(String)

    public var description: String {
        switch self {
        case .limitedProcedure(let type):
            "'\(type)' is a limited procedure: it never has an auction"
        case .unsupportedAwardCriteria(let criteria):
            "awardCriteria '\(criteria)' is not supported (only lowestCost and highestCost)"
        case .lotRequired(let tender): "tender \(tender) has lots: name the lot"
        case .lotNotFound(let tender, let lot): "tender \(tender) has no lot \(lot)"
        case .lotNotActive(let lot, let status): "lot \(lot) is '\(status)', not active"
        case .noLots(let tender): "tender \(tender) has no lots, but a lot was named"
        case .missingField(let field): "the tender has no \(field)"
        case .invalidAmount(let field, let reason): "\(field) is not a valid amount: \(reason)"
        case .invalidDate(let field, let text): "\(field) '\(text)' is not an ISO 8601 date"
        case .invalidFeatures(let reason): "the features are invalid: \(reason)"
        }
    }
}

/// Sandbox speed-ups (SPEC §3): `quick(mode:no-auction)` posts the initial bids at once,
/// `quick(mode:fast-forward)` runs every stage with zero length.
public enum AuctionMode: String, Codable, Sendable {
    case normal
    case noAuction
    case fastForward
}

/// One bid of the tender as the report needs it: every tender bid, in tender order.
public struct TenderBid: Codable, Sendable, Equatable {
    public var id: String
    /// The bid's lotValues' lots in order (lot tenders only), to shape the report entry.
    public var lotIds: [String]?
}

/// One participant: a bid that takes part in this auction.
public struct Participant: Codable, Sendable, Equatable {
    public var bidId: String
    public var initial: Price
    /// MEAT coefficient `c`; 1 when the tender has no features.
    public var coefficient: Rational
    /// The tenderer's name, revealed only at announcement.
    public var name: String?

    /// The price that decides order and winner: `amount / c` (the amount itself without MEAT).
    public func normalized(_ amount: Money) -> Rational { Rational(amount) / coefficient }
}

/// Everything an auction needs from the tender, decoded and checked: the rules, the
/// participants and the metadata the public page shows.
public struct AuctionInput: Codable, Sendable, Equatable {
    public var tenderId: String
    public var lotId: String?
    public var tenderID: String?
    public var title: String?
    public var titleEn: String?
    public var procuringEntityName: String?
    public var procurementMethodType: String?
    public var criteria: AwardCriteria
    public var value: Money
    public var currency: String
    public var valueAddedTaxIncluded: Bool
    public var minimalStep: Money
    public var startDate: Timestamp
    public var participants: [Participant]
    public var tenderBids: [TenderBid]
    /// Whether non-price criteria weight the price (some feature applies to this auction).
    public var isMEAT: Bool
    /// `procurementMethodDetails: "quick, accelerator=N"`; 1 when absent.
    public var accelerator: Int
    public var mode: AuctionMode
    /// The API collection the tender lives in (`tenders`, or `auctions` for DGF): the path of its
    /// page and of the reporter's calls. Set by the planner; nil reads as `tenders`.
    public var resource: String?

    /// `{tenderId}` or `{tenderId}_{lotId}` (SPEC §2).
    public var auctionId: String { lotId.map { "\(tenderId)_\($0)" } ?? tenderId }

    /// Builds the input from the private auction view, with metadata from the public tender when
    /// given (the private view may leave it out).
    public init(
        auctionView view: TenderDocument, publicTender: TenderDocument? = nil, lotId: String? = nil
    )
        throws(AuctionInputError)
    {
        let tender = publicTender ?? view
        let method = tender.procurementMethod ?? view.procurementMethod
        let type = tender.procurementMethodType ?? view.procurementMethodType
        if method == "limited" || ["reporting", "negotiation", "negotiation.quick"].contains(type ?? "") {
            throw .limitedProcedure(type: type ?? method ?? "limited")
        }
        criteria = try Self.criteria(tender.awardCriteria ?? view.awardCriteria, type: type)
        guard let id = view.id ?? tender.id else { throw .missingField("id") }

        tenderId = id
        self.lotId = lotId
        tenderID = tender.tenderID ?? view.tenderID
        title = tender.title ?? view.title
        titleEn = tender.title_en ?? view.title_en
        procuringEntityName = (tender.procuringEntity ?? view.procuringEntity)?.name
        procurementMethodType = type

        // Value, step and start come from the lot for a lot auction, from the tender otherwise.
        let lots = view.lots ?? []
        let valueField: TenderDocument.Value?
        let stepField: TenderDocument.Value?
        let period: TenderDocument.Period?
        if let lotId {
            guard !lots.isEmpty else { throw .noLots(tenderId: id) }
            guard let lot = lots.first(where: { $0.id == lotId }) else {
                throw .lotNotFound(tenderId: id, lotId: lotId)
            }
            if let status = lot.status, status != "active" { throw .lotNotActive(lotId: lotId, status: status) }
            (valueField, stepField, period) = (lot.value ?? view.value, lot.minimalStep ?? view.minimalStep, lot.auctionPeriod)
        } else {
            guard lots.isEmpty else { throw .lotRequired(tenderId: id) }
            (valueField, stepField, period) = (view.value, view.minimalStep, view.auctionPeriod ?? tender.auctionPeriod)
        }
        guard let valueField else { throw .missingField("value") }
        guard let stepField else { throw .missingField("minimalStep") }
        value = try Self.positiveMoney(valueField.amount, field: "value.amount")
        minimalStep = try Self.positiveMoney(stepField.amount, field: "minimalStep.amount")
        currency = valueField.currency ?? "UAH"
        valueAddedTaxIncluded = valueField.valueAddedTaxIncluded ?? true
        guard let startText = period?.startDate else { throw .missingField("auctionPeriod.startDate") }
        guard let start = Timestamp(iso8601: startText) else { throw .invalidDate(field: "auctionPeriod.startDate", text: startText) }
        startDate = start

        let features = try Self.applicableFeatures(view, lotId: lotId)
        isMEAT = !features.isEmpty
        let bids = view.bids ?? []
        tenderBids = bids.map { TenderBid(id: $0.id, lotIds: $0.lotValues.map { $0.map(\.relatedLot) }) }
        var participants: [Participant] = []
        for bid in bids {
            guard let offer = try Self.offer(of: bid, lotId: lotId) else { continue }
            // DGF: a bid below the starting value is invalid (SPEC §2) and takes no part.
            if criteria == .highestCost && offer.amount < value { continue }
            let coefficient = try features.isEmpty ? .one : Self.coefficient(of: bid, features: features)
            participants.append(
                Participant(bidId: bid.id, initial: offer, coefficient: coefficient, name: bid.tenderers?.first?.name))
        }
        self.participants = participants

        let details = (tender.procurementMethodDetails ?? view.procurementMethodDetails ?? "")
        accelerator = Self.accelerator(details)
        let submission = tender.submissionMethodDetails ?? view.submissionMethodDetails ?? ""
        if submission.contains("quick(mode:no-auction)") {
            mode = .noAuction
        } else if submission.contains("quick(mode:fast-forward)") {
            mode = .fastForward
        } else {
            mode = .normal
        }
    }

    /// Every active lot with its own start date is its own auction (SPEC §2).
    public static func auctionLots(of tender: TenderDocument) -> [String] {
        (tender.lots ?? []).filter { ($0.status ?? "active") == "active" && $0.auctionPeriod?.startDate != nil }.map(\.id)
    }

    // MARK: - Pieces

    private static func criteria(_ text: String?, type: String?) throws(AuctionInputError) -> AwardCriteria {
        guard let text else {
            // The API's default: DGF sales rise, tenders fall.
            return (type ?? "").hasPrefix("dgf") ? .highestCost : .lowestCost
        }
        guard let criteria = AwardCriteria(rawValue: text) else { throw .unsupportedAwardCriteria(text) }
        return criteria
    }

    private static func positiveMoney(_ value: Double, field: String) throws(AuctionInputError) -> Money {
        let money: Money
        do { money = try Money(jsonNumber: value) } catch { throw .invalidAmount(field: field, reason: "\(error)") }
        guard money > .zero else { throw .invalidAmount(field: field, reason: "must be positive, got \(money)") }
        return money
    }

    /// The bid's offer in this auction, or nil if it takes no part: only `active` bids, and for a
    /// lot only a `lotValues` entry of that lot that is not `unsuccessful` (SPEC §2).
    private static func offer(of bid: TenderDocument.Bid, lotId: String?) throws(AuctionInputError) -> Price? {
        guard (bid.status ?? "active") == "active" else { return nil }
        let value: TenderDocument.Value?
        let dateText: String?
        if let lotId {
            guard let entry = bid.lotValues?.first(where: { $0.relatedLot == lotId }),
                (entry.status ?? "active") != "unsuccessful"
            else { return nil }
            (value, dateText) = (entry.value, entry.date ?? bid.date)
        } else {
            (value, dateText) = (bid.value, bid.date)
        }
        guard let value else { throw .missingField("value of bid \(bid.id)") }
        guard let dateText else { throw .missingField("date of bid \(bid.id)") }
        guard let date = Timestamp(iso8601: dateText) else { throw .invalidDate(field: "date of bid \(bid.id)", text: dateText) }
        return Price(amount: try positiveMoney(value.amount, field: "value of bid \(bid.id)"), date: date)
    }

    /// Features of the tenderer, of this lot, or of this lot's items (SPEC §4 MEAT); without lots,
    /// every feature. Each as (code, its largest option value).
    private static func applicableFeatures(_ view: TenderDocument, lotId: String?) throws(AuctionInputError) -> [String: Rational] {
        var result: [String: Rational] = [:]
        let itemsOfLot = Set((view.items ?? []).filter { lotId == nil || $0.relatedLot == lotId }.map(\.id))
        for feature in view.features ?? [] {
            let applies: Bool
            switch feature.featureOf {
            case "tenderer": applies = true
            case "lot": applies = lotId == nil || feature.relatedItem == lotId
            case "item": applies = feature.relatedItem.map(itemsOfLot.contains) ?? false
            default: throw .invalidFeatures("feature \(feature.code) is of '\(feature.featureOf)'")
            }
            guard applies else { continue }
            var largest = Rational.zero
            for option in feature.enum {
                guard let value = Rational(jsonNumber: option.value), value >= .zero else {
                    throw .invalidFeatures("feature \(feature.code) has the option value \(option.value)")
                }
                largest = max(largest, value)
            }
            result[feature.code] = largest
        }
        let total = result.values.reduce(Rational.zero, +)
        guard total < .one else { throw .invalidFeatures("the largest option values add up to \(total), at least 1") }
        return result
    }

    /// `c = 1 + Σ(parameter values) / (1 − Σ(largest option of each feature))`, over the
    /// applicable features only. Exact.
    private static func coefficient(of bid: TenderDocument.Bid, features: [String: Rational]) throws(AuctionInputError) -> Rational {
        var sum = Rational.zero
        for parameter in bid.parameters ?? [] {
            guard let largest = features[parameter.code] else { continue }
            guard let value = Rational(jsonNumber: parameter.value), value >= .zero, value <= largest else {
                throw .invalidFeatures("bid \(bid.id) gives \(parameter.code) the value \(parameter.value)")
            }
            sum = sum + value
        }
        let weights = features.values.reduce(Rational.zero, +)
        return .one + sum / (.one - weights)
    }

    private static func accelerator(_ details: String) -> Int {
        let marker = "accelerator="
        guard let found = details.firstRange(of: marker) else { return 1 }
        let digits = details[found.upperBound...].prefix { $0.isASCIIDigit }
        return max(1, Int(digits) ?? 1)
    }
}
