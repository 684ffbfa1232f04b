import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

@Suite struct ResultsReportTests {
    @Test func oneEntryPerTenderBidInTenderOrder() throws {
        let input = try AuctionInput(auctionView: seedDocument("twostage-auction-view.json"))
        let state = AuctionState.planned(input, now: input.startDate)
        let json = try JSONEncoderForTests.encode(state.resultsReport())
        #expect(
            json
                == #"{"data":{"bids":[{"date":"2017-02-16T11:35:29.334583+00:00","id":"64c6b855beba4212a4e8434cec225ff3","value":{"amount":475}},{"date":"2017-02-16T11:35:29.806823+00:00","id":"35e7d4ecdfe2489989257ea9acd43787","value":{"amount":480}},{"id":"631df1f78a114db8afb0c09592b20178"}]}}"#
        )
    }

    @Test func lotResultsGoInsideTheMatchingLotValue() throws {
        let document = try seedDocument("two-lots-auction-view.json")
        let input = try AuctionInput(auctionView: document, lotId: "f2542173d5f74511bd1d3fd7b0ca6333")
        let report = AuctionState.planned(input, now: input.startDate).resultsReport()
        #expect(report.data.bids.map(\.id) == document.bids!.map(\.id))
        #expect(
            report.data.bids[0].lotValues?.map(\.relatedLot) == ["f2542173d5f74511bd1d3fd7b0ca6333", "37dbcb6cabfe4c44b6c42457cb39dcc9"])
        #expect(report.data.bids[0].lotValues?[0].value?.amount == 480)
        #expect(report.data.bids[0].lotValues?[1].value == nil)
        #expect(report.data.bids[0].value == nil)
    }

    @Test func dgfReportCarriesTheRaisedPriceAndSkipsTheDraftBid() throws {
        let document = try seedDocument("dgf-auction-view.json")
        let input = try AuctionInput(auctionView: document)
        var state = AuctionState.planned(input, now: input.startDate)
        try state.apply(.stageStarted(index: 0, at: state.stages[0].start))
        try state.apply(.stageStarted(index: 1, at: state.stages[1].start))
        // Bidder 1 is the lower bid (120.00) and raises by at least the step (35.00).
        try state.apply(state.decideBid(bidder: 1, amount: .text("171.00"), at: state.inside(1)).get())
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        let report = state.resultsReport().data.bids
        #expect(report.map(\.id) == document.bids!.map(\.id))
        #expect(report[0].value?.amount == 171)
        #expect(report[1].value?.amount == 135.5)
        #expect(report[2].value == nil && report[2].date == nil)
        #expect(state.ranking.first == 1)
    }

    @Test func amountsAreExactJSONNumbers() throws {
        var state = try runningAuction(to: 1, bids: [(14395.71, 1), (14400, 2)])
        try state.apply(state.decideBid(bidder: 1, amount: .text("14327.97"), at: state.inside(1)).get())
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        let json = try JSONEncoderForTests.encode(state.resultsReport())
        #expect(json.contains(#""amount":14327.97"#))
        #expect(json.contains(#""amount":14395.71"#))
    }
}
