import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

@Suite struct ReplanTests {
    @Test func aNewStartDateMovesEveryStageBeforeTheAuctionBegins() throws {
        let input = try simpleInput(bids: [(900, 1), (950, 2)])
        let planned = AuctionState.planned(input, now: input.startDate)
        let later = input.startDate.adding(milliseconds: 3_600_000)
        var moved = planned
        try moved.apply(.replanned(startDate: later, at: input.startDate))
        #expect(moved.input.startDate == later)
        #expect(moved.stages.first?.start == later)
        for (before, after) in zip(planned.stages, moved.stages) {
            #expect(after.start.microseconds - before.start.microseconds == 3_600_000_000)
            #expect(after.bidder == before.bidder)
        }
    }

    @Test func aStartedAuctionCannotBeMoved() throws {
        var state = try runningAuction(to: 0)
        #expect(throws: AuctionStateError.self) { try state.apply(.replanned(startDate: state.input.startDate, at: state.input.startDate)) }
    }
}
