import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

@Suite struct DurabilityTests {
    @Test func aRedisCrashBetweenTwoBidsLosesNothingAcknowledged() throws {
        let fixture = try StoreFixture(appendOnly: true)
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        let first = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "one")
        #expect(first.code == "accepted")
        fixture.redis.kill9()
        try fixture.redis.start()
        // The same store: it reconnects, and the server has lost its script cache.
        let second = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1) - Money(kopiyky: 1000)), requestId: "two")
        #expect(second.code == "accepted")
        // A retry of the first request after the crash still gets the first answer.
        #expect(
            try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "one")
                == first)
        let log = try fixture.log()
        #expect(log.map(\.seq) == [1, 2])
        #expect(log.map(\.requestId) == ["one", "two"])
        let replica = try AuctionStore(endpoint: fixture.redis.endpoint).load("tender-1")
        #expect(replica.state.pendingBids.map(\.amount) == [planned.bestValidAmount(of: 1) - Money(kopiyky: 1000)])
    }

    @Test func withRedisDownABidFailsWithAClearErrorAndChangesNothing() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        fixture.redis.stop()
        let store = AuctionStore(endpoint: fixture.redis.endpoint, retry: RetryPolicy(budget: .milliseconds(200)))
        #expect {
            try store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "r")
        } throws: { error in
            guard case .unavailable(.connectionFailed) = error as? AuctionStoreError else { return false }
            return "\(error)".hasPrefix("Redis is unavailable: cannot connect to Redis at 127.0.0.1:")
        }
        #expect(store.ping() == false)
    }
}

extension AuctionEvent {
    var time: Timestamp {
        switch self {
        case .stageStarted(_, let at), .bidAccepted(_, _, _, let at), .bidCancelled(_, _, let at), .resultsReported(let at),
            .namesRevealed(_, let at), .cancelled(let at), .rescheduled(let at), .replanned(_, let at):
            at
        case .outageRecovered(_, let until): until
        }
    }
}
