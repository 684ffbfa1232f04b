import AuctionCore
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import Testing

/// SPEC §8: each bad input gets its own code and leaves everything else untouched.
@Suite struct BadInputTests {
    /// A fixture whose bidder 1 is in a long turn now.
    func openTurn() throws -> LiveFixture { try LiveFixture(offset: -10, firstPause: 0, turn: 60_000) }

    func connectedBidder(_ fixture: LiveFixture, _ number: Int = 1) throws -> TestWebSocketClient {
        let client = try fixture.bidder(number)
        _ = try client.receive(until: "state")
        return client
    }

    @Test func malformedJSONAndUnknownTypesGetTheirErrors() throws {
        let fixture = try openTurn()
        let client = try connectedBidder(fixture)
        for (text, code) in [
            ("{not json", "bad_json"), ("[1,2]", "bad_json"), ("{\"type\": 5}", "bad_json"), ("{\"type\": \"dance\"}", "unknown_type"),
            ("{\"type\": \"bid\", \"amount\": \"1.00\", \"requestId\": \"\(String(repeating: "x", count: 65))\"}", "bad_json"),
        ] {
            try client.send(text: text)
            let answer = try client.receiveReply()
            #expect(answer["type"] as? String == "error", "\(text)")
            #expect(answer["code"] as? String == code, "\(text)")
            #expect((answer["message"] as? String)?.isEmpty == false)
        }
        // The connection still works.
        try client.sendJSON(["type": "ping", "clientTime": 1_732_000_000_000])
        let pong = try client.receiveReply()
        #expect(pong["type"] as? String == "pong")
        #expect(pong["clientTime"] as? Int64 == 1_732_000_000_000)
        #expect(pong["serverTime"] as? Int64 != nil)
    }

    @Test func everyBadAmountIsRejectedWithItsCodeAndNothingIsStored() throws {
        let fixture = try openTurn()
        let client = try connectedBidder(fixture)
        let cases: [(Any, String)] = [
            ("abc", "invalid_amount"), ("NaN", "invalid_amount"), ("12.345", "invalid_amount"), (12.345, "invalid_amount"),
            ("1e400", "invalid_amount"), ("99999999999999999", "invalid_amount"), (["x": 1], "invalid_amount"), (true, "invalid_amount"),
            ("-5.00", "too_low"), ("0", "too_low"), ("945.00", "too_high"), ("940.01", "too_high"),
        ]
        for (index, (amount, code)) in cases.enumerated() {
            try client.sendJSON(["type": "bid", "amount": amount, "requestId": "bad-\(index)"])
            let answer = try client.receiveReply()
            #expect(answer["type"] as? String == "bidRejected", "\(amount)")
            #expect(answer["code"] as? String == code, "\(amount)")
            #expect(answer["requestId"] as? String == "bad-\(index)")
        }
        let bids = try fixture.store.events(of: fixture.auctionId, after: 0).filter { event in
            if case .stageStarted = event.event { return false }
            return true
        }
        #expect(bids.isEmpty, "only the clock's stage switches are logged")
        try client.sendJSON(["type": "bid", "amount": 940, "requestId": "good"])
        let good = try client.receiveReply()
        #expect(good["type"] as? String == "bidAccepted")
        #expect(good["amount"] as? String == "940.00")
    }

    @Test func aRequestIdReusedForAnotherRequestIsRejectedAndTheSameMessageGetsTheFirstAnswer() throws {
        let fixture = try openTurn()
        let client = try connectedBidder(fixture)
        try client.sendJSON(["type": "bid", "amount": "940.00", "requestId": "once"])
        let first = try client.receiveReply()
        #expect(first["type"] as? String == "bidAccepted")
        for other: [String: Any] in [
            ["type": "bid", "amount": "930.00", "requestId": "once"], ["type": "cancel", "requestId": "once"],
            ["type": "bid", "amount": -1, "requestId": "once"],
        ] {
            try client.sendJSON(other)
            let answer = try client.receiveReply()
            #expect(answer["type"] as? String == "bidRejected", "\(other)")
            #expect(answer["code"] as? String == "request_id_reused", "\(other)")
            #expect(answer["requestId"] as? String == "once")
        }
        try client.sendJSON(["type": "bid", "amount": "940.00", "requestId": "once"])
        let again = try client.receiveReply()
        #expect(again["type"] as? String == "bidAccepted")
        #expect(again["serverTime"] as? Int64 == first["serverTime"] as? Int64)
        let state = try fixture.store.load(fixture.auctionId).state
        #expect(state.pendingBid(of: 1)?.amount == Money(kopiyky: 94_000))
    }

    @Test func aRequestIdWithQuotesControlCharactersAndUnicodeIsEchoedExactly() throws {
        let fixture = try openTurn()
        let client = try connectedBidder(fixture)
        let requestIds = ["q\"uote\\back/slash", "line\nbreak\ttab\u{01}\u{1F}", "ставка-ї-😀", "<b>&amp;</b>"]
        for (index, requestId) in requestIds.enumerated() {
            try client.sendJSON(["type": "bid", "amount": index == 0 ? "940.00" : "945.00", "requestId": requestId])
            let answer = try client.receiveReply()
            #expect(answer["requestId"] as? String == requestId)
            #expect(answer["type"] as? String == (index == 0 ? "bidAccepted" : "bidRejected"))
        }
    }

    @Test func bidsOutsideOnesTurnAndFromObserversAreRejected() throws {
        let fixture = try openTurn()
        let other = try connectedBidder(fixture, 2)
        try other.sendJSON(["type": "bid", "amount": "800.00", "requestId": "x"])
        let notYours = try other.receiveReply()
        #expect(notYours["code"] as? String == "not_your_turn")
        #expect(notYours["message"] as? String == "Not valid bidder")
        let observer = try fixture.observer()
        _ = try observer.receive(until: "state")
        try observer.sendJSON(["type": "bid", "amount": "800.00", "requestId": "o"])
        #expect(try observer.receiveReply()["code"] as? String == "observer")
        try observer.sendJSON(["type": "cancel", "requestId": "o2"])
        #expect(try observer.receiveReply()["code"] as? String == "observer")
    }

    @Test func bidsBeyondTheQueueLimitAreAnsweredUnavailableAndCanBeSentAgain() throws {
        // One worker that holds at most one waiting bid, and Redis paused so nothing drains.
        let fixture = try LiveFixture(
            offset: -10, firstPause: 0, turn: 60_000,
            environment: ["AUCTIOND_WORKERS": "1", "AUCTIOND_LIMITS_MAX_QUEUED_BIDS": "1"])
        let client = try connectedBidder(fixture)
        _ = try fixture.redis.connect().execute("CLIENT", "PAUSE", "1500", "WRITE")
        let amounts = ["940.00", "930.00", "920.00"]
        for (index, amount) in amounts.enumerated() {
            try client.sendJSON(["type": "bid", "amount": amount, "requestId": "q\(index)"])
        }
        // The first always gets in; the queue holds one more, so at least one of the other two
        // finds it full and is answered at once (which one depends on when the worker took the
        // first off the queue).
        var answers: [String: [String: Any]] = [:]
        var busy: [String] = []  // requestIds answered unavailable
        while answers.count + busy.count < amounts.count {
            let answer = try client.receiveReply()
            if answer["type"] as? String == "error" {
                #expect(answer["code"] as? String == "unavailable")
                #expect((answer["message"] as? String)?.contains("requestId") == true)
                busy.append(try #require(answer["requestId"] as? String))
            } else if let id = answer["requestId"] as? String {
                answers[id] = answer
            }
        }
        #expect(answers["q0"]?["type"] as? String == "bidAccepted")
        #expect(!busy.isEmpty && !busy.contains("q0"), "\(busy)")
        #expect(Set(busy).isDisjoint(with: answers.keys))
        // Nothing of a refused bid was stored; sent again, it is decided like any other.
        let accepted = try fixture.store.events(of: fixture.auctionId, after: 0).compactMap { event -> String? in
            if case .bidAccepted = event.event { return event.requestId }
            return nil
        }
        #expect(Set(accepted) == Set(answers.keys))
        for id in busy.sorted() {
            try client.sendJSON(["type": "bid", "amount": amounts[Int(id.dropFirst())!], "requestId": id])
            let retried = try client.receiveReply()
            #expect(retried["type"] as? String == "bidAccepted", "\(retried)")
            #expect(retried["requestId"] as? String == id)
        }
    }

    @Test func aForgedTokenGetsInvalidTokenAndAReadOnlyView() throws {
        let fixture = try openTurn()
        let forged = try fixture.daemon.webSocket(fixture.bidderPath(1, token: String(repeating: "0", count: 32)))
        let messages = try forged.receive(until: "error")
        #expect(messages.first?["role"] as? String == "observer")
        #expect(messages.last?["code"] as? String == "invalid_token")
        try forged.sendJSON(["type": "bid", "amount": "900.00", "requestId": "f"])
        #expect(try forged.receiveReply()["code"] as? String == "observer")
        // A link for another auction's bid, and a link without a hash, are refused the same way.
        let missingHash = try fixture.daemon.webSocket("/ws/\(fixture.auctionId)?key_for_bid=\(fixture.planned.participants[0].bidId)")
        #expect(try missingHash.receive(until: "error").last?["code"] as? String == "invalid_token")
        #expect(fixture.daemon.process.log.contains(String(repeating: "0", count: 32)) == false)
    }

    @Test func oversizeFramesAndFloodsGetErrorsThenA1008Close() throws {
        let fixture = try openTurn()
        let client = try connectedBidder(fixture)
        try client.send(text: "{\"type\":\"ping\",\"pad\":\"" + String(repeating: "x", count: 5000) + "\"}")
        let tooLarge = try client.receiveReply()
        #expect(tooLarge["code"] as? String == "too_large")
        let flooder = try connectedBidder(fixture, 2)
        // The server may close the connection before the flood is out: stop sending then.
        for i in 0..<60 {
            do { try flooder.send(text: "{\"type\":\"ping\",\"clientTime\":\(i)}") } catch { break }
        }
        var codes: [String] = []
        var closeCode: UInt16?
        flooder.setTimeout(.seconds(5))
        while closeCode == nil {
            switch try flooder.receive() {
            case .text(let text):
                let message = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                if let code = message?["code"] as? String { codes.append(code) }
            case .close(let code, _): closeCode = code
            case .binary: break
            }
        }
        #expect(codes.first == "rate_limited")
        #expect(closeCode == 1008)
        // Others are untouched.
        try client.sendJSON(["type": "bid", "amount": "900.00", "requestId": "still-fine"])
        #expect(try client.receiveReply()["type"] as? String == "bidAccepted")
    }

    @Test func unknownAuctionsBadPathsAndMethodsAnswerProtocolErrors() throws {
        let fixture = try openTurn()
        #expect { try fixture.daemon.webSocket("/ws/nope") } throws: { ($0 as? TestWebSocketClient.HandshakeRefused)?.status == 404 }
        #expect(fixture.daemon.get("/api/v1/auctions/nope")?.status == 404)
        #expect(fixture.daemon.get("/api/v1/auctions/../../etc/passwd")?.status == 404)
        #expect(fixture.daemon.get("/api/v2/whatever")?.status == 404)
        let wrongMethod = blockingHTTP("DELETE", port: fixture.daemon.port, path: "/api/v1/auctions/\(fixture.auctionId)")
        #expect(wrongMethod?.status == 405)
        #expect(wrongMethod?.body.contains("\"method_not_allowed\"") == true)
    }

    @Test func adminEndpointsNeedTheTokenAndCancelStopsTheAuction() throws {
        let fixture = try openTurn()
        let path = "/api/v1/auctions/\(fixture.auctionId)/cancel"
        let port = fixture.daemon.port
        #expect(blockingHTTP("POST", port: port, path: path)?.status == 401)
        #expect(blockingHTTP("POST", port: port, path: path, headers: ["Authorization": "Bearer wrong"])?.status == 403)
        let observer = try fixture.observer()
        _ = try observer.receive(until: "state")
        let cancelled = blockingHTTP("POST", port: port, path: path, headers: ["Authorization": "Bearer \(AuctiondProcess.adminToken)"])
        #expect(cancelled?.status == 200)
        // A stage the clock switched to before the cancel may come first.
        observer.setTimeout(.seconds(10))
        let auction = try observer.receiveAuction { $0["status"] as? String != "active" }
        #expect(auction["status"] as? String == "cancelled")
        #expect(
            blockingHTTP("POST", port: port, path: path, headers: ["Authorization": "Bearer \(AuctiondProcess.adminToken)"])?.status == 409)
        let bidder = try connectedBidder(fixture)
        try bidder.sendJSON(["type": "bid", "amount": "900.00", "requestId": "late"])
        #expect(try bidder.receiveReply()["code"] as? String == "not_bidding_stage")
    }
}
