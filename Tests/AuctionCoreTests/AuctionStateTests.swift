import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

/// A two-bidder tender (Bidder 1 at 950, Bidder 2 at 900, step 10) advanced to a given stage.
func runningAuction(to stage: Int, bids: [(Double, Int)] = [(900, 1), (950, 2)]) throws -> AuctionState {
    let input = try simpleInput(bids: bids)
    var state = AuctionState.planned(input, now: input.startDate)
    for index in 0...stage { try state.apply(.stageStarted(index: index, at: state.stages[index].start)) }
    return state
}

extension AuctionState {
    func inside(_ stage: Int, plus milliseconds: Int64 = 1) -> Timestamp { stages[stage].start.adding(milliseconds: milliseconds) }
}

@Suite struct AuctionStateTests {
    @Test func bidInOwnTurnIsAcceptedAndPrivateUntilTheTurnEnds() throws {
        var state = try runningAuction(to: 1)  // stage 1: Bidder 1's turn (950)
        let event = try state.decideBid(bidder: 1, amount: .text("940"), at: state.inside(1)).get()
        try state.apply(event)
        #expect(state.prices[0].amount == Money(kopiyky: 95_000))
        #expect(state.pendingBid(of: 1)?.amount == Money(kopiyky: 94_000))
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        #expect(state.prices[0] == Price(amount: Money(kopiyky: 94_000), date: state.inside(1)))
        #expect(state.stages[1].outcome?.amount == Money(kopiyky: 94_000))
        #expect(state.stages[1].changed == true)
        #expect(state.pendingBids.isEmpty)
    }

    @Test func bidOneMicrosecondBeforeTheEndIsAcceptedOneMillisecondAfterIsTurnOver() throws {
        let state = try runningAuction(to: 1)
        let end = state.stages[1].end!
        #expect((try? state.decideBid(bidder: 1, amount: .text("940"), at: end.adding(microseconds: -1)).get()) != nil)
        #expect(state.decideBid(bidder: 1, amount: .text("940"), at: end) == .failure(BidRejection(.turnOver)))
        #expect(state.decideBid(bidder: 1, amount: .text("940"), at: end.adding(milliseconds: 1)) == .failure(BidRejection(.turnOver)))
    }

    @Test func bidOutOfTurnIsNotValidBidder() throws {
        let state = try runningAuction(to: 1)
        #expect(state.decideBid(bidder: 2, amount: .text("880"), at: state.inside(1)) == .failure(BidRejection(.notYourTurn)))
    }

    @Test func bidInAPauseOrBeforeTheStartIsStageNotForBidding() throws {
        let paused = try runningAuction(to: 0)
        #expect(paused.decideBid(bidder: 1, amount: .text("940"), at: paused.inside(0)) == .failure(BidRejection(.notBiddingStage)))
        let input = try simpleInput()
        let planned = AuctionState.planned(input, now: input.startDate)
        #expect(
            planned.decideBid(bidder: 1, amount: .text("940"), at: input.startDate.adding(milliseconds: -1))
                == .failure(BidRejection(.notBiddingStage)))
    }

    @Test func lastAcceptedBidOfTheTurnStands() throws {
        var state = try runningAuction(to: 1)
        for (amount, ms) in [("940", 1), ("930", 2), ("935", 3)] {
            try state.apply(state.decideBid(bidder: 1, amount: .text(amount), at: state.inside(1, plus: Int64(ms))).get())
        }
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        #expect(state.prices[0] == Price(amount: Money(kopiyky: 93_500), date: state.inside(1, plus: 3)))
    }

    @Test func cancelRestoresThePriceBeforeTheTurn() throws {
        var state = try runningAuction(to: 1)
        try state.apply(state.decideBid(bidder: 1, amount: .text("940"), at: state.inside(1)).get())
        try state.apply(state.decideBid(bidder: 1, amount: .number(-1), at: state.inside(1, plus: 2)).get())
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        #expect(state.prices[0] == state.participants[0].initial)
        #expect(state.stages[1].changed == false)
    }

    @Test func turnOrderIsRecomputedAtEachRoundsPause() throws {
        // Bidder 1 (950) undercuts Bidder 2 (900) in round 1, so Bidder 2 goes first in round 2.
        var state = try runningAuction(to: 1)
        try state.apply(state.decideBid(bidder: 1, amount: .text("850"), at: state.inside(1)).get())
        try state.apply(.stageStarted(index: 2, at: state.stages[2].start))
        try state.apply(.stageStarted(index: 3, at: state.stages[3].start))
        let roundTwo = state.stages.filter { $0.kind == .bids && $0.round == 2 }.map(\.bidder)
        #expect(roundTwo == [2, 1])
    }

    @Test func stageSwitchesComeDueInOrderAndNotBeforeTheirTime() throws {
        let input = try simpleInput()
        var state = AuctionState.planned(input, now: input.startDate)
        #expect(state.dueStageSwitch(at: input.startDate.adding(milliseconds: -1)) == nil)
        var now = input.startDate
        var switches = 0
        while let event = state.dueStageSwitch(at: now) {
            try state.apply(event)
            switches += 1
            now = state.stages[min(state.currentStage + 1, state.stages.count - 1)].start
        }
        #expect(switches == state.stages.count - 1)  // every stage but the announcement
        #expect(state.resultsAreFinal)
    }

    @Test func resultsThenNamesFinishAndAnnounce() throws {
        var state = try runningAuction(to: 9)
        #expect(state.stages[9].kind == .preAnnouncement)
        #expect(throws: AuctionStateError.self) { try state.apply(.namesRevealed(names: ["a", "b"], at: state.inside(9))) }
        try state.apply(.resultsReported(at: state.inside(9)))
        #expect(state.status == .finished)
        #expect(throws: AuctionStateError.self) { try state.apply(.namesRevealed(names: ["only one"], at: state.inside(9))) }
        try state.apply(.namesRevealed(names: ["ТОВ А", "ТОВ Б"], at: state.inside(9, plus: 5)))
        #expect(state.status == .announced)
        #expect(state.currentStage == state.stages.count - 1)
    }

    @Test func resultsCannotBeReportedBeforeTheLastTurnEnds() throws {
        var state = try runningAuction(to: 5)
        #expect(throws: AuctionStateError.self) { try state.apply(.resultsReported(at: state.inside(5))) }
    }

    @Test func cancelledAuctionTakesNoBids() throws {
        var state = try runningAuction(to: 1)
        try state.apply(.cancelled(at: state.inside(1)))
        #expect(state.status == .cancelled)
        #expect(state.decideBid(bidder: 1, amount: .text("940"), at: state.inside(1, plus: 2)) == .failure(BidRejection(.notBiddingStage)))
        #expect(state.dueStageSwitch(at: state.stages[5].start) == nil)
    }

    @Test func stagesCannotBeSkippedOrRepeated() throws {
        var state = try runningAuction(to: 1)
        #expect(throws: AuctionStateError.self) { try state.apply(.stageStarted(index: 3, at: state.inside(1))) }
        #expect(throws: AuctionStateError.self) { try state.apply(.stageStarted(index: 1, at: state.inside(1))) }
        #expect(throws: AuctionStateError.self) { try state.apply(.bidAccepted(stage: 1, bidder: 2, amount: .zero, at: state.inside(1))) }
    }

    @Test func shortOutageShiftsTheRemainingStages() throws {
        var state = try runningAuction(to: 1)
        let from = state.inside(1, plus: 10_000)
        let originalEnd = state.stages[1].end!
        let originalNext = state.stages[2].start
        try state.apply(.outageRecovered(from: from, until: from.adding(milliseconds: 60_000)))
        #expect(state.status == .active)
        #expect(state.stages[1].end == originalEnd.adding(milliseconds: 60_000))
        #expect(state.stages[2].start == originalNext.adding(milliseconds: 60_000))
        #expect(state.stages[1].start == state.stages[0].end)
    }

    @Test func outageLongerThanTheLimitReschedules() throws {
        var state = try runningAuction(to: 1)
        let from = state.inside(1)
        try state.apply(.outageRecovered(from: from, until: from.adding(milliseconds: 120_001)))
        #expect(state.status == .rescheduled)
        #expect(state.dueStageSwitch(at: state.stages[5].start) == nil)
    }

    @Test func outageBeforeTheStartShiftsNothing() throws {
        let input = try simpleInput()
        var state = AuctionState.planned(input, now: input.startDate)
        let before = state.stages
        try state.apply(
            .outageRecovered(from: input.startDate.adding(milliseconds: -600_000), until: input.startDate.adding(milliseconds: -1)))
        #expect(state.stages == before)
    }

    @Test func replayingTheLogRebuildsTheStateExactly() throws {
        let input = try simpleInput(bids: [(900, 1), (950, 2), (920, 3)])
        let planned = AuctionState.planned(input, now: input.startDate)
        var live = planned
        var log: [AuctionEvent] = []
        var generator = SeededGenerator(seed: 11)
        var now = input.startDate
        while let event = live.dueStageSwitch(at: now) {
            try live.apply(event)
            log.append(event)
            if live.stages[live.currentStage].kind == .bids, let bidder = live.stages[live.currentStage].bidder {
                let own = live.prices[bidder - 1].amount.kopiyky
                let amount = Money(kopiyky: own - Int64.random(in: 0...5_000, using: &generator))
                if case .success(let bid) = live.decideBid(
                    bidder: bidder, amount: .text(amount.formatted), at: live.inside(live.currentStage))
                {
                    try live.apply(bid)
                    log.append(bid)
                }
            }
            now = live.stages[min(live.currentStage + 1, live.stages.count - 1)].start
        }
        // Through JSON, as the log is stored.
        let stored = try JSONEncoder().encode(log)
        let replayed = try planned.replaying(JSONDecoder().decode([AuctionEvent].self, from: stored))
        #expect(replayed == live)
        let stateJSON = try JSONEncoder().encode(live)
        #expect(try JSONDecoder().decode(AuctionState.self, from: stateJSON) == live)
    }
}
