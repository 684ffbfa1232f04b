import Testing

@testable import AuctionCore

@Suite struct ScheduleTests {
    @Test(arguments: 2...6)
    func stageCountIsThreeTimesNPlusOnePlusTwo(bidders: Int) throws {
        let input = try simpleInput(bids: (0..<bidders).map { (Double(900 - $0), $0) })
        #expect(AuctionState.planned(input, now: input.startDate).stages.count == 3 * (bidders + 1) + 2)
    }

    @Test func tenderTakes540Plus360NSeconds() throws {
        let input = try simpleInput(bids: [(900, 1), (910, 2), (920, 3)])
        let state = AuctionState.planned(input, now: input.startDate)
        let lastTurn = state.stages.last { $0.kind == .bids }!
        #expect(lastTurn.end!.microseconds - input.startDate.microseconds == (540 + 360 * 3) * 1_000_000)
        #expect(state.stages[0].end == input.startDate.adding(milliseconds: 300_000))
    }

    @Test func dgfPausesAndTurnsAre180Seconds() throws {
        let input = try simpleInput(.highestCost, value: 100, step: 5, bids: [(120, 1), (130, 2)])
        let state = AuctionState.planned(input, now: input.startDate)
        let lengths = state.stages.compactMap { stage in stage.end.map { ($0.microseconds - stage.start.microseconds) / 1_000_000 } }
        #expect(lengths == [300, 180, 180, 180, 180, 180, 180, 180, 180])
    }

    @Test func acceleratorDividesEveryDuration() throws {
        let input = try simpleInput(procurementMethodDetails: "quick, accelerator=1440")
        let state = AuctionState.planned(input, now: input.startDate)
        #expect(state.stages[0].end == input.startDate.adding(milliseconds: 300_000 / 1440))
        #expect(state.stages[1].end == state.stages[1].start.adding(milliseconds: 120_000 / 1440))
    }

    @Test func fastForwardRunsEveryStageWithZeroLength() throws {
        let input = try simpleInput(submissionMethodDetails: "quick(mode:fast-forward)")
        let state = AuctionState.planned(input, now: input.startDate)
        #expect(state.stages.allSatisfy { $0.start == input.startDate && ($0.end ?? $0.start) == input.startDate })
        #expect(state.stages.count == 11)
    }

    @Test func noAuctionModeHasNoRounds() throws {
        let input = try simpleInput(submissionMethodDetails: "quick(mode:no-auction)")
        let now = timestamp("2026-11-23T09:00:00Z")
        let state = AuctionState.planned(input, now: now)
        #expect(state.stages.map(\.kind) == [.preAnnouncement, .announcement])
        #expect(state.stages[0].start == now)
        #expect(state.dueStageSwitch(at: now) == .stageStarted(index: 0, at: now))
    }

    @Test func fewerThanTwoParticipantsMeansNoLiveRounds() throws {
        let input = try simpleInput(bids: [(900, 1)])
        var state = AuctionState.planned(input, now: input.startDate)
        #expect(state.stages.map(\.kind) == [.preAnnouncement, .announcement])
        try state.apply(.stageStarted(index: 0, at: input.startDate))
        #expect(state.resultsAreFinal)
        #expect(state.resultsReport().data.bids.first?.value?.amount == 900)
    }

    @Test func roundOneOrderIsWorstFirstAndTiesLaterDatedFirst() throws {
        // Bidders: (price, seconds): the two at 900 tie; the later-dated one bids first.
        let input = try simpleInput(bids: [(900, 5), (950, 1), (900, 9), (800, 3)])
        let state = AuctionState.planned(input, now: input.startDate)
        #expect(state.participants.map(\.bidId) == ["bid2", "bid3", "bid1", "bid4"])
        let roundOne = state.stages.filter { $0.kind == .bids && $0.round == 1 }.map(\.bidder)
        #expect(roundOne == [1, 2, 3, 4])
    }

    @Test func highestCostOrderIsLowestFirst() throws {
        let input = try simpleInput(.highestCost, value: 100, step: 5, bids: [(130, 1), (120, 2), (150, 3)])
        let state = AuctionState.planned(input, now: input.startDate)
        #expect(state.participants.map(\.initial.amount.formatted) == ["120.00", "130.00", "150.00"])
    }
}
