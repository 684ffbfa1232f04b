import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import Testing

/// auctiond on `redis+sentinel://` with `redisReplicasToAck: 1` and two replicas: the primary is
/// killed mid-turn, Sentinel promotes a replica and points the other at it, auctiond follows, and
/// no acknowledged bid is lost. (With one replica, the promoted one has none left to acknowledge:
/// bids are answered `unavailable` until one joins, `ReplicaAckTests`.)
@Suite struct SentinelFailoverTests {
    @Test func auctiondFollowsSentinelsFailoverAndLosesNoAcknowledgedBid() throws {
        let setup = try RedisSentinelSetup(replicas: 2)
        let store = AuctionStore(endpoint: setup.endpoint)
        let planned = try samplePlannedAuction(
            amounts: [900, 950], start: store.now().adding(milliseconds: -10), firstPause: 0, pause: 300, turn: 60_000)
        try store.create(planned)
        let id = planned.input.auctionId
        let daemon = try AuctiondProcess(
            redisURL: setup.url, environment: ["AUCTIOND_REDIS_REPLICAS_TO_ACK": "1", "AUCTIOND_REDIS_DURABILITY": "required"])
        #expect(daemon.waitForAuction(id))
        let bidId = planned.participants[0].bidId
        let token = ParticipationTokens(secrets: [AuctiondProcess.hashSecret]).token(auctionId: id, bidId: bidId)
        let bidder = try daemon.webSocket("/ws/\(id)?key_for_bid=\(bidId)&hash=\(token)")
        _ = try bidder.receive(until: "state")

        #expect(try bidder.bidUntilAnswered("900.00", requestId: "before")["type"] as? String == "bidAccepted")

        setup.primary.kill9()
        let promoted = try #require(setup.waitForPromotion(), "Sentinel promoted a replica:\n\(setup.sentinelLog)")
        let after = try bidder.bidUntilAnswered("899.00", requestId: "after")
        #expect(after["type"] as? String == "bidAccepted", "\(after)\n\(daemon.log.suffix(3000))")

        let events = try AuctionStore(endpoint: promoted.endpoint).events(of: id, after: 0)
        #expect(events.compactMap(\.requestId) == ["before", "after"], "both acknowledged bids on the promoted replica")
    }
}
