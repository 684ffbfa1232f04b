import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import Locking
import RedisClient
import Synchronization
import Testing

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
        let heldUp = Locked(false)
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
