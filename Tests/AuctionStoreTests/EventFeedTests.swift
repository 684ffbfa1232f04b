import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

@Suite struct EventFeedTests {
    @Test func eventsArriveInOrderOnceEachEvenWhenTheSubscriptionDrops() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        // Two events before anyone follows: the feed reads them from the log.
        for i in 0..<2 {
            _ = try fixture.store.placeBid(
                auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1) - Money(kopiyky: Int64(i))),
                requestId: "early-\(i)")
        }
        let received = Recorder<Int64>()
        let feed = AuctionEventFeed(endpoint: fixture.redis.endpoint) { received.append($0.seq) }
        feed.start()
        defer { feed.stop() }
        feed.follow("tender-1", after: 0)
        #expect(waitUntil { received.all.count == 2 })
        let killer = try fixture.redis.connect()
        for i in 0..<60 {
            _ = try fixture.store.placeBid(
                auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1) - Money(kopiyky: Int64(100 + i))),
                requestId: "late-\(i)")
            if i % 20 == 10 { try killer.execute("CLIENT", "KILL", "TYPE", "pubsub") }
        }
        #expect(waitUntil { received.all.count >= 62 })
        Thread.sleep(forTimeInterval: 0.2)
        #expect(received.all == Array(1...62))
    }

    @Test func aFollowerGetsOnlyEventsAfterWhatItHas() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        for i in 0..<3 {
            _ = try fixture.store.placeBid(
                auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1) - Money(kopiyky: Int64(i))),
                requestId: "r\(i)")
        }
        let received = Recorder<SequencedEvent>()
        let feed = AuctionEventFeed(endpoint: fixture.redis.endpoint) { received.append($0) }
        feed.start()
        defer { feed.stop() }
        feed.follow("tender-1", after: 2)
        #expect(waitUntil { received.all.count == 1 })
        _ = try fixture.store.placeBid(auctionId: "tender-1", bidder: 1, request: .cancel, requestId: "c")
        #expect(waitUntil { received.all.count == 2 })
        #expect(received.all.map(\.seq) == [3, 4])
        #expect(received.all.last?.event == .bidCancelled(stage: 1, bidder: 1, at: received.all.last!.event.time))
        #expect(received.all.last?.requestId == "c")
    }
}
