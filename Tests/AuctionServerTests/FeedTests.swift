import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// Item 7: the feed never stalls on one tender.
@Suite(.serialized) struct FeedTests {
    @Test func aTenderThatCannotBePlannedIsSkippedAndRetriedWhileTheFeedGoesOn() throws {
        let world = try TenderWorld()
        var bad = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 60)
        bad["value"] = ["amount": "a lot", "currency": "UAH"]  // not a number: the document does not decode
        try world.sandbox.put(bad)
        let good = try TenderWorld.fixture("tenders/meat.json", startIn: 60)
        try world.sandbox.put(good)
        let badId = bad["id"] as? String ?? ""
        let goodId = good["id"] as? String ?? ""
        #expect(world.daemon.waitForAuction(goodId), "the feed went on past the bad tender: \(world.daemon.log.suffix(3000))")
        #expect(world.daemon.log.contains("tender skipped"), "\(world.daemon.log.suffix(3000))")
        #expect(world.daemon.log.split(separator: "\n").contains { $0.contains("tender skipped") && $0.contains(badId) })
        // It is tried again later, with backoff.
        #expect(
            waitUntil(timeout: .seconds(15)) {
                world.sandbox.requests().filter { $0.method == "GET" && $0.path == "/api/2.5/tenders/\(badId)" }.count >= 2
            })
        // Mended, it is planned.
        bad["value"] = ["amount": 500, "currency": "UAH", "valueAddedTaxIncluded": true]
        try world.sandbox.put(bad)
        #expect(world.daemon.waitForAuction(badId))
    }
}
