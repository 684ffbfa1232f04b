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

@Suite struct BidRuleTests {
    @Test func lowestCostBidMustBeAtMostOwnPriceLessStep() {
        let own = Money(kopiyky: 95_000)
        let step = Money(kopiyky: 1_000)
        #expect(checkStep(amount: Money(kopiyky: 94_000), own: own, step: step, criteria: .lowestCost) == nil)
        #expect(checkStep(amount: Money(kopiyky: 94_001), own: own, step: step, criteria: .lowestCost)?.code == .tooHigh)
        #expect(checkStep(amount: .zero, own: own, step: step, criteria: .lowestCost)?.code == .tooLow)
        #expect(checkStep(amount: Money(kopiyky: -150), own: own, step: step, criteria: .lowestCost)?.code == .tooLow)
    }

    @Test func highestCostBidMustBeAtLeastOwnPricePlusStep() {
        let own = Money(kopiyky: 12_000)
        let step = Money(kopiyky: 500)
        #expect(checkStep(amount: Money(kopiyky: 12_500), own: own, step: step, criteria: .highestCost) == nil)
        #expect(checkStep(amount: Money(kopiyky: 12_499), own: own, step: step, criteria: .highestCost)?.code == .tooLow)
    }

    @Test func minusOneCancelsAndNonsenseIsInvalid() {
        #expect(readBidIntent(.number(-1)) == .success(.cancel))
        #expect(readBidIntent(.text("-1")) == .success(.cancel))
        #expect(readBidIntent(.text("480.50")) == .success(.place(Money(kopiyky: 48_050))))
        #expect(readBidIntent(.number(480.5)) == .success(.place(Money(kopiyky: 48_050))))
        for bad in [AmountInput.text("abc"), .text("1.005"), .text("NaN"), .number(.nan), .number(1e308), .text("12,50")] {
            guard case .failure(let rejection) = readBidIntent(bad) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(rejection.code == .invalidAmount)
        }
    }

    @Test func rejectionCodesAreTheProtocols() {
        #expect(
            BidRejectionCode.allCases.map(\.rawValue) == [
                "too_high", "too_low", "not_your_turn", "not_bidding_stage", "turn_over", "invalid_amount", "observer", "request_id_reused",
            ])
        #expect(BidRejection(.tooHigh).message == "Too high value")
        #expect(BidRejection(.notYourTurn).message == "Not valid bidder")
        #expect(BidRejection(.notBiddingStage).message == "Stage not for bidding")
    }
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
        #expect(view.stages[2].amount == nil)
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
        for index in 0..<(state.stages.count - 1) { try state.apply(.stageStarted(index: index, at: state.stages[index].start)) }
        try state.apply(.resultsReported(at: state.stages.last!.start))
        view = state.publicView(serverTime: state.stages.last!.start)
        #expect(view.results.map(\.amount) == ["1000.00", "800.00"])
    }
}

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

@Suite struct AuctionPropertyTests {
    /// Random auctions with random bids (valid, invalid, cancels, late): the invariants of SPEC §3-§5.
    @Test(arguments: 0..<40)
    func invariantsHoldForRandomBidSequences(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let criteria: AwardCriteria = Bool.random(using: &generator) ? .lowestCost : .highestCost
        let count = Int.random(in: 2...5, using: &generator)
        let bids = (0..<count).map { index in (Double(Int.random(in: 100_000...120_000, using: &generator)) / 100, index * 7 % 50) }
        let input = try simpleInput(criteria, value: 1000, step: 5, bids: bids)
        let planned = AuctionState.planned(input, now: input.startDate)
        var state = planned
        var now = input.startDate
        while let event = state.dueStageSwitch(at: now) {
            let before = state.prices
            let closing = state.currentStage
            try state.apply(event)
            // A turn moves only its own bidder's price, in the auction's direction, by at least the step.
            for (index, (old, new)) in zip(before, state.prices).enumerated() where old != new {
                #expect(state.stages[closing].kind == .bids && state.stages[closing].bidder == index + 1)
                let moved = criteria == .lowestCost ? old.amount - new.amount : new.amount - old.amount
                #expect(moved >= input.minimalStep)
            }
            // Replaying the history so far rebuilds the same state.
            let replayed = try planned.replaying(log(of: state))
            #expect(replayed.prices == state.prices && replayed.stages == state.stages)
            let stage = state.stages[state.currentStage]
            if stage.kind == .bids, let bidder = stage.bidder {
                for action in 0..<Int.random(in: 0...4, using: &generator) {
                    let at = stage.start.adding(milliseconds: Int64(action + 1))
                    let own = state.prices[bidder - 1].amount.kopiyky
                    let delta = Int64.random(in: -1_500...1_500, using: &generator)
                    let amount: AmountInput =
                        Int.random(in: 0..<10, using: &generator) == 0 ? .number(-1) : .text(Money(kopiyky: own + delta).formatted)
                    let who = Int.random(in: 0..<8, using: &generator) == 0 ? (bidder % count) + 1 : bidder
                    if case .success(let accepted) = state.decideBid(bidder: who, amount: amount, at: at) { try state.apply(accepted) }
                }
            }
            guard state.currentStage + 1 < state.stages.count else { break }
            now = state.stages[state.currentStage + 1].start
        }
        let final = state.resultsAreFinal
        #expect(final)
        // The winner has the best normalised price.
        let best = state.prices.indices.map { state.normalized(bidder: $0 + 1) }.sorted { criteria.isBetter($0, than: $1) }.first
        #expect(state.normalized(bidder: state.ranking[0]) == best)
        // One report entry per tender bid, in order.
        #expect(state.resultsReport().data.bids.map(\.id) == input.tenderBids.map(\.id))
    }

    /// The state is rebuilt from its own history to check replay on every step.
    private func log(of state: AuctionState) -> [AuctionEvent] {
        var events: [AuctionEvent] = []
        for index in 0...state.currentStage {
            events.append(.stageStarted(index: index, at: state.stages[index].start))
            if let outcome = state.stages[index].outcome, state.stages[index].changed == true, let bidder = state.stages[index].bidder {
                events.append(.bidAccepted(stage: index, bidder: bidder, amount: outcome.amount, at: outcome.date))
            }
        }
        for pending in state.pendingBids {
            events.append(.bidAccepted(stage: pending.stage, bidder: pending.bidder, amount: pending.amount, at: pending.at))
        }
        return events
    }
}

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
