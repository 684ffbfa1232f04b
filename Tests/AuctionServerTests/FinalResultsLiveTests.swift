import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// Item 4: once the last turn has ended, an admin cancel is refused and the report waits.
@Suite struct FinalResultsLiveTests {
    @Test func anAdminCancelAfterTheLastTurnIsRefusedAndTheReportStaysQueued() throws {
        let fixture = try LiveFixture(offset: 300, firstPause: 100, pause: 100, turn: 300)
        let last = fixture.planned.stages.count - 2
        #expect(waitUntil(timeout: .seconds(15)) { ((try? fixture.store.load(fixture.auctionId))?.state.currentStage ?? -1) >= last })
        let cancel = blockingHTTP(
            "POST", port: fixture.daemon.port, path: "/api/v1/auctions/\(fixture.auctionId)/cancel",
            headers: ["Authorization": "Bearer \(AuctiondProcess.adminToken)"])
        #expect(cancel?.status == 409, "\(cancel?.body ?? "")")
        #expect(cancel?.body.contains("not_cancellable") == true)
        #expect(try fixture.store.load(fixture.auctionId).state.status == .active)
        #expect(waitUntil { (try? fixture.store.waitingReports()) == [fixture.auctionId] })
    }
}
