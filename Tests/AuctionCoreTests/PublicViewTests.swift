import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

@Suite struct PublicViewTests {
    @Test func nothingSecretLeaksBeforeTheAnnouncement() throws {
        var state = try runningAuction(to: 1)
        try state.apply(state.decideBid(bidder: 1, amount: .text("912.34"), at: state.inside(1)).get())
        let json = try JSONEncoderForTests.encode(state.publicView(serverTime: state.inside(1)))
        for secret in ["bid1", "bid2", "912.34", "Учасник", "key_for_bid", "hash"] {
            #expect(!json.contains(secret), "\(secret) leaked")
        }
        #expect(json.contains(#""lotId":null"#))
        #expect(json.contains(#""name":null"#))
    }

    @Test func endedTurnsShowTheirAmountAndNamesAppearWhenAnnounced() throws {
        var state = try runningAuction(to: 1)
        try state.apply(state.decideBid(bidder: 1, amount: .text("912.34"), at: state.inside(1)).get())
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        var view = state.publicView(serverTime: state.inside(2))
        #expect(view.stages[1].amount == "912.34" && view.stages[1].changed == true)
        #expect(view.stages[1].time == state.inside(1).milliseconds, "the bid's server time, for the protocol")
        #expect(view.stages[2].amount == nil && view.stages[2].time == nil)
        #expect(view.results.first?.bidder == 2 && view.results.first?.amount == "900.00")
        for index in 3...9 { try state.apply(.stageStarted(index: index, at: state.stages[index].start)) }
        try state.apply(.resultsReported(at: state.inside(9)))
        try state.apply(.namesRevealed(names: ["ТОВ А", "ТОВ Б"], at: state.inside(9)))
        view = state.publicView(serverTime: state.inside(9))
        #expect(view.bidders.map(\.name) == ["ТОВ А", "ТОВ Б"])
        #expect(view.bidders.map(\.label) == ["Bidder 1", "Bidder 2"])
    }

    @Test func meatShowsNormalisedPricesAndHidesAmountsUntilFinished() throws {
        let input = try AuctionInput(auctionView: seedDocument("meat-auction-view.json"))
        var state = AuctionState.planned(input, now: input.startDate)
        var view = state.publicView(serverTime: input.startDate)
        #expect(view.initialBids.allSatisfy { $0.amount == nil && $0.normalizedAmount != nil })
        // 1000 / (9/7) = 777.78 beats 800: the 1000 bid is second in round 1's order.
        #expect(view.initialBids.map(\.normalizedAmount) == ["800.00", "777.78"])
        #expect(view.bidders.allSatisfy { $0.coefficient == nil }, "no coefficient before the amounts are shown")
        for index in 0..<(state.stages.count - 1) { try state.apply(.stageStarted(index: index, at: state.stages[index].start)) }
        try state.apply(.resultsReported(at: state.stages.last!.start))
        view = state.publicView(serverTime: state.stages.last!.start)
        #expect(view.results.map(\.amount) == ["1000.00", "800.00"])
        // The protocol shows price, coefficient and normalised price side by side once final.
        #expect(view.bidders.map(\.coefficient) == ["1", "9/7"])
        #expect(view.stages.filter { $0.type == .bids }.allSatisfy { $0.changed != false || $0.time == nil }, "no bid, no bid time")
    }
}
