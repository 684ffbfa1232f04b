import AuctionTesting
import Foundation

@testable import AuctionCore

/// Files under Tests/AuctionCoreTests/Resources.
func resource(_ path: String) throws -> Data {
    let url = Bundle.module.resourceURL!.appendingPathComponent(path)
    return try Data(contentsOf: url)
}

/// A seed fixture's `data` document.
func seedDocument(_ name: String) throws -> TenderDocument {
    try JSONDecoder().decode(APIEnvelope<TenderDocument>.self, from: resource("seeds/\(name)")).data
}

func timestamp(_ text: String) -> Timestamp { Timestamp(iso8601: text)! }

/// A small tender for rule tests: bids given as (amount, seconds after noon), no features.
func simpleInput(
    _ criteria: AwardCriteria = .lowestCost, value: Double = 1000, step: Double = 10,
    bids: [(Double, Int)] = [(900, 1), (950, 2)], start: String = "2026-11-23T12:00:00+02:00",
    procurementMethodDetails: String? = nil, submissionMethodDetails: String? = nil
) throws -> AuctionInput {
    let document = TenderDocument(
        id: "t1", tenderID: "UA-2026-11-23-000001", title: "Тест", title_en: "Test", status: "active.auction",
        procuringEntity: .init(name: "Школа №10"), procurementMethod: "open", procurementMethodType: "aboveThresholdTS",
        procurementMethodDetails: procurementMethodDetails, submissionMethodDetails: submissionMethodDetails,
        awardCriteria: criteria.rawValue, value: .init(amount: value, currency: "UAH", valueAddedTaxIncluded: true),
        minimalStep: .init(amount: step, currency: "UAH", valueAddedTaxIncluded: true),
        auctionPeriod: .init(startDate: start), auctionUrl: nil, lots: nil, items: nil, features: nil,
        bids: bids.enumerated().map { index, bid in
            TenderDocument.Bid(
                id: "bid\(index + 1)", status: "active",
                date: String(format: "2026-11-23T11:%02d:%02d.000000+02:00", bid.1 / 60, bid.1 % 60),
                value: .init(amount: bid.0, currency: "UAH", valueAddedTaxIncluded: true), parameters: nil,
                lotValues: nil, tenderers: [.init(name: "Учасник \(index + 1)")], participationUrl: nil)
        })
    return try AuctionInput(auctionView: document)
}

enum JSONEncoderForTests {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
