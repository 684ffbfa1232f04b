import AuctionCore
@testable import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import Testing

@Suite struct KeyLayoutTests {
    @Test func keysOfOneAuctionShareItsHashTag() {
        let keys = AuctionKeys("abc_1")
        for key in [keys.plan, keys.live, keys.log, keys.pending, keys.requests, keys.bidders, keys.lease, keys.report, keys.channel] {
            #expect(key.hasPrefix("auction:{abc_1}:"))
        }
    }

    /// The heartbeat script writes both service keys: one tag, one slot, also on a cluster.
    @Test func theHeartbeatAndTheOutagesShareASlot() {
        #expect(ClusterSlot.of(ServiceKeys.heartbeat) == ClusterSlot.of(ServiceKeys.outages))
    }

    /// A Redis that served an earlier version has the untagged names: they are renamed once, with
    /// their values, and a second call (or a Redis that has the new ones) changes nothing.
    @Test func untaggedServiceKeysOfAnEarlierVersionAreAdopted() throws {
        let fixture = try StoreFixture()
        let redis = try fixture.redis.connect()
        try redis.execute("SET", "auctiond:heartbeat", "1796000000000000 2")
        try redis.execute("RPUSH", "auctiond:outages", "1:2", "3:4")
        #expect(try fixture.store.adoptUntaggedServiceKeys() == ["auctiond:heartbeat", "auctiond:outages"])
        #expect(try redis.execute("GET", ServiceKeys.heartbeat).string == "1796000000000000 2")
        #expect(try fixture.store.outages(from: 0).count == 2)
        #expect(try redis.execute("EXISTS", "auctiond:heartbeat", "auctiond:outages").integer == 0)
        #expect(try fixture.store.adoptUntaggedServiceKeys() == [])
    }
}
