import AuctionCore
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// `redisReplicasToAck`: a change is acknowledged only once that many replicas have it (Redis's
/// WAIT after the bid script), so that a failover to a replica loses no acknowledged bid.
@Suite struct ReplicationTests {
    @Test func aBidIsAcknowledgedOnlyOnceAReplicaHasItAndAFailoverKeepsIt() throws {
        let fixture = try StoreFixture(appendOnly: true)
        let replica = try RedisServer.replica(of: fixture.redis)
        let planned = try fixture.plan(offset: -10, firstPause: 0, turn: 60_000)
        var policy = StorePolicy()
        policy.replicasToAck = 1
        policy.replicaAckTimeout = .milliseconds(1500)  // generous: the suites run side by side
        let store = AuctionStore(endpoint: fixture.redis.endpoint, policy: policy)
        let first = planned.bestValidAmount(of: 1)
        let second = first - Money(kopiyky: 1000)
        #expect(try store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(first), requestId: "one").code == "accepted")

        replica.stop()
        #expect {
            try store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(second), requestId: "two")
        } throws: { error in
            (error as? AuctionStoreError) == .notReplicated(auctionId: "tender-1", replicas: 0, needed: 1)
        }
        // A rejection changes nothing, so it needs no replica.
        let rejected = try store.placeBid(auctionId: "tender-1", bidder: 2, request: .place(first), requestId: "out-of-turn")
        #expect(rejected.code == "not_your_turn")

        try replica.start()
        try replica.waitForSync()
        let resent = try store.placeBid(auctionId: "tender-1", bidder: 1, request: .place(second), requestId: "two")
        #expect(resent.code == "accepted", "the same requestId: the recorded answer, now on a replica")

        // The primary dies; the replica, promoted, holds every acknowledged bid.
        fixture.redis.kill9()
        try replica.connect().execute("REPLICAOF", "NO", "ONE")
        let promoted = try AuctionStore(endpoint: replica.endpoint).events(of: "tender-1", after: 0)
        #expect(promoted.compactMap(\.requestId) == ["one", "two"])
    }
}
