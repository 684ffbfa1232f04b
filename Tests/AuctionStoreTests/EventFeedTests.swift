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
        try placeBids(fixture, planned, below: 0..<2, requestPrefix: "early-")
        let received = Recorder<Int64>()
        let feed = AuctionEventFeed(endpoint: fixture.redis.endpoint) { received.append($0.seq) }
        feed.start()
        defer { feed.stop() }
        feed.follow("tender-1", after: 0)
        #expect(waitUntil { received.all.count == 2 })
        let killer = try fixture.redis.connect()
        for i in 0..<60 {
            try placeBids(fixture, planned, below: [100 + i], requestPrefix: "late-")
            if i % 20 == 10 { try killer.execute("CLIENT", "KILL", "TYPE", "pubsub") }
        }
        #expect(waitUntil { received.all.count >= 62 })
        Thread.sleep(forTimeInterval: 0.2)
        #expect(received.all == Array(1...62))
    }

    @Test func aFollowerGetsOnlyEventsAfterWhatItHas() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        try placeBids(fixture, planned, below: 0..<3, requestPrefix: "r")
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

/// Bidder 1's bids in its turn, each `offset` kopiyky under its best valid amount, with request
/// ids `requestPrefix` + the offset.
private func placeBids(_ fixture: StoreFixture, _ planned: AuctionState, below offsets: some Sequence<Int>, requestPrefix: String) throws {
    for offset in offsets {
        _ = try fixture.store.placeBid(
            auctionId: "tender-1", bidder: 1, request: .place(planned.bestValidAmount(of: 1) - Money(kopiyky: Int64(offset))),
            requestId: requestPrefix + "\(offset)")
    }
}
