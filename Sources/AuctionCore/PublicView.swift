/// The public auction state of PROTOCOL.md: what every observer may see. Built only from what is
/// public — no bid ids, tokens, pending bids, or names before the announcement.
public struct PublicAuctionState: Codable, Sendable, Equatable {
    public struct Amount: Codable, Sendable, Equatable {
        public var amount: String
        public var currency: String
        public var valueAddedTaxIncluded: Bool?
    }

    public struct StageView: Codable, Sendable, Equatable {
        public var type: Stage.Kind
        public var round: Int?
        public var bidder: Int?
        public var start: Int64
        public var end: Int64?
        public var amount: String?
        public var normalizedAmount: String?
        public var changed: Bool?
        /// The server time of the bid that changed the price in this turn, once the turn has ended.
        public var time: Int64? = nil
    }

    public struct BidView: Codable, Sendable, Equatable {
        public var bidder: Int
        public var amount: String?
        public var normalizedAmount: String?
        public var time: Int64
    }

    public struct BidderView: Codable, Sendable, Equatable {
        public var number: Int
        public var label: String
        public var name: String?
        /// MEAT: the bidder's coefficient as an exact fraction ("23/20"), shown with the amounts
        /// once the results are final; the price that ranks is amount / coefficient.
        public var coefficient: String? = nil

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(number, forKey: .number)
            try container.encode(label, forKey: .label)
            try container.encode(name, forKey: .name)  // null until announced, as the protocol shows
            try container.encodeIfPresent(coefficient, forKey: .coefficient)
        }

        enum CodingKeys: String, CodingKey { case number, label, name, coefficient }
    }

    public var id: String
    public var tenderId: String
    public var lotId: String?
    public var tenderID: String?
    public var title: String?
    public var title_en: String?
    public var procuringEntity: [String: String]
    public var procurementMethodType: String?
    public var awardCriteria: AwardCriteria
    public var value: Amount
    public var minimalStep: Amount
    public var status: AuctionStatus
    public var currentStage: Int
    public var stages: [StageView]
    public var initialBids: [BidView]
    public var results: [BidView]
    public var bidders: [BidderView]
    public var serverTime: Int64
    /// The SHA-256 head of the auction's record (docs/AUDIT.md), once the results are final.
    public var chainHead: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, tenderId, lotId, tenderID, title, title_en, procuringEntity, procurementMethodType, awardCriteria
        case value, minimalStep, status, currentStage, stages, initialBids, results, bidders, serverTime, chainHead
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(tenderId, forKey: .tenderId)
        try c.encode(lotId, forKey: .lotId)  // null for a tender without lots
        try c.encodeIfPresent(tenderID, forKey: .tenderID)
        try c.encodeIfPresent(title, forKey: .title)
        try c.encodeIfPresent(title_en, forKey: .title_en)
        try c.encode(procuringEntity, forKey: .procuringEntity)
        try c.encodeIfPresent(procurementMethodType, forKey: .procurementMethodType)
        try c.encode(awardCriteria, forKey: .awardCriteria)
        try c.encode(value, forKey: .value)
        try c.encode(minimalStep, forKey: .minimalStep)
        try c.encode(status, forKey: .status)
        try c.encode(currentStage, forKey: .currentStage)
        try c.encode(stages, forKey: .stages)
        try c.encode(initialBids, forKey: .initialBids)
        try c.encode(results, forKey: .results)
        try c.encode(bidders, forKey: .bidders)
        try c.encode(serverTime, forKey: .serverTime)
        try c.encodeIfPresent(chainHead, forKey: .chainHead)
    }
}

extension AuctionState {
    /// The projection every observer receives. MEAT auctions show normalised prices and hide the
    /// money amounts until the results are posted (PROTOCOL.md).
    public func publicView(serverTime: Timestamp) -> PublicAuctionState {
        let revealAmounts = !input.isMEAT || status == .finished || status == .announced
        func bid(_ bidder: Int, _ price: Price) -> PublicAuctionState.BidView {
            PublicAuctionState.BidView(
                bidder: bidder, amount: revealAmounts ? price.amount.formatted : nil,
                normalizedAmount: input.isMEAT ? normalizedText(bidder, price.amount) : nil,
                time: price.date.milliseconds)
        }
        let stageViews = stages.map { stage in
            PublicAuctionState.StageView(
                type: stage.kind, round: stage.round, bidder: stage.bidder, start: stage.start.milliseconds,
                end: stage.end?.milliseconds,
                amount: revealAmounts ? stage.outcome?.amount.formatted : nil,
                normalizedAmount: input.isMEAT ? stageNormalizedText(stage) : nil,
                changed: stage.changed, time: stage.changed == true ? stage.outcome?.date.milliseconds : nil)
        }
        return PublicAuctionState(
            id: input.auctionId, tenderId: input.tenderId, lotId: input.lotId, tenderID: input.tenderID,
            title: input.title, title_en: input.titleEn, procuringEntity: ["name": input.procuringEntityName ?? ""],
            procurementMethodType: input.procurementMethodType, awardCriteria: input.criteria,
            value: .init(amount: input.value.formatted, currency: input.currency, valueAddedTaxIncluded: input.valueAddedTaxIncluded),
            minimalStep: .init(amount: input.minimalStep.formatted, currency: input.currency, valueAddedTaxIncluded: nil),
            status: status, currentStage: currentStage, stages: stageViews,
            initialBids: participants.enumerated().map { bid($0.offset + 1, $0.element.initial) },
            results: ranking.map { bid($0, prices[$0 - 1]) },
            bidders: participants.indices.map { index in
                .init(
                    number: index + 1, label: "Bidder \(index + 1)", name: status == .announced ? names?[index] : nil,
                    coefficient: input.isMEAT && revealAmounts ? participants[index].coefficient.description : nil)
            },
            serverTime: serverTime.milliseconds)
    }

    private func stageNormalizedText(_ stage: Stage) -> String? {
        guard let outcome = stage.outcome, let bidder = stage.bidder else { return nil }
        return normalizedText(bidder, outcome.amount)
    }

    private func normalizedText(_ bidder: Int, _ amount: Money) -> String {
        participants[bidder - 1].normalized(amount).roundedMoney.formatted
    }
}
