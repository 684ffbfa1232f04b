import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import Testing

@Suite struct ScriptAgreesWithCoreTests {
    /// The same random bids go to the bid script and to AuctionCore's `decideBid` at the Redis
    /// time the script judged them by; every verdict must be the same. A clock drives the stages
    /// meanwhile, so every kind of stage and deadline is crossed.
    @Test(arguments: [AwardCriteria.lowestCost, .highestCost])
    func theBidScriptAndAuctionCoreGiveTheSameVerdicts(criteria: AwardCriteria) throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(criteria: criteria, offset: 50, firstPause: 40, pause: 40, turn: 60)
        let clock = fixture.clock(owner: "clock")
        clock.start()
        defer { clock.stop() }
        var replica = try fixture.store.load("tender-1")
        var generator = SystemRandomNumberGenerator()
        var compared: [String: Int] = [:]
        var request = 0
        let end = planned.stages.last!.start.adding(milliseconds: 100)
        while try fixture.store.now() < end {
            try replica.catchUp(with: fixture.store.events(of: "tender-1", after: replica.seq))
            let bidder = Int.random(in: 0...4, using: &generator)
            let input = randomAmount(replica.state, bidder: bidder, using: &generator)
            request += 1
            let verdict = try fixture.store.placeBid(
                auctionId: "tender-1", bidder: bidder, request: BidRequest(readBidIntent(input)), requestId: "r\(request)")
            let appended = try fixture.store.events(of: "tender-1", after: replica.seq)
            let ownEvents: Int = if case .rejected = verdict { 0 } else { 1 }
            // Compare only when no stage switch came between reading the state and the verdict.
            guard appended.count == ownEvents else { continue }
            let expected = replica.state.decideBid(bidder: bidder, amount: input, at: verdict.at)
            switch (expected, verdict) {
            case (.success(.bidAccepted(_, _, let amount, _)), .accepted(_, let stored, _)):
                #expect(amount == stored)
            case (.success(.bidCancelled), .cancelled):
                break
            case (.failure(let rejection), .rejected(let code, _)):
                #expect(rejection.code == code, "\(input) by \(bidder)")
            default:
                Issue.record("core decided \(expected), the script \(verdict), for \(input) by bidder \(bidder)")
            }
            compared[verdict.code, default: 0] += 1
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.002, using: &generator))
        }
        #expect(compared.values.reduce(0, +) >= 100, "\(compared)")
        let stepCode = criteria == .lowestCost ? "too_high" : "too_low"
        for code in ["accepted", "cancelled", "not_your_turn", "not_bidding_stage", "turn_over", "invalid_amount", stepCode] {
            #expect(compared[code, default: 0] > 0, "no \(code) among \(compared)")
        }
    }

    private func randomAmount(_ state: AuctionState, bidder: Int, using generator: inout SystemRandomNumberGenerator) -> AmountInput {
        let own = state.prices[max(0, min(bidder, state.bidderCount) - 1)].amount.kopiyky
        let step = state.input.minimalStep.kopiyky
        switch Int.random(in: 0..<12, using: &generator) {
        case 0: return .text("12.345")
        // The step rule's boundaries, to the kopiyka.
        case 3: return .text(Money(kopiyky: own - step + Int64.random(in: -1...1, using: &generator)).formatted)
        case 4: return .text(Money(kopiyky: own + step + Int64.random(in: -1...1, using: &generator)).formatted)
        case 1: return .number(-1)
        case 2: return .text("abc")
        default:
            let kopiyky = own + Int64.random(in: (-3 * step)...(3 * step), using: &generator)
            return .text(Money(kopiyky: kopiyky).formatted)
        }
    }
}
