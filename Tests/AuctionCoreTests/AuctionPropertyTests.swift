import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

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
