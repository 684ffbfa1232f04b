import AuctionTesting
import Foundation
import Testing

/// `redisReplicasToAck` end to end: auctiond sends `bidAccepted` only once a replica has the bid.
@Suite struct ReplicaAckTests {
    @Test func aBidNoReplicaHoldsIsAnsweredUnavailableAndTheSameRequestIsAcceptedOnceOneDoes() throws {
        let fixture = try LiveFixture(
            offset: -10, firstPause: 0, turn: 60_000, environment: ["AUCTIOND_REDIS_REPLICAS_TO_ACK": "1"], appendOnly: true)
        let bidder = try fixture.bidder(1)
        _ = try bidder.receive(until: "state")
        try bidder.sendJSON(["type": "bid", "amount": "900.00", "requestId": "r-1"])
        let alone = try bidder.receiveReply()
        #expect(alone["type"] as? String == "error" && alone["code"] as? String == "unavailable", "\(alone)")

        let replica = try RedisServer.replica(of: fixture.redis)
        let replicated = try bidder.bidUntilAnswered("900.00", requestId: "r-1", patience: .seconds(10))
        #expect(replicated["type"] as? String == "bidAccepted", "\(replicated)")
        withExtendedLifetime(replica) {}
    }
}
