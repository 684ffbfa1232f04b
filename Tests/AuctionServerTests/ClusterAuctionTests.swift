import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// auctiond on a real Redis Cluster (3 primaries, 2 replicas each, `redisReplicasToAck: 1`):
/// auctions spread over the shards, two processes, bidders on one and their other tabs on the
/// other, and a primary kill -9'd mid-turn: a replica takes over, bidding goes on, and no
/// acknowledged bid is lost.
@Suite struct ClusterAuctionTests {
    @Test func auctionsOnEveryShardRunOnTwoProcessesThroughAPrimaryFailover() throws {
        // Two replicas a primary: after the failover the promoted replica still has one to
        // acknowledge (with one, every bid of that shard would be answered `unavailable`).
        let cluster = try RedisCluster(replicasPerPrimary: 2)
        let url = "redis+cluster://" + cluster.nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
        let endpoint = try #require(RedisEndpoint(url: url))
        let store = AuctionStore(endpoint: endpoint)
        let map = try RedisClusterConnection(seeds: cluster.seeds).map
        // One auction on each primary.
        var planned: [AuctionState] = []
        var n = 0
        while Set(planned.map { map.primary(for: ClusterSlot.of($0.input.auctionId)) }).count < 3 {
            let id = "cluster-\(n)"
            n += 1
            guard !planned.contains(where: { map.primary(for: ClusterSlot.of($0.input.auctionId)) == map.primary(for: ClusterSlot.of(id)) })
            else { continue }
            let auction = try samplePlannedAuction(
                id: id, amounts: [900, 950], start: store.now().adding(milliseconds: -10), firstPause: 0, pause: 300, turn: 60_000)
            try store.create(auction)
            planned.append(auction)
        }
        // A bid is acknowledged only once its shard's replica has it (WAIT on that primary).
        let replicated = ["AUCTIOND_REDIS_REPLICAS_TO_ACK": "1"]
        let here = try AuctiondProcess(redisURL: url, environment: replicated)
        let there = try AuctiondProcess(redisURL: url, environment: replicated)
        let tokens = ParticipationTokens(secrets: [AuctiondProcess.hashSecret])
        func bidderPath(_ auction: AuctionState) -> String {
            let bidId = auction.participants[0].bidId
            return
                "/ws/\(auction.input.auctionId)?key_for_bid=\(bidId)&hash=\(tokens.token(auctionId: auction.input.auctionId, bidId: bidId))"
        }
        var bidders: [(here: TestWebSocketClient, there: TestWebSocketClient)] = []
        for auction in planned {
            #expect(here.waitForAuction(auction.input.auctionId) && there.waitForAuction(auction.input.auctionId))
            let pair = (try here.webSocket(bidderPath(auction)), try there.webSocket(bidderPath(auction)))
            _ = try pair.0.receive(until: "state")
            _ = try pair.1.receive(until: "state")
            bidders.append(pair)
        }

        for (index, pair) in bidders.enumerated() {
            #expect(try pair.here.bidUntilAnswered("900.00", requestId: "before-\(index)")["type"] as? String == "bidAccepted")
            do {
                let relayed = try pair.there.receiveReply()
                #expect(relayed["requestId"] as? String == "before-\(index)", "the other process tells the bidder's other tab")
            } catch {
                Issue.record("the other tab was not told of before-\(index): \(error)\n\(there.log.suffix(3000))")
            }
        }

        // Sharded pub/sub: each auction's events go out on its shard channel, on its own primary,
        // where both processes subscribe; nobody listens by pattern (classic pub/sub would carry
        // every event over the cluster bus to every node).
        for auction in planned {
            let channel = AuctionKeys(auction.input.auctionId).channel
            let ownerAddress = try #require(map.primary(for: ClusterSlot.of(channel)))
            let owner = try #require(cluster.node(at: ownerAddress))
            let subscribers = try owner.connect().execute("PUBSUB", "SHARDNUMSUB", channel).array?.last?.integer
            #expect(subscribers == 2, "\(channel): \(subscribers ?? -1) subscribers on its primary")
        }
        for node in cluster.nodes {
            #expect(try node.connect().execute("PUBSUB", "NUMPAT").integer == 0, "a pattern subscription on \(node.port)")
        }

        // The primary of the first auction's shard dies; its replica is promoted.
        let victimAddress = try #require(map.primary(for: ClusterSlot.of(planned[0].input.auctionId)))
        let victim = try #require(cluster.node(at: victimAddress))
        // Acknowledged means replicated: a replica has the first bid already, with no waiting (the
        // one the cluster promotes is the one with the most of the primary's data).
        let log = AuctionKeys(planned[0].input.auctionId).log
        let replicas = cluster.nodes.filter { node in
            guard let role = try? node.connect().execute("ROLE").array, role.count > 2 else { return false }
            return role[0].string == "slave" && role[2].integer == Int64(victimAddress.port)
        }
        #expect(replicas.count == 2)
        let primaryLength = try victim.connect().execute("XLEN", log).integer
        #expect((primaryLength ?? 0) > 0)
        let holding = try replicas.filter { replica in
            let reads = try replica.connect()
            try reads.execute("READONLY")  // a replica answers reads of its slots only when asked so
            return try reads.execute("XLEN", log).integer == primaryLength
        }
        #expect(!holding.isEmpty, "no replica had the acknowledged bid")
        victim.kill9()
        for (index, pair) in bidders.enumerated() {
            let answer = try pair.there.bidUntilAnswered("899.00", requestId: "after-\(index)")
            #expect(answer["type"] as? String == "bidAccepted", "\(answer)\n\(there.log.suffix(2000))")
            // The other process subscribed again where the shard now is (or read the log).
            do {
                let relayed = try pair.here.receiveReply()
                #expect(relayed["requestId"] as? String == "after-\(index)", "\(relayed)\n\(here.log.suffix(2000))")
            } catch {
                Issue.record("the other tab was not told of after-\(index): \(error)\n\(here.log.suffix(3000))")
            }
        }
        for (index, auction) in planned.enumerated() {
            let events = try AuctionStore(endpoint: endpoint).events(of: auction.input.auctionId, after: 0)
            #expect(events.compactMap(\.requestId) == ["before-\(index)", "after-\(index)"], "\(auction.input.auctionId)")
        }
    }
}
