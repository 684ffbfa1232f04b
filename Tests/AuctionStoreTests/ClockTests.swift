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

@Suite struct ClockTests {
    @Test func aClockRunsAWholeAuctionAndQueuesTheReport() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: 50, firstPause: 50, pause: 50, turn: 50)
        let reports = Recorder<ClockReport>()
        let clock = fixture.clock(owner: "only", reports: reports)
        clock.start()
        defer { clock.stop() }
        #expect(waitUntil(timeout: .seconds(10)) { (try? fixture.store.waitingReports()) == ["tender-1"] })
        let replica = try fixture.store.load("tender-1")
        #expect(replica.state.stages[replica.state.currentStage].kind == .preAnnouncement)
        #expect(replica.state.status == .active)
        #expect(try fixture.stageSwitches() == Array(0..<(planned.stages.count - 1)))
        let body = try #require(try fixture.store.report(of: "tender-1"))
        let report = try JSONDecoder().decode(ResultsReport.self, from: body)
        #expect(report == replica.state.resultsReport())
        #expect(try fixture.store.indexedAuctions().first?.status == .active)
    }

    /// Sixty auctions whose stages are all due at the same moments: one clock switches them in
    /// batches, and each auction still gets every stage once, in order.
    @Test func oneClockDrivesManyAuctionsDueAtTheSameMomentsEachStageOnceInOrder() throws {
        let fixture = try StoreFixture()
        let start = try fixture.store.now().adding(milliseconds: 300)
        let ids = (1...60).map { "tender-\($0)" }
        var stageCount = 0
        for id in ids {
            let planned = try samplePlannedAuction(id: id, start: start, firstPause: 100, pause: 100, turn: 100)
            try fixture.store.create(planned)
            stageCount = planned.stages.count
        }
        let clock = fixture.clock(owner: "only")
        clock.start()
        defer { clock.stop() }
        #expect(waitUntil(timeout: .seconds(20)) { (try? fixture.store.waitingReports()) == ids.sorted() })
        for id in ids { #expect(try fixture.stageSwitches(id) == Array(0..<(stageCount - 1)), "\(id)") }
    }

    /// Once the results are reported (the auction is `finished`), the clock lets the auction go:
    /// it no longer renews its lease or keeps its copy, however long the process runs.
    @Test func theClockLetsAnAuctionGoOnceItsResultsAreReported() throws {
        let fixture = try StoreFixture()
        _ = try fixture.plan(offset: 50, firstPause: 50, pause: 50, turn: 50)
        let clock = fixture.clock(owner: "only")
        clock.start()
        defer { clock.stop() }
        #expect(waitUntil(timeout: .seconds(10)) { (try? fixture.store.waitingReports()) == ["tender-1"] })
        #expect(try fixture.leaseHolder() == "only")
        let (_, event) = try fixture.store.appendDecided("tender-1") { state, now in .resultsReported(at: now) }
        #expect(event != nil)
        let redis = try fixture.redis.connect()
        #expect(waitUntil(timeout: .seconds(3)) { (try? redis.execute("EXISTS", AuctionKeys("tender-1").lease)) == .integer(0) })
    }

    @Test func oneClockAtATimeAndAnotherTakesOverWhenTheHolderStops() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: 300, firstPause: 300, pause: 300, turn: 300)
        let first = fixture.clock(owner: "first")
        let second = fixture.clock(owner: "second")
        first.start()
        #expect(waitUntil { (try? fixture.leaseHolder()) == "first" })
        second.start()
        defer { second.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try fixture.leaseHolder() == "first")
        first.stop()
        #expect(waitUntil(timeout: .seconds(2)) { (try? fixture.leaseHolder()) == "second" })
        #expect(waitUntil(timeout: .seconds(15)) { (try? fixture.store.waitingReports()) == ["tender-1"] })
        // Each stage started exactly once, in order, whoever drove it.
        #expect(try fixture.stageSwitches() == Array(0..<(planned.stages.count - 1)))
    }

    @Test func whenEveryProcessWasDownTheRemainingStagesShiftByTheOutage() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: 0, firstPause: 4000, turn: 1000)
        let before = fixture.clock(owner: "before")
        before.start()
        #expect(waitUntil { (try? fixture.leaseHolder()) == "before" })
        before.stop()
        Thread.sleep(forTimeInterval: 1.0)  // nobody alive: longer than the 400 ms threshold
        let after = fixture.clock(owner: "after")
        after.start()
        defer { after.stop() }
        #expect(waitUntil { ((try? fixture.log()) ?? []).contains { if case .outageRecovered = $0.event { true } else { false } } })
        let replica = try fixture.store.load("tender-1")
        guard
            case .outageRecovered(let from, let until) = try fixture.log().first(where: {
                if case .outageRecovered = $0.event { true } else { false }
            })?.event
        else {
            Issue.record("no outage logged")
            return
        }
        let shift = until.microseconds - max(from, planned.stages[0].start).microseconds
        #expect(shift >= 1_000_000)
        #expect(replica.state.stages[1].start.microseconds == planned.stages[1].start.microseconds + shift)
        #expect(replica.state.status == .active)
    }

    @Test func aClockPassSlowerThanTheOutageThresholdIsNotAnOutage() throws {
        let fixture = try StoreFixture()
        _ = try fixture.plan(offset: 200, firstPause: 300, turn: 300)
        // The clock's thread is held up for three times the 400 ms threshold at its first stage
        // switch, as a pass over many busy auctions would be; the process is up all along.
        let heldUp = Mutex(false)
        let clock = fixture.clock(owner: "busy") { report in
            guard case .stageStarted = report, !heldUp.withLock({ $0 }) else { return }
            heldUp.withLock { $0 = true }
            Thread.sleep(forTimeInterval: 1.2)
        }
        clock.start()
        defer { clock.stop() }
        #expect(waitUntil(timeout: .seconds(10)) { ((try? fixture.stageSwitches()) ?? []).count >= 3 })
        #expect(heldUp.withLock { $0 })
        #expect(try fixture.redis.connect().execute("LLEN", ServiceKeys.outages) == .integer(0))
        #expect(try !fixture.log().contains { if case .outageRecovered = $0.event { true } else { false } })
    }

    @Test func anOutageLongerThanTheLimitReschedulesTheAuction() throws {
        let fixture = try StoreFixture()
        _ = try fixture.plan(offset: 0, firstPause: 4000, turn: 1000, maxOutageShiftMilliseconds: 300)
        let before = fixture.clock(owner: "before")
        before.start()
        #expect(waitUntil { (try? fixture.leaseHolder()) == "before" })
        before.stop()
        Thread.sleep(forTimeInterval: 1.0)
        let after = fixture.clock(owner: "after")
        after.start()
        defer { after.stop() }
        #expect(waitUntil { (try? fixture.store.load("tender-1").state.status) == .rescheduled })
        #expect(try fixture.store.indexedAuctions().first?.status == .rescheduled)
        let refused = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .cancel, requestId: "x")
        #expect(refused.code == "not_bidding_stage")
    }
}
