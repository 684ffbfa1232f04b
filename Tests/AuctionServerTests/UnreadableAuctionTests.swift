import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// Item 8: one unreadable auction hides nothing else.
@Suite struct UnreadableAuctionTests {
    @Test func anAuctionThatCannotBeReadIsLoggedOnceAndEveryOtherIsServed() throws {
        let redis = try RedisServer()
        let store = AuctionStore(endpoint: redis.endpoint)
        let now = try store.now()
        // The broken one starts first, so it comes first in the index.
        let broken = try samplePlannedAuction(id: "broken-1", start: now.adding(milliseconds: 500), firstPause: 200, turn: 300)
        let good = try samplePlannedAuction(id: "good-1", start: now.adding(milliseconds: 1500), firstPause: 200, turn: 300)
        try store.create(broken)
        try store.create(good)
        try redis.connect().execute("SET", AuctionKeys("broken-1").plan, "{not a plan")
        let daemon = try AuctiondProcess(redisURL: redis.url)
        #expect(daemon.waitForAuction("good-1"), "\(daemon.log.suffix(2000))")
        #expect(daemon.get("/api/v1/auctions/broken-1")?.status == 404)
        // The good one runs: its clock switches stages.
        #expect(waitUntil(timeout: .seconds(10)) { (try? store.load("good-1"))?.state.currentStage ?? -1 >= 1 })
        Thread.sleep(forTimeInterval: 2.5)
        let mentions = daemon.log.split(separator: "\n").filter { $0.contains("broken-1") && $0.contains("unreadable") }
        #expect(
            mentions.count >= 1 && mentions.count <= 2, "logged once by the loader (and once by the clock), not every second: \(mentions)")
    }
}
