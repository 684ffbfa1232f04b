import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

/// SPEC §3 "Final results are final": once the pre-announcement has started, nothing discards them.
@Suite struct FinalResultsTests {
    @Test func anOutageLongerThanTheLimitAfterTheLastTurnKeepsTheResults() throws {
        var state = try runningAuction(to: 9)
        let prices = state.prices
        let stages = state.stages
        let from = state.inside(9)
        try state.apply(.outageRecovered(from: from, until: from.adding(milliseconds: 600_000)))
        #expect(state.status == .active)
        #expect(state.resultsAreFinal)
        #expect(state.prices == prices)
        #expect(state.stages == stages)
        try state.apply(.resultsReported(at: from.adding(milliseconds: 600_001)))
        #expect(state.status == .finished)
    }

    @Test func noCancelOrRescheduleAfterTheLastTurn() throws {
        var state = try runningAuction(to: 9)
        #expect(!state.isStoppable)
        #expect(throws: AuctionStateError.self) { try state.apply(.cancelled(at: state.inside(9))) }
        #expect(throws: AuctionStateError.self) { try state.apply(.rescheduled(at: state.inside(9))) }
        #expect(state.status == .active)
        #expect(try runningAuction(to: 8).isStoppable)
    }
}
