import AuctionCore
@testable import AuctionStore
import AuctionTesting
import Foundation
import Locking
import RedisClient
import Synchronization
import Testing

@Suite struct BidScriptTests {
    @Test func aBidOneMillisecondAfterTheDeadlineIsRejectedNotDropped() throws {
        let fixture = try StoreFixture()
        // Bidder 1's turn ended 1 ms ago (Redis time); bidder 2's turn runs now.
        let planned = try fixture.plan(offset: -1001, firstPause: 0, turn: 1000)
        let late = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "late")
        #expect(late.code == "turn_over")
        #expect(late.at >= planned.stages[1].end!)
        let onTime = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 2, request: .place(planned.bestValidAmount(of: 2)), requestId: "on-time")
        #expect(onTime.code == "accepted")
        #expect(try fixture.log().count == 1)
    }

    @Test func aRetriedRequestGetsItsFirstAnswerAndChangesNothing() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        let first = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "r1")
        let retry = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "r1")
        #expect(first == retry)
        guard case .accepted(1, planned.bestValidAmount(of: 1), _) = first else {
            Issue.record("expected acceptance, got \(first)")
            return
        }
        let refused = try fixture.store.placeBid(auctionId: "tender-1", bidder: 2, request: .place(Money(kopiyky: 100)), requestId: "r1")
        #expect(refused.code == "not_your_turn")
        #expect(
            try fixture.store.placeBid(auctionId: "tender-1", bidder: 2, request: .place(Money(kopiyky: 100)), requestId: "r1") == refused)
        #expect(try fixture.log().count == 1)
    }

    /// PROTOCOL.md: a `requestId` means one request. Another amount, a cancel instead of a bid, or
    /// the same bid in another turn under a used id is `request_id_reused` and changes nothing.
    @Test func aRequestIdReusedForADifferentRequestIsRefusedAndChangesNothing() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        let amount = planned.bestValidAmount(of: 1)
        let first = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(amount), requestId: "r1")
        #expect(first.code == "accepted")
        let otherAmount = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(amount - Money(kopiyky: 1)), requestId: "r1")
        #expect(otherAmount.code == "request_id_reused")
        let cancelInstead = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .cancel, requestId: "r1")
        #expect(cancelInstead.code == "request_id_reused")
        #expect(try fixture.log().count == 1)
        #expect(try fixture.store.load("tender-1").state.pendingBid(of: 1)?.amount == amount)
        // The identical message again: the first answer, still.
        #expect(try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(amount), requestId: "r1") == first)
    }

    @Test func theSameRequestIdInTheBiddersNextTurnIsReusedButAfterTheTurnItIsARetry() throws {
        let fixture = try StoreFixture()
        // Round 1: bidder 1 [0, 1 s), 2, 3; a 100 ms pause; round 2 opens with bidder 1 again (the
        // worst price) at 3.1 s.
        let planned = try fixture.plan(offset: -10, firstPause: 0, pause: 100, turn: 1000)
        let clock = fixture.clock(owner: "clock")
        clock.start()
        defer { clock.stop() }
        let amount = planned.bestValidAmount(of: 1)
        let first = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(amount), requestId: "same")
        #expect(first.code == "accepted")
        #expect(waitUntil(timeout: .seconds(3)) { (try? fixture.store.now()).map { $0 >= planned.stages[2].start } ?? false })
        // Bidder 2's turn: bidder 1 retrying after the end of their turn hears the first answer.
        #expect(try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(amount), requestId: "same") == first)
        #expect(waitUntil(timeout: .seconds(6)) { ((try? fixture.store.load("tender-1"))?.state.currentStage ?? 0) >= 5 })
        let state = try fixture.store.load("tender-1").state
        #expect(state.stages[5].bidder == 1, "\(state.stages)")
        let again = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(state.bestValidAmount(of: 1)), requestId: "same")
        #expect(again.code == "request_id_reused")
        let fresh = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(state.bestValidAmount(of: 1)), requestId: "fresh")
        #expect(fresh.code == "accepted")
    }

    /// A process's reading of Redis' clock lags it a little (it is taken at the reply): a bid that
    /// arrived just after its turn was switched to may carry an arrival before the turn's start.
    /// It is judged in the turn, never in the stage the switch already closed.
    @Test func anArrivalStampedJustBeforeTheCurrentStageIsJudgedInIt() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 300, turn: 60_000)
        // Just after the turn's start, well within the bound of 50 ms.
        while try fixture.store.now() < planned.stages[1].start.adding(milliseconds: 5) { Thread.sleep(forTimeInterval: 0.001) }
        for _ in 0...1 {
            _ = try fixture.store.appendDecided("tender-1") { state, now in state.dueStageSwitch(at: now) }
        }
        #expect(try fixture.store.load("tender-1").state.currentStage == 1)
        let arrived = planned.stages[1].start.adding(milliseconds: -3)
        let verdict = try fixture.store.placeBids([
            BidSubmission(
                auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "early-stamp",
                arrivedAt: arrived)
        ])[0].get()
        #expect(verdict.code == "accepted", "\(verdict)")
        #expect(verdict.at >= planned.stages[1].start)
    }

    @Test func aCancelWithdrawsThePendingBidAndThePriceBeforeTheTurnStands() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        _ = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "a")
        let cancel = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .cancel, requestId: "b")
        #expect(cancel.code == "cancelled")
        var replica = try fixture.store.load("tender-1")
        #expect(replica.state.pendingBids.isEmpty)
        #expect(try fixture.redis.connect().execute("HLEN", AuctionKeys("tender-1").pending) == .integer(0))
        var closed = replica.state
        for index in 0...2 { try closed.apply(.stageStarted(index: index, at: planned.stages[index].start)) }
        #expect(closed.prices[0] == planned.prices[0])
        replica = try fixture.store.load("tender-1")
        #expect(replica.seq == 2)
    }

    @Test func everyBadAmountIsRefusedWithItsCode() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        let own = planned.prices[0].amount
        let cases: [(BidRequest, String)] = [
            (.invalid, "invalid_amount"), (.place(own), "too_high"), (.place(.zero), "too_low"),
            (.place(Money(kopiyky: -500)), "too_low"), (.place(own - planned.input.minimalStep + Money(kopiyky: 1)), "too_high"),
        ]
        for (index, (request, code)) in cases.enumerated() {
            let verdict = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: request, requestId: "bad-\(index)")
            #expect(verdict.code == code, "\(request)")
        }
        #expect(try fixture.log().isEmpty)
    }

    @Test func aBatchOfBidsIsDecidedInOrderWithAVerdictEachAndSurvivesALostScriptCache() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        let best = planned.bestValidAmount(of: 1)
        func bid(_ bidder: Int, _ request: BidRequest, _ id: String, auction: String = "tender-1") -> BidSubmission {
            BidSubmission(auctionId: auction, bidder: bidder, request: request, requestId: id)
        }
        let batch = [
            bid(1, .place(best), "b1"), bid(2, .place(best), "b2"), bid(1, .place(planned.prices[0].amount), "b3"),
            bid(1, .place(best - planned.input.minimalStep), "b4"), bid(1, .place(best), "b1"), bid(1, .cancel, "b5"),
            bid(1, .place(best), "b6", auction: "nope"),
        ]
        let verdicts = try fixture.store.placeBids(batch)
        #expect(verdicts.count == batch.count)
        let codes = verdicts.map { verdict in (try? verdict.get()).map(\.code) ?? "error" }
        #expect(codes == ["accepted", "not_your_turn", "too_high", "accepted", "accepted", "cancelled", "error"])
        #expect(verdicts[4] == verdicts[0], "the repeated requestId gets its first answer")
        #expect(throws: AuctionStoreError.unknownAuction("nope")) { try verdicts[6].get() }
        #expect(try fixture.log().count == 3)

        // Redis forgot its scripts (a restart without them): the batch loads the script and is
        // sent again, and the bids that had run already keep their first answers.
        _ = try fixture.redis.connect().execute("SCRIPT", "FLUSH")
        let again = try fixture.store.placeBids(Array(batch.prefix(6)))
        #expect(again == Array(verdicts.prefix(6)))
        #expect(try fixture.log().count == 3)
    }

    @Test func manyThreadsBiddingInOneTurnLeaveExactlyTheValidBidsAndOneStandingBid() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        let step = planned.input.minimalStep.kopiyky
        let own = planned.prices[0].amount.kopiyky
        let outcomes = Locked<[(bidder: Int, amount: Int64, verdict: BidVerdict)]>([])
        let failures = Locked<[String]>([])
        let endpoint = fixture.redis.endpoint
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let store = AuctionStore(endpoint: endpoint)
            var generator = SystemRandomNumberGenerator()
            for i in 0..<40 {
                let bidder = i % 4 == 3 ? 2 : 1
                let amount = Int64.random(in: (own - 3 * step)...(own + step), using: &generator)
                do {
                    let verdict = try store.placeBid(
                        auctionId: "tender-1", bidder: bidder, request: .place(Money(kopiyky: amount)), requestId: "t\(thread)-\(i)")
                    outcomes.withLock { $0.append((bidder, amount, verdict)) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let all = outcomes.withLock { $0 }
        #expect(all.count == 320)
        for outcome in all {
            let expected = outcome.bidder != 1 ? "not_your_turn" : outcome.amount <= own - step ? "accepted" : "too_high"
            #expect(outcome.verdict.code == expected, "bidder \(outcome.bidder) bid \(outcome.amount)")
        }
        let accepted = all.compactMap { outcome -> (seq: Int64, amount: Money)? in
            if case .accepted(let seq, let amount, _) = outcome.verdict { return (seq, amount) }
            return nil
        }.sorted { $0.seq < $1.seq }
        let log = try fixture.log()
        #expect(log.map(\.seq) == Array(1...Int64(accepted.count)))
        #expect(accepted.map(\.seq) == log.map(\.seq))
        // One standing bid: the last accepted, in Redis and in the state rebuilt from the log.
        let pending = try fixture.redis.connect().execute("HGETALL", AuctionKeys("tender-1").pending).array ?? []
        #expect(pending.count == 2)
        #expect(pending.first?.string == "1")
        #expect(pending.last?.string?.split(separator: " ").dropFirst().first.map(String.init) == String(accepted.last!.amount.kopiyky))
        let replica = try fixture.store.load("tender-1")
        #expect(replica.state.pendingBids.map(\.amount) == [accepted.last!.amount])
    }
}
