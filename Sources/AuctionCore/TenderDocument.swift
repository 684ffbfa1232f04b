/// The parts of a tender (or DGF auction) document the service reads, as the API sends them:
/// the public `GET /tenders/{id}` and the private `GET …/{id}/auction` view. Every field is
/// optional here; `AuctionInput` decides what is required and says so when it is missing.
public struct TenderDocument: Codable, Sendable, Equatable {
    public struct Value: Codable, Sendable, Equatable {
        public var amount: Double
        public var currency: String?
        public var valueAddedTaxIncluded: Bool?
    }

    public struct Period: Codable, Sendable, Equatable {
        public var startDate: String?
        public var endDate: String?
        public var shouldStartAfter: String?
    }

    public struct Organization: Codable, Sendable, Equatable {
        public var name: String?
    }

    public struct Lot: Codable, Sendable, Equatable {
        public var id: String
        public var status: String?
        public var title: String?
        public var value: Value?
        public var minimalStep: Value?
        public var auctionPeriod: Period?
        public var auctionUrl: String?
    }

    public struct Item: Codable, Sendable, Equatable {
        public var id: String
        public var relatedLot: String?
    }

    public struct Feature: Codable, Sendable, Equatable {
        public struct Option: Codable, Sendable, Equatable {
            public var value: Double
        }

        public var code: String
        public var featureOf: String
        public var relatedItem: String?
        public var `enum`: [Option]
    }

    public struct Parameter: Codable, Sendable, Equatable {
        public var code: String
        public var value: Double
    }

    public struct LotValue: Codable, Sendable, Equatable {
        public var relatedLot: String
        public var value: Value?
        public var date: String?
        public var status: String?
        public var participationUrl: String?
    }

    public struct Bid: Codable, Sendable, Equatable {
        public var id: String
        public var status: String?
        public var date: String?
        public var value: Value?
        public var parameters: [Parameter]?
        public var lotValues: [LotValue]?
        public var tenderers: [Organization]?
        public var participationUrl: String?
    }

    /// Absent only in a creation request; the service refuses a tender without one.
    public var id: String?
    public var tenderID: String?
    public var title: String?
    public var title_en: String?
    public var status: String?
    public var procuringEntity: Organization?
    public var procurementMethod: String?
    public var procurementMethodType: String?
    public var procurementMethodDetails: String?
    public var submissionMethodDetails: String?
    public var awardCriteria: String?
    public var value: Value?
    public var minimalStep: Value?
    public var auctionPeriod: Period?
    public var auctionUrl: String?
    public var lots: [Lot]?
    public var items: [Item]?
    public var features: [Feature]?
    public var bids: [Bid]?
}

/// The API's envelope: every body is `{"data": …}`.
public struct APIEnvelope<Payload: Codable & Sendable>: Codable, Sendable {
    public var data: Payload

    public init(data: Payload) { self.data = data }
}
