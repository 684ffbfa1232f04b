import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

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
