import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// Issue 19: the product's promises when something goes wrong, with real Redis, tender-sandbox
/// and auctiond processes.
@Suite(.serialized) struct UnhappyPathTests {
    /// The participation links of a tender, as the service wrote them into the sandbox.
    private func links(_ world: TenderWorld, _ id: String) -> [String] {
        ((world.sandbox.auctionView("tenders", id)?["bids"] as? [[String: Any]]) ?? []).compactMap { $0["participationUrl"] as? String }
            .sorted()
    }

    private func status(_ daemon: AuctiondProcess, _ id: String) -> String? {
        daemon.get("/api/v1/auctions/\(id)").flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
            .flatMap { ($0["data"] as? [String: Any])?["status"] as? String }
    }

    /// Items 1 and 2: planned five minutes after its start, the auction is not run in the past; a
    /// new start from the API brings it back with the same links on every process, and `seq` goes on.
    @Test func aLatePlanIsRescheduledAndANewStartRunsItOnEveryProcessWithTheSameLinks() throws {
        let world = try TenderWorld()
        let second = try AuctiondProcess(
            redisURL: world.redis.url,
            environment: [
                "AUCTIOND_API_URL": world.sandbox.apiURL, "AUCTIOND_FEED": "on", "AUCTIOND_FEED_INTERVAL_MILLISECONDS": "200",
                "AUCTIOND_SYNC_INTERVAL_MILLISECONDS": "100", "AUCTIOND_API_RETRY_SECONDS": "1", "AUCTIOND_API_TIMEOUT_SECONDS": "2",
            ])
        var tender = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 0)
        tender["auctionPeriod"] = ["startDate": "now-300s"]
        try world.sandbox.put(tender)
        let id = tender["id"] as? String ?? ""
        #expect(world.waitForStatus(id, "rescheduled", timeout: .seconds(15)), "\(world.daemon.log.suffix(3000))")
        #expect(second.waitForAuction(id))
        #expect(waitUntil { status(second, id) == "rescheduled" })
        #expect(waitUntil { links(world, id).count == 2 }, "the links go out at once: they hold through the reschedule")
        let linksBefore = links(world, id)
        let observer = try second.webSocket("/ws/\(id)")
        let before = try observer.receive(until: "state").last!
        let seqBefore = before["seq"] as? Int ?? -1
        Thread.sleep(forTimeInterval: 1)
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction").isEmpty, "nothing is posted for an auction that did not run")

        // The API moves the start; the bids keep the links the service gave them.
        let view = try #require(world.sandbox.auctionView("tenders", id))
        let urls = Dictionary(
            uniqueKeysWithValues: ((view["bids"] as? [[String: Any]]) ?? []).compactMap { bid in
                (bid["id"] as? String).map { ($0, bid["participationUrl"]) }
            })
        tender["bids"] = (tender["bids"] as? [[String: Any]])?.map { bid -> [String: Any] in
            var linked = bid
            if let id = bid["id"] as? String, let url = urls[id] ?? nil { linked["participationUrl"] = url }
            return linked
        }
        tender["auctionPeriod"] = ["startDate": "now+3s"]
        try world.sandbox.put(tender)
        let back = try observer.receiveAuction { $0["status"] as? String == "scheduled" }
        #expect((back["stages"] as? [[String: Any]])?.first?["start"] as? Int64 ?? 0 > Int64(Date().timeIntervalSince1970 * 1000) - 5000)
        #expect(waitUntil { status(world.daemon, id) != "rescheduled" && status(second, id) != "rescheduled" })
        try observer.sendJSON(["type": "resync", "sinceSeq": seqBefore])
        let resynced = try observer.receive(until: "state").last!
        #expect(resynced["seq"] as? Int ?? -1 > seqBefore, "seq never goes backwards: the re-plan continues it")

        let bidders = try world.bidders(resource: "tenders", tenderId: id)
        #expect(links(world, id) == linksBefore, "the same participation links")
        #expect(world.sandbox.requests().filter { $0.method == "PATCH" }.count == 1)
        let errors = TenderWorld.run(bidders)
        #expect(errors.isEmpty, "\(errors)")
        for bidder in bidders { #expect(bidder.accepted.count == 3, "\(bidder.accepted) \(bidder.rejections)") }
        #expect(world.waitForStatus(id, "announced", timeout: .seconds(30)))
        #expect(waitUntil { status(second, id) == "announced" })
        // Both processes may post; the API takes one, and the other finds it on the tender.
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction").filter { $0 == 200 } == [200])
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction").allSatisfy { $0 == 200 || $0 == 403 })
    }

    /// Item 6: the POST reached the API but its answer was lost (a time-out). The retry is refused
    /// (403: the tender moved on), the public tender shows these results, and the report is done.
    @Test func aResultsPostWhoseAnswerWasLostIsFoundOnThePublicTender() throws {
        let world = try TenderWorld(feed: false)
        let id = try world.planOnRequest(TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 3))
        // The next API request is the report: done by the sandbox, answered after the client gave up.
        world.sandbox.fault(count: 1, delayMilliseconds: 5000)
        #expect(world.waitForStatus(id, "announced", timeout: .seconds(40)), "\(world.daemon.log.suffix(3000))")
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction") == [200, 403])
        #expect(world.daemon.log.contains("results already on the tender"))
        #expect(!world.sandbox.requests().contains { $0.method == "GET" && $0.path.hasSuffix("/auction") && $0.status == 403 })
    }

    /// Item 6: refused for good, and the tender does not show these results: an error names the
    /// auction, a metric counts it, the POST is not repeated, and the results are kept.
    @Test(arguments: [
        (403, "Can't report auction results in current (cancelled) tender status"),
        (422, "Number of auction results did not match the number of tender bids"),
    ])
    func resultsRefusedForGoodAreLoggedCountedNotRepeatedAndKept(status: Int, description: String) throws {
        let world = try TenderWorld(feed: false)
        let id = try world.planOnRequest(TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 3))
        // The bidders move the prices, so that the tender's (initial) prices are not the results.
        let bidders = try world.bidders(resource: "tenders", tenderId: id)
        let refusal = #"{"status": "error", "errors": [{"location": "body", "name": "data", "description": "\#(description)"}]}"#
        world.sandbox.fault(count: 1, status: status, body: refusal)
        #expect(TenderWorld.run(bidders, untilLastTurn: true).isEmpty)
        #expect(
            waitUntil(timeout: .seconds(40)) { world.daemon.log.contains("results refused by the API and not on the tender") },
            "\(world.sandbox.requests()) \(world.daemon.log.suffix(3000))")
        #expect(world.daemon.log.contains("auction=\(id)"))
        Thread.sleep(forTimeInterval: 3)
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction") == [status], "never posted again")
        #expect(world.daemon.get("/metrics")?.body.contains(#"auctiond_api_reports_total{outcome="refused"} 1"#) == true)
        let state = try #require(world.publicState(id))
        #expect(state["status"] as? String == "active", "final results are never thrown away")
        #expect((state["results"] as? [[String: Any]])?.count == 2)
        let store = AuctionStore(endpoint: world.redis.endpoint)
        #expect(try store.refusedReport(of: id) != nil)
        #expect(try store.waitingReports().isEmpty)
    }
}

extension FeedTests {
    /// The feed plans a burst of 120 tenders, each API answer 40 ms late (about 15 s of work);
    /// meanwhile an auction's results are due, and go out at once.
    @Test func theOutboxesDoNotWaitForALongFeedCatchUp() throws {
        let world = try TenderWorld()
        let quick = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 2)
        try world.sandbox.put(quick)
        let id = quick["id"] as? String ?? ""
        #expect(
            waitUntil(timeout: .seconds(30)) {
                guard let state = world.publicState(id), let stages = state["stages"] as? [[String: Any]] else { return false }
                return (state["currentStage"] as? Int ?? -1) >= stages.count - 3
            })
        let start = Timestamp(microseconds: RedisClock.hostMicroseconds()).adding(milliseconds: 3_600_000)
        for n in 0..<120 { try world.sandbox.put(sampleTender(id: "burst-\(n)", start: start)) }
        world.sandbox.fault(count: 2000, delayMilliseconds: 40)
        #expect(waitUntil(timeout: .seconds(8)) { ["finished", "announced"].contains(world.publicState(id)?["status"] as? String ?? "") })
        let planned = (world.daemon.get("/api/v1/auctions")?.body.components(separatedBy: "\"burst-").count ?? 1) - 1
        #expect(planned < 120, "the report went out while the feed was still catching up (\(planned) planned)")
        world.sandbox.fault(count: 0)
    }
}
