import AuctionCore
import AuctionStore
import AuctionTesting
import Foundation
import Testing

@Suite struct ProcessTakeoverTests {
    /// A real auctiond drives the auction; `kill -9` gives it no chance to release its lease, so
    /// another process's clock takes over when the lease expires and finishes the auction.
    @Test func whenTheProcessHoldingTheLeaseIsKilledAnotherTakesOver() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: 300, firstPause: 500, pause: 500, turn: 500)
        let daemon = try AuctiondProcess(redisURL: fixture.redis.url)
        let held = waitUntil { (try? fixture.leaseHolder())?.contains(":\(daemon.pid):") == true }
        #expect(held, "auctiond never took the lease:\n\(daemon.log)")
        #expect(waitUntil { ((try? fixture.log()) ?? []).count >= 2 })
        daemon.kill9()
        let survivor = fixture.clock(owner: "survivor")
        survivor.start()
        defer { survivor.stop() }
        // auctiond's lease outlives it by its TTL (1.5 s under AuctiondProcess).
        #expect(waitUntil(timeout: .seconds(8)) { (try? fixture.leaseHolder()) == "survivor" })
        #expect(waitUntil(timeout: .seconds(10)) { (try? fixture.store.waitingReports()) == ["tender-1"] })
        #expect(try fixture.stageSwitches() == Array(0..<(planned.stages.count - 1)))
    }

    @Test func aStoppedDaemonReleasesItsLeaseAtOnce() throws {
        let fixture = try StoreFixture()
        _ = try fixture.plan(offset: 60_000)
        let daemon = try AuctiondProcess(redisURL: fixture.redis.url)
        #expect(waitUntil { (try? fixture.leaseHolder())?.contains(":\(daemon.pid):") == true })
        daemon.stop()
        #expect(try fixture.leaseHolder() == nil, "\(daemon.log)")
    }
}
