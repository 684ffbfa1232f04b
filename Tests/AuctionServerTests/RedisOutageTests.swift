import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

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
