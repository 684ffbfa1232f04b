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
        let first = try fixture.bidder(1)
        let second = try fixture.bidder(2)
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
        let first = try fixture.bidder(1)
        let second = try fixture.bidder(2)
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

/// Item 5: one clock for clients. auctiond runs with its host clock 10 s behind (libfaketime);
/// every `serverTime` it tells clients is still Redis' clock, the one that judges deadlines.
@Suite struct ServerClockTests {
    static let fakeTimeLibrary = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: fakeTimeLibrary), "needs libfaketime (make test-deps installs faketime)"))
    func everyServerTimeIsRedisTimeWhateverTheHostClockSays() throws {
        let fixture = try LiveFixture(
            offset: 60_000,
            environment: [
                "LD_PRELOAD": Self.fakeTimeLibrary, "FAKETIME": "-10s", "DONT_FAKE_MONOTONIC": "1",
            ])
        func redisMilliseconds() throws -> Int64 { try fixture.store.now().milliseconds }
        func near(_ serverTime: Int64?, _ what: String) throws {
            let redis = try redisMilliseconds()
            let value = try #require(serverTime, "\(what) has no serverTime")
            #expect(abs(value - redis) < 1000, "\(what): serverTime \(value) is \(value - redis) ms off Redis time")
        }
        let time = try #require(fixture.daemon.get("/api/v1/time"))
        try near(
            (try JSONSerialization.jsonObject(with: Data(time.body.utf8)) as? [String: Any])?["serverTime"] as? Int64, "GET /api/v1/time")
        let observer = try fixture.observer()
        let welcome = try observer.receiveJSON()
        try near(welcome["serverTime"] as? Int64, "welcome")
        let state = try observer.receiveJSON()
        try near((state["auction"] as? [String: Any])?["serverTime"] as? Int64, "state")
        try observer.sendJSON(["type": "ping", "clientTime": 1])
        try near(try observer.receiveReply()["serverTime"] as? Int64, "pong")
        let publicState = try #require(fixture.daemon.get("/api/v1/auctions/\(fixture.auctionId)"))
        let data = (try JSONSerialization.jsonObject(with: Data(publicState.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
        try near(data?["serverTime"] as? Int64, "GET /api/v1/auctions/{id}")
    }
}

/// Item 5: a bid that reached auctiond before its turn's end is judged by its arrival, not by
/// when its turn in auctiond's own queue came; up to a bound (`limits.maxBidWaitMilliseconds`).
@Suite struct BidArrivalTests {
    /// Bidder 1's turn ends `turn` ms after the fixture's start; Redis is made to stall (DEBUG
    /// SLEEP) just before, so the bid sent 500 ms before the end waits in auctiond's queue past it.
    private func bidStalledPastTheTurnEnd(stall: Double, bound: Int) throws -> [String: Any] {
        let fixture = try LiveFixture(
            offset: -10, firstPause: 0, pause: 300, turn: 4000,
            environment: ["AUCTIOND_LIMITS_MAX_BID_WAIT_MILLISECONDS": String(bound)], redisArguments: ["--enable-debug-command", "yes"])
        let bidder = try fixture.bidder(1)
        _ = try bidder.receive(until: "state")
        bidder.setTimeout(.seconds(20))
        let end = fixture.planned.stages[1].end!
        while try fixture.store.now().adding(milliseconds: 600) < end { Thread.sleep(forTimeInterval: 0.01) }
        // Redis' clock by the host's, since Redis itself will not answer while it sleeps.
        let offset = try fixture.store.now().microseconds - RedisClock.hostMicroseconds()
        let staller = Thread { _ = try? fixture.redis.connect().execute("DEBUG", "SLEEP", String(stall)) }
        staller.start()
        Thread.sleep(forTimeInterval: 0.1)
        #expect(RedisClock.hostMicroseconds() + offset < end.microseconds - 300_000, "the bid must be sent well before the end")
        try bidder.sendJSON(["type": "bid", "amount": "940.00", "requestId": "queued"])
        return try bidder.receiveReply()
    }

    @Test func aBidThatArrivedInTimeIsAcceptedThoughItWaitedInTheQueuePastTheEnd() throws {
        let answer = try bidStalledPastTheTurnEnd(stall: 1.2, bound: 2000)
        #expect(answer["type"] as? String == "bidAccepted", "\(answer)")
    }

    @Test func aBidThatWaitedLongerThanTheBoundIsJudgedAtTheBound() throws {
        let answer = try bidStalledPastTheTurnEnd(stall: 2.5, bound: 500)
        #expect(answer["code"] as? String == "turn_over", "\(answer)")
    }
}

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

/// Item 13: nothing grows without bound.
@Suite struct BoundsTests {
    private func page(_ daemon: AuctiondProcess, _ query: String) throws -> (status: Int, json: [String: Any]) {
        let answer = try #require(daemon.get("/api/v1/auctions" + query))
        return (answer.status, (try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:])
    }

    @Test func theAuctionListIsPagedWithLimitAndCursor() throws {
        let redis = try RedisServer()
        let store = AuctionStore(endpoint: redis.endpoint)
        let now = try store.now()
        for n in 0..<7 {
            try store.create(samplePlannedAuction(id: "list-\(n)", start: now.adding(milliseconds: 600_000 + Int64(n) * 1000)))
        }
        let daemon = try AuctiondProcess(redisURL: redis.url)
        #expect(waitUntil { (try? page(daemon, ""))?.json["data"].map { ($0 as? [Any])?.count == 7 } ?? false })
        var seen: [String] = []
        var cursor: String?
        for _ in 0..<5 {
            let (status, json) = try page(daemon, "?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(status == 200)
            seen += (json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            cursor = (json["next_page"] as? [String: Any])?["cursor"] as? String
            if cursor == nil { break }
        }
        #expect(seen == (0..<7).map { "list-\($0)" }, "every auction once, soonest first")
        #expect(try page(daemon, "?limit=0").status == 400)
        #expect(try page(daemon, "?limit=abc").status == 400)
        let badCursor = try page(daemon, "?cursor=not-a-cursor")
        #expect(badCursor.status == 400)
        #expect((badCursor.json["error"] as? [String: Any])?["code"] as? String == "invalid_cursor")
    }

    /// One worker serves both auctions; a flood of one auction's bids fills that auction's queue
    /// (its bids are answered `unavailable`), not the worker's: the other auction's bid waits its
    /// turn and is accepted.
    @Test func aFullBidQueueIsPerAuctionNotPerWorker() throws {
        let redis = try RedisServer()
        let store = AuctionStore(endpoint: redis.endpoint)
        let start = try store.now().adding(milliseconds: -10)
        for id in ["flooded", "quiet"] { try store.create(samplePlannedAuction(id: id, start: start, firstPause: 0, turn: 60_000)) }
        let daemon = try AuctiondProcess(
            redisURL: redis.url, environment: ["AUCTIOND_WORKERS": "1", "AUCTIOND_LIMITS_MAX_QUEUED_BIDS": "3"])
        let tokens = ParticipationTokens(secrets: [AuctiondProcess.hashSecret])
        func bidder(_ auction: String) throws -> TestWebSocketClient {
            #expect(daemon.waitForAuction(auction))
            let bidId = try store.load(auction).state.participants[0].bidId
            let client = try daemon.webSocket("/ws/\(auction)?key_for_bid=\(bidId)&hash=\(tokens.token(auctionId: auction, bidId: bidId))")
            _ = try client.receive(until: "state")
            return client
        }
        let flooder = try bidder("flooded")
        let quiet = try bidder("quiet")
        _ = try redis.connect().execute("CLIENT", "PAUSE", "1500", "WRITE")
        for n in 0..<12 { try flooder.sendJSON(["type": "bid", "amount": "\(970 - n).00", "requestId": "f\(n)"]) }
        Thread.sleep(forTimeInterval: 0.2)
        try quiet.sendJSON(["type": "bid", "amount": "970.00", "requestId": "q"])
        let answer = try quiet.receiveReply()
        #expect(answer["type"] as? String == "bidAccepted", "\(answer)")
        var answers: [String] = []
        for _ in 0..<12 {
            let reply = try flooder.receiveReply()
            answers.append("\(reply["requestId"] ?? "?"):\(reply["code"] ?? reply["type"] ?? "?")")
        }
        #expect(answers.filter { $0.hasSuffix("unavailable") }.count >= 5, "the flooded auction's own queue was full: \(answers)")
    }

    /// An ended auction leaves the process's memory after `memoryGraceSeconds`, and its Redis
    /// keys expire `retentionDays` after it ended (here a fraction of a day: 4.3 s).
    @Test func anEndedAuctionLeavesMemoryAfterTheGraceAndRedisAfterTheRetention() throws {
        let fixture = try LiveFixture(
            offset: 60_000, environment: ["AUCTIOND_MEMORY_GRACE_SECONDS": "1", "AUCTIOND_RETENTION_DAYS": "0.00005"])
        let other = try samplePlannedAuction(id: "stays", start: fixture.store.now().adding(milliseconds: 60_000))
        try fixture.store.create(other)
        #expect(fixture.daemon.waitForAuction("stays"))
        let observer = try fixture.observer()
        _ = try observer.receive(until: "state")
        let cancel = blockingHTTP(
            "POST", port: fixture.daemon.port, path: "/api/v1/auctions/\(fixture.auctionId)/cancel",
            headers: ["Authorization": "Bearer \(AuctiondProcess.adminToken)"])
        #expect(cancel?.status == 200)
        let keys = AuctionKeys(fixture.auctionId)
        let redis = try fixture.redis.connect()
        let ttl = try redis.execute("PTTL", keys.log).integer ?? -1
        #expect(ttl > 0 && ttl <= 4_320, "the log expires with the retention: \(ttl) ms")
        #expect(try redis.execute("PTTL", AuctionKeys("stays").live).integer == -1, "a live auction never expires")
        // Out of memory after the grace; its observer is told the auction is over.
        #expect(waitUntil(timeout: .seconds(10)) { fixture.daemon.get("/api/v1/auctions/\(fixture.auctionId)")?.status == 404 })
        #expect(fixture.daemon.log.contains("auction left memory"))
        // Gone from Redis after the retention, index included; it is not loaded again.
        #expect(
            waitUntil(timeout: .seconds(10)) {
                (try? redis.execute("EXISTS", keys.plan, keys.live, keys.log, keys.requests, keys.bidders).integer) == 0
            })
        #expect(waitUntil(timeout: .seconds(5)) { (try? fixture.store.indexedAuctions().map(\.id)) == ["stays"] })
        Thread.sleep(forTimeInterval: 1.5)
        #expect(fixture.daemon.get("/api/v1/auctions/\(fixture.auctionId)")?.status == 404)
        #expect(fixture.daemon.get("/api/v1/auctions/stays")?.status == 200)
    }

    @Test func oneParticipationLinkHasAtMostFiveConnections() throws {
        let fixture = try LiveFixture(offset: 60_000)
        var clients: [TestWebSocketClient] = []
        for _ in 0..<5 {
            let client = try fixture.bidder(1)
            #expect(try client.receiveJSON()["role"] as? String == "bidder")
            clients.append(client)
        }
        #expect(throws: (any Error).self) { _ = try fixture.bidder(1).receiveJSON() }
        // Other links and observers are not affected.
        #expect(try fixture.bidder(2).receiveJSON()["role"] as? String == "bidder")
        #expect(try fixture.observer().receiveJSON()["role"] as? String == "observer")
        try clients.removeLast().sendClose()
        #expect(waitUntil { (try? fixture.bidder(1).receiveJSON()["role"] as? String) == "bidder" })
    }
}
