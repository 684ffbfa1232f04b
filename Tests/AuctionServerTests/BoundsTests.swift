import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

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
