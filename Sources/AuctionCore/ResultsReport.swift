/// The body of `POST …/{id}/auction[/{lotId}]` (SPEC §5.3): one entry per tender bid in tender
/// order. A participant carries its final price and date (for a lot, inside the matching
/// `lotValues` entry); every other bid carries only its id. The API refuses any other count or set.
public struct ResultsReport: Codable, Sendable, Equatable {
    public struct ReportedValue: Codable, Sendable, Equatable {
        /// A JSON number, as the API expects; see `Money.jsonNumber` for why it is exact.
        public var amount: Double
    }

    public struct LotEntry: Codable, Sendable, Equatable {
        public var relatedLot: String
        public var date: String?
        public var value: ReportedValue?
    }

    public struct BidEntry: Codable, Sendable, Equatable {
        public var id: String
        public var date: String?
        public var value: ReportedValue?
        public var lotValues: [LotEntry]?
    }

    public struct Body: Codable, Sendable, Equatable {
        public var bids: [BidEntry]
    }

    public var data: Body
}

extension AuctionState {
    /// The report of the prices standing now (final once `resultsAreFinal`).
    public func resultsReport() -> ResultsReport {
        var final: [String: Price] = [:]
        for (index, participant) in participants.enumerated() { final[participant.bidId] = prices[index] }
        let entries = input.tenderBids.map { tenderBid -> ResultsReport.BidEntry in
            guard let price = final[tenderBid.id] else { return .init(id: tenderBid.id) }
            let date = price.date.iso8601
            let value = ResultsReport.ReportedValue(amount: price.amount.jsonNumber)
            guard let lotId = input.lotId else { return .init(id: tenderBid.id, date: date, value: value) }
            let lots = (tenderBid.lotIds ?? [lotId]).map { related in
                related == lotId
                    ? ResultsReport.LotEntry(relatedLot: related, date: date, value: value)
                    : ResultsReport.LotEntry(relatedLot: related)
            }
            return .init(id: tenderBid.id, lotValues: lots)
        }
        return ResultsReport(data: .init(bids: entries))
    }
}
