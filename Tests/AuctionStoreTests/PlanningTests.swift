import AuctionCore
@testable import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import Testing

@Suite struct PlanningTests {
    @Test func aPlannedAuctionLoadsBackFromRedisAlone() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: 60_000)
        let replica = try AuctionStore(endpoint: fixture.redis.endpoint).load("tender-1")
        #expect(replica.state == planned)
        #expect(replica.seq == 0)
        #expect(try fixture.store.bidder(ofBid: planned.participants[0].bidId, in: "tender-1") == 1)
        #expect(try fixture.store.bidder(ofBid: "not-a-bid", in: "tender-1") == nil)
        let index = try fixture.store.indexedAuctions()
        #expect(index.map(\.id) == ["tender-1"])
        #expect(index.first?.status == .scheduled)
        #expect(index.first?.startMilliseconds == planned.input.startDate.milliseconds)
    }

    @Test func planningTwiceKeepsTheFirstPlan() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(offset: 60_000)
        let other = try samplePlannedAuction(start: planned.input.startDate.adding(milliseconds: 5000))
        #expect(try fixture.store.create(other) == false)
        #expect(try fixture.store.load("tender-1").state == planned)
    }

    @Test func anUnknownAuctionIsNamedInTheError() throws {
        let fixture = try StoreFixture()
        #expect(throws: AuctionStoreError.unknownAuction("nope")) { try fixture.store.load("nope") }
        #expect(throws: AuctionStoreError.unknownAuction("nope")) {
            try fixture.store.placeBid(auctionId: "nope", bidder: 1, request: .place(Money(kopiyky: 100)), requestId: "r")
        }
    }
}
