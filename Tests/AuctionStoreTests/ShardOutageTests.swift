import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// SPEC §3 on a cluster: an auction's Redis is its shard. One shard that no process can reach for
/// longer than the threshold moves its own auctions' timelines by the outage, and no other
/// shard's; a clock holder that dies while the other processes are up moves nothing.
@Suite(.serialized) struct ShardOutageTests {
    static let cluster = Result { try RedisCluster(replicasPerPrimary: 0) }

    let endpoint: RedisEndpoint
    let cluster: RedisCluster

    init() throws {
        cluster = try Self.cluster.get()
        endpoint = try #require(
            RedisEndpoint(url: "redis+cluster://" + cluster.nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")))
    }

    /// Two auction ids whose keys live on two different primaries, and the first one's primary.
    func idsOnTwoShards() throws -> (paused: String, other: String, primary: RedisServer) {
        let map = try RedisClusterConnection(seeds: cluster.seeds).map
        let run = UUID().uuidString.prefix(8)
        let ids = (1...50).map { "shard-\(run)-\($0)" }
        func primary(_ id: String) -> RedisAddress? { map.primary(for: ClusterSlot.of(AuctionKeys(id).live)) }
        let paused = ids[0]
        let other = try #require(ids.first { primary($0) != primary(paused) })
        let node = try #require(primary(paused).flatMap(cluster.node(at:)))
        return (paused, other, node)
    }

    func leaseHolder(_ id: String) throws -> String? {
        try RedisClusterConnection(seeds: cluster.seeds).execute("GET", AuctionKeys(id).lease).string
    }

    func clock(owner: String) -> AuctionClock {
        AuctionClock(endpoint: endpoint, owner: owner, settings: StoreFixture.quickClockSettings(outageThreshold: .milliseconds(1000)))
    }

    func plan(_ id: String, store: AuctionStore, start: Timestamp) throws -> AuctionState {
        let planned = try samplePlannedAuction(id: id, start: start, firstPause: 500, pause: 500, turn: 5000)
        try store.create(planned)
        return planned
    }

    func outages(_ id: String, store: AuctionStore) throws -> [(from: Timestamp, until: Timestamp)] {
        try store.events(of: id, after: 0).compactMap { event in
            if case .outageRecovered(let from, let until) = event.event { return (from, until) }
            return nil
        }
    }

    @Test func aShardNoProcessCanReachMovesItsOwnAuctionsAndNoOthers() throws {
        let (pausedId, otherId, primary) = try idsOnTwoShards()
        let store = AuctionStore(endpoint: endpoint)
        // The clock runs first: planned after, the auctions are stamped within a heartbeat or
        // two, never late enough to record a gap before they start.
        let clock = clock(owner: "only")
        clock.start()
        defer { clock.stop() }
        let start = try store.now()
        let planned = try plan(pausedId, store: store, start: start)
        _ = try plan(otherId, store: store, start: start)
        // Well into the first turn (500–5500 ms), the paused auction's shard answers nobody for 2.5 s.
        #expect(waitUntil(timeout: .seconds(10)) { (try? store.load(otherId).state.currentStage) == 1 })
        Thread.sleep(forTimeInterval: 1.0)
        let firstBidder = try #require(planned.stages[1].bidder)
        try primary.connect().execute("CLIENT", "PAUSE", "2500", "ALL")
        // Meanwhile the other shard serves its auction's bidder.
        let otherStore = AuctionStore(endpoint: endpoint)
        let bid = try otherStore.placeBid(
            auctionId: otherId, bidder: firstBidder, request: .place(planned.bestValidAmount(of: firstBidder)), requestId: "during")
        #expect(bid.code == "accepted")

        #expect(waitUntil(timeout: .seconds(15)) { ((try? outages(pausedId, store: store)) ?? []).count == 1 })
        let outage = try #require(try outages(pausedId, store: store).first)
        let missed = outage.until.microseconds - outage.from.microseconds
        #expect(missed >= 2_000_000, "the 2.5-s pause, less at most a stamp interval")
        let moved = try store.load(pausedId).state
        #expect(moved.status == .active)
        for index in 2..<planned.stages.count where planned.stages[index].kind != .announcement {
            #expect(moved.stages[index].start.microseconds == planned.stages[index].start.microseconds + missed, "stage \(index)")
        }
        // The turn the outage fell in was given its time back: its bidder bids in it now.
        let late = try store.placeBid(
            auctionId: pausedId, bidder: firstBidder, request: .place(planned.bestValidAmount(of: firstBidder)), requestId: "after")
        #expect(late.code == "accepted")
        #expect(try outages(otherId, store: store).isEmpty, "the other shard was reached all along")
    }

    @Test func aClockHolderThatDiesWhileOthersAreUpMovesNothing() throws {
        let (id, _, _) = try idsOnTwoShards()
        let store = AuctionStore(endpoint: endpoint)
        let holder = clock(owner: "holder")
        holder.start()
        let planned = try plan(id, store: store, start: try store.now())
        #expect(waitUntil { (try? leaseHolder(id)) == "holder" })
        let survivor = clock(owner: "survivor")
        survivor.start()
        defer { survivor.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        holder.stop()
        // Longer than the threshold without the holder's stamps; the survivor's go on.
        #expect(waitUntil(timeout: .seconds(5)) { (try? leaseHolder(id)) == "survivor" })
        Thread.sleep(forTimeInterval: 2.0)
        #expect(try outages(id, store: store).isEmpty)
        #expect(try store.load(id).state.stages.map(\.start) == planned.stages.map(\.start))
    }
}
