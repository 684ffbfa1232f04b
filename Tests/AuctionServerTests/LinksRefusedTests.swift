import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// Item 6 for the links: links still waiting when the tender has left `active.auction` (the
/// real API then refuses the private view) leave the outbox after one look at the tender.
@Suite(.serialized) struct LinksRefusedTests {
    @Test(arguments: [true, false])
    func linksWaitingForATenderThatMovedOnAreDroppedAfterOneLook(tenderShowsThem: Bool) throws {
        let world = try TenderWorld(feed: false)
        var tender = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 600)
        let id = try world.planOnRequest(tender)
        let store = AuctionStore(endpoint: world.redis.endpoint)
        // The tender moves on; our links are on it (a PATCH whose answer was lost) or not.
        if tenderShowsThem { tender["auctionUrl"] = world.sandbox.tender("tenders", id)?["auctionUrl"] }
        tender["status"] = "active.qualification"
        try world.sandbox.put(tender)
        try store.queueLinks(id)
        let privateViews = { world.sandbox.requests().filter { $0.method == "GET" && $0.path.hasSuffix("\(id)/auction") } }
        let before = privateViews().count
        #expect(waitUntil(timeout: .seconds(10)) { (try? store.waitingLinks()) == [] }, "\(world.daemon.log.suffix(2000))")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(privateViews().count == before + 1, "one look, no loop: \(privateViews())")
        let metrics = world.daemon.get("/metrics")?.body ?? ""
        if tenderShowsThem {
            #expect(world.daemon.log.contains("links already on the tender"))
        } else {
            #expect(world.daemon.log.contains("links refused by the API and not on the tender"))
            #expect(metrics.contains(#"auctiond_api_links_total{outcome="refused"} 1"#), "\(metrics)")
        }
    }
}
