import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

/// SPEC §3 "Late plan": an auction is never run in the past.
@Suite struct LatePlanTests {
    private func lengths(_ stages: [Stage]) -> [Int64?] {
        stages.map { stage in stage.end.map { $0.microseconds - stage.start.microseconds } }
    }

    @Test func planningUpToTheLimitLateStartsTheWholeTimelineWhenPlanned() throws {
        let input = try simpleInput()
        let onTime = AuctionState.planned(input, now: input.startDate)
        for lateness: Int64 in [1, 60_000, 120_000] {
            let now = input.startDate.adding(milliseconds: lateness)
            let late = AuctionState.planned(input, now: now)
            #expect(late.status == .scheduled)
            #expect(late.stages.first?.start == now)
            #expect(lengths(late.stages) == lengths(onTime.stages), "no bidder loses turn time")
            #expect(late.input.startDate == input.startDate, "the API's start is kept, to compare with the next one")
            #expect(late.stages.map(\.bidder) == onTime.stages.map(\.bidder))
        }
    }

    @Test func planningMoreThanTheLimitLateIsRescheduledAndNeverRuns() throws {
        let input = try simpleInput()
        let state = AuctionState.planned(input, now: input.startDate.adding(milliseconds: 120_001))
        #expect(state.status == .rescheduled)
        #expect(state.stages.first?.start == input.startDate)
        #expect(state.dueStageSwitch(at: input.startDate.adding(milliseconds: 3_600_000)) == nil)
        #expect(state.decideBid(bidder: 1, amount: .text("940"), at: state.inside(1)) == .failure(BidRejection(.notBiddingStage)))
        #expect(!state.resultsAreFinal)
    }

    @Test func anAuctionWithoutRoundsIsNotLateWhateverItsStartDate() throws {
        let input = try simpleInput(bids: [(900, 1)])
        let now = input.startDate.adding(milliseconds: 3_600_000)
        let state = AuctionState.planned(input, now: now)
        #expect(state.status == .scheduled)
        #expect(state.stages.first?.start == now)
    }

    @Test func aRescheduledAuctionIsPlannedAgainByANewStartDate() throws {
        let input = try simpleInput()
        let onTime = AuctionState.planned(input, now: input.startDate)
        var state = AuctionState.planned(input, now: input.startDate.adding(milliseconds: 600_000))
        #expect(state.acceptsNewStart(input.startDate.adding(milliseconds: 3_600_000)))
        #expect(!state.acceptsNewStart(input.startDate), "the same start again changes nothing")
        let newStart = input.startDate.adding(milliseconds: 3_600_000)
        try state.apply(.replanned(startDate: newStart, at: input.startDate.adding(milliseconds: 700_000)))
        #expect(state.status == .scheduled)
        #expect(state.stages.first?.start == newStart)
        #expect(lengths(state.stages) == lengths(onTime.stages))
        #expect(state.input.startDate == newStart)
    }

    @Test func anAuctionRescheduledMidwayStartsOverFromTheInitialBids() throws {
        var state = try runningAuction(to: 1)
        let planned = AuctionState.planned(state.input, now: state.input.startDate)
        try state.apply(.bidAccepted(stage: 1, bidder: 1, amount: Money(kopiyky: 90_000), at: state.inside(1)))
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        try state.apply(.outageRecovered(from: state.inside(2), until: state.inside(2).adding(milliseconds: 30_000)))  // shifts
        try state.apply(.stageStarted(index: 3, at: state.stages[3].start))
        try state.apply(.stageStarted(index: 4, at: state.stages[4].start))  // round 2's order assigned
        try state.apply(.outageRecovered(from: state.inside(4), until: state.inside(4).adding(milliseconds: 600_000)))
        #expect(state.status == .rescheduled)
        let newStart = state.inside(4).adding(milliseconds: 3_600_000)
        try state.apply(.replanned(startDate: newStart, at: state.inside(4).adding(milliseconds: 700_000)))
        #expect(state.status == .scheduled)
        #expect(state.currentStage == -1)
        #expect(state.prices == planned.prices)
        #expect(state.pendingBids.isEmpty)
        #expect(lengths(state.stages) == lengths(planned.stages), "the outage's shift is not carried over")
        #expect(state.stages.map(\.bidder) == planned.stages.map(\.bidder))
        #expect(state.stages.allSatisfy { $0.outcome == nil && $0.changed == nil })
    }

    @Test func aNewStartThatIsAlreadyPastMovesToTheReplanOrStaysRescheduled() throws {
        let input = try simpleInput()
        var state = AuctionState.planned(input, now: input.startDate.adding(milliseconds: 600_000))
        let newStart = input.startDate.adding(milliseconds: 900_000)
        var soon = state
        try soon.apply(.replanned(startDate: newStart, at: newStart.adding(milliseconds: 30_000)))
        #expect(soon.status == .scheduled)
        #expect(soon.stages.first?.start == newStart.adding(milliseconds: 30_000))
        try state.apply(.replanned(startDate: newStart, at: newStart.adding(milliseconds: 120_001)))
        #expect(state.status == .rescheduled)
        #expect(state.input.startDate == newStart)
    }
}
