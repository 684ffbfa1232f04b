import AuctionCore
import Foundation

/// A tender document as the API's private auction view sends it, for tests and the demo: bids
/// given as amounts (bid i is dated i seconds after the first), without features.
public func sampleTender(
    id: String = "tender-1", criteria: AwardCriteria = .lowestCost, value: Double = 1000, step: Double = 10,
    amounts: [Double] = [900, 950, 980], start: Timestamp
) -> [String: Any] {
    let bids: [[String: Any]] = amounts.enumerated().map { index, amount in
        [
            "id": "\(id)-bid\(index + 1)", "status": "active",
            "date": Timestamp(microseconds: start.microseconds - 86_400_000_000 + Int64(index) * 1_000_000).iso8601,
            "value": ["amount": amount, "currency": "UAH", "valueAddedTaxIncluded": true],
            "tenderers": [["name": "Учасник \(index + 1)"]],
        ]
    }
    return [
        "id": id, "tenderID": "UA-2026-11-23-\(id)", "title": "Тестова закупівля", "title_en": "Test tender",
        "status": "active.auction", "procuringEntity": ["name": "Школа №10"], "procurementMethod": "open",
        "procurementMethodType": criteria == .lowestCost ? "aboveThresholdTS" : "dgfOtherAssets",
        "awardCriteria": criteria.rawValue,
        "value": ["amount": value, "currency": "UAH", "valueAddedTaxIncluded": true],
        "minimalStep": ["amount": step, "currency": "UAH", "valueAddedTaxIncluded": true],
        "auctionPeriod": ["startDate": start.iso8601], "bids": bids,
    ]
}

/// The auction input of `sampleTender`.
public func sampleAuctionInput(
    id: String = "tender-1", criteria: AwardCriteria = .lowestCost, value: Double = 1000, step: Double = 10,
    amounts: [Double] = [900, 950, 980], start: Timestamp
) throws -> AuctionInput {
    let document = sampleTender(id: id, criteria: criteria, value: value, step: step, amounts: amounts, start: start)
    let data = try JSONSerialization.data(withJSONObject: document)
    return try AuctionInput(auctionView: JSONDecoder().decode(TenderDocument.self, from: data))
}

/// A planned auction with short stages (milliseconds), starting at `start`.
public func samplePlannedAuction(
    id: String = "tender-1", criteria: AwardCriteria = .lowestCost, amounts: [Double] = [900, 950, 980],
    start: Timestamp, firstPause: Int64 = 100, pause: Int64 = 100, turn: Int64 = 100, maxOutageShiftMilliseconds: Int64 = 120_000
) throws -> AuctionState {
    let input = try sampleAuctionInput(
        id: id, criteria: criteria, value: criteria == .lowestCost ? 1000 : 100, amounts: amounts, start: start)
    let durations = StageDurations(firstPause: firstPause, pauseBeforeRound: pause, turn: turn)
    let settings = ScheduleSettings(lowestCost: durations, highestCost: durations, maxOutageShiftMilliseconds: maxOutageShiftMilliseconds)
    return AuctionState.planned(input, settings: settings, now: start)
}
