import AuctionCore
@testable import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import Testing

@Suite struct BatchTests {
    /// The clock appends the due events of many auctions in one round trip: each is its own
    /// compare-and-set, run in order, with its own outcome in its place.
    @Test func aBatchOfAppendsGivesEachItsOwnOutcomeInOrder() throws {
        let fixture = try StoreFixture()
        let future = try fixture.plan(id: "future", offset: 60_000)
        _ = try fixture.plan(id: "due", offset: -10)
        _ = try fixture.plan(id: "other-lease", offset: -10)
        #expect(try fixture.store.acquireLeases(["future", "due", "other-lease"], owner: "me", ttl: .seconds(60)) == [true, true, true])
        let due = try fixture.store.load("due")
        func request(_ replica: AuctionReplica, owner: String = "me", at: Timestamp) throws -> AppendRequest {
            let event = try #require(replica.state.dueStageSwitch(at: at))
            var next = replica.state
            try next.apply(event)
            return AppendRequest(
                event, to: replica, next: next, leaseOwner: owner, notBefore: next.stages[0].start, stampWithRedisTime: true)
        }
        let far = future.stages[0].start
        let batch = [
            try request(fixture.store.load("future"), at: far),
            try request(due, at: far),
            try request(due, at: far),  // the same seq again: the one before it came first
            try request(fixture.store.load("other-lease"), owner: "someone-else", at: far),
            try request(AuctionReplica(planned: samplePlannedAuction(id: "nope", start: far)), at: far),
        ]
        let outcomes = try fixture.store.append(batch)
        #expect(outcomes.count == batch.count)
        guard case .success(.early(let now)) = outcomes[0] else {
            Issue.record("\(outcomes[0])")
            return
        }
        #expect(now < far)
        guard case .success(.appended(seq: 1, let at)) = outcomes[1] else {
            Issue.record("\(outcomes[1])")
            return
        }
        #expect(at >= due.state.stages[0].start)
        #expect(outcomes[2] == .success(.conflict(seq: 1)))
        #expect(outcomes[3] == .success(.notLeaseHolder))
        #expect(throws: AuctionStoreError.unknownAuction("nope")) { try outcomes[4].get() }
        // The index follows the one auction that changed status.
        let statuses = Dictionary(uniqueKeysWithValues: try fixture.store.indexedAuctions().map { ($0.id, $0.status) })
        #expect(statuses == ["future": .scheduled, "due": .active, "other-lease": .scheduled])
    }

    @Test func loadsAndLogReadsOfManyAuctionsAnswerEachInItsPlace() throws {
        let fixture = try StoreFixture()
        let planned = try fixture.plan(id: "bidding", offset: -10, firstPause: 0, turn: 60_000)
        _ = try fixture.plan(id: "quiet", offset: 60_000)
        _ = try fixture.store.placeBid(auctionId: "bidding", bidder: 1, request: .place(planned.bestValidAmount(of: 1)), requestId: "r1")
        let logs = try fixture.store.events(of: [("bidding", 0), ("quiet", 0), ("bidding", 1), ("nope", 0)])
        #expect(try logs.map { try $0.get().count } == [1, 0, 0, 0])
        let replicas = try fixture.store.load(["bidding", "nope", "quiet"])
        #expect(try replicas[0].get().seq == 1)
        #expect(throws: AuctionStoreError.unknownAuction("nope")) { try replicas[1].get() }
        #expect(try replicas[2].get().state == fixture.store.load("quiet").state)
    }
}
