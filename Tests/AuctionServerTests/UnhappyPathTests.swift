import AuctionCore
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
        ((world.sandbox.auctionView("tenders", id)?["bids"] as? [[String: Any]]) ?? []).compactMap { $0["participationUrl"] as? String }.sorted()
    }

    private func status(_ daemon: AuctiondProcess, _ id: String) -> String? {
        daemon.get("/api/v1/auctions/\(id)").flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
            .flatMap { ($0["data"] as? [String: Any])?["status"] as? String }
    }

    /// Items 1 and 2: planned five minutes after its start, the auction is not run in the past; a
    /// new start from the API brings it back with the same links on every process, and `seq` goes on.
    @Test func aLatePlanIsRescheduledAndANewStartRunsItOnEveryProcessWithTheSameLinks() throws {
        let world = try TenderWorld()
        let second = try AuctiondProcess(redisURL: world.redis.url, environment: [
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
        let urls = Dictionary(uniqueKeysWithValues: ((view["bids"] as? [[String: Any]]) ?? []).compactMap { bid in
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
    @Test func resultsRefusedForGoodAreLoggedCountedNotRepeatedAndKept() throws {
        let world = try TenderWorld(feed: false)
        let id = try world.planOnRequest(TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 3))
        // The bidders move the prices, so that the tender's (initial) prices are not the results.
        let bidders = try world.bidders(resource: "tenders", tenderId: id)
        let refusal = #"{"status": "error", "errors": [{"location": "body", "name": "data", "description": "Can't report auction results in current (cancelled) tender status"}]}"#
        world.sandbox.fault(count: 1, status: 403, body: refusal)
        #expect(TenderWorld.run(bidders, untilLastTurn: true).isEmpty)
        #expect(
            waitUntil(timeout: .seconds(40)) { world.daemon.log.contains("results refused by the API and not on the tender") },
            "\(world.sandbox.requests()) \(world.daemon.log.suffix(3000))")
        #expect(world.daemon.log.contains("auction=\(id)"))
        Thread.sleep(forTimeInterval: 3)
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction") == [403], "never posted again")
        #expect(world.daemon.get("/metrics")?.body.contains(#"auctiond_api_reports_total{outcome="refused"} 1"#) == true)
        let state = try #require(world.publicState(id))
        #expect(state["status"] as? String == "active", "final results are never thrown away")
        #expect((state["results"] as? [[String: Any]])?.count == 2)
        let store = AuctionStore(endpoint: world.redis.endpoint)
        #expect(try store.refusedReport(of: id) != nil)
        #expect(try store.waitingReports().isEmpty)
    }
}

/// Item 3: a Redis outage is an outage. Redis is killed during bidder 1's turn and comes back
/// after that turn should have ended: the turn moves by the outage before any bid is judged.
@Suite struct RedisOutageTests {
    /// Sends a bid and sends it again (same requestId) while the answer is `unavailable`.
    private func bid(_ client: TestWebSocketClient, _ amount: String, _ requestId: String) throws -> [String: Any] {
        for _ in 0..<100 {
            try client.sendJSON(["type": "bid", "amount": amount, "requestId": requestId])
            let answer = try client.receiveReply()
            if answer["type"] as? String == "error", answer["code"] as? String == "unavailable" {
                Thread.sleep(forTimeInterval: 0.2)
                continue
            }
            return answer
        }
        throw LiveTestError(description: "\(requestId): unavailable for 20 s")
    }

    @Test func theInterruptedTurnMovesByTheOutageBeforeAnyBidIsJudged() throws {
        let fixture = try LiveFixture(offset: -10, firstPause: 0, pause: 300, turn: 6000, appendOnly: true)
        let first = try fixture.bidder(1), second = try fixture.bidder(2)
        for client in [first, second] {
            _ = try client.receive(until: "state")
            client.setTimeout(.seconds(30))
        }
        let plannedEnd = fixture.planned.stages[1].end!
        Thread.sleep(forTimeInterval: 1)
        fixture.redis.kill9()
        Thread.sleep(forTimeInterval: 7)  // past the turn's planned end, and longer than the 3 s threshold
        try fixture.redis.start()
        // Bidder 2's turn has not come: the outage moved it.
        let early = try bid(second, "890.00", "b2-early")
        #expect(early["type"] as? String == "bidRejected", "\(early)")
        #expect(early["code"] as? String == "not_your_turn", "\(early)")
        // Bidder 1's turn goes on for the time the outage took from it.
        let late = try bid(first, "940.00", "b1-after-outage")
        #expect(late["type"] as? String == "bidAccepted", "\(late) \(fixture.daemon.log.suffix(2000))")
        let state = try fixture.store.load(fixture.auctionId).state
        let end = try #require(state.stages[1].end)
        #expect(end.microseconds - plannedEnd.microseconds >= 6_000_000, "the turn's end moved by the outage")
        #expect(fixture.daemon.log.contains("outage applied"))
    }

    /// The same when every auctiond was down: the restarted process judges no bid before the
    /// outage that ended at its start has moved the turn.
    @Test func aRestartedProcessJudgesNoBidBeforeTheOutageIsApplied() throws {
        let fixture = try LiveFixture(offset: -10, firstPause: 0, pause: 300, turn: 6000, appendOnly: true)
        let plannedEnd = fixture.planned.stages[1].end!
        Thread.sleep(forTimeInterval: 1)
        fixture.daemon.kill9()
        Thread.sleep(forTimeInterval: 7)
        try fixture.daemon.restart()
        let first = try fixture.bidder(1), second = try fixture.bidder(2)
        for client in [first, second] {
            _ = try client.receive(until: "state")
            client.setTimeout(.seconds(30))
        }
        let early = try bid(second, "890.00", "b2-early")
        #expect(early["code"] as? String == "not_your_turn", "\(early)")
        let late = try bid(first, "940.00", "b1-after-restart")
        #expect(late["type"] as? String == "bidAccepted", "\(late)")
        let end = try #require(try fixture.store.load(fixture.auctionId).state.stages[1].end)
        #expect(end.microseconds - plannedEnd.microseconds >= 6_000_000)
    }
}

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
