import AuctionCore
import AuctionStore
import AuctionTesting
import Foundation
import Logging
import RedisClient
import TenderAPI
import Testing

@testable import AuctionRuntime

/// Issue 19 item 9: links the API does not take yet are tried again with backoff per auction, not
/// on every pass of the sync loop.
@Suite struct LinksBackoffTests {
    /// Redis, the sandbox, and a planned auction whose links wait in the outbox.
    func queuedLinks(_ id: String) throws -> (RedisServer, SandboxProcess, AuctionStore) {
        let redis = try RedisServer()
        let sandbox = try SandboxProcess()
        let store = AuctionStore(endpoint: redis.endpoint)
        try store.create(try samplePlannedAuction(id: id, start: store.now().adding(milliseconds: 600_000)))
        try store.queueLinks(id)
        return (redis, sandbox, store)
    }

    /// One process's sync passes, against the sandbox.
    func syncWork(_ sandbox: SandboxProcess, _ store: AuctionStore) -> SyncWork {
        let api = TenderAPIClient(
            settings: TenderAPISettings(baseURL: sandbox.apiURL, token: SandboxProcess.token, timeout: .seconds(1), retryBudget: .zero))
        let planner = AuctionPlanner(
            api: api, store: store, tokens: ParticipationTokens(secrets: [AuctiondProcess.hashSecret]),
            settings: PlanningSettings(publicURL: "http://127.0.0.1:1"), logger: Logger(label: "test"))
        return SyncWork(planner: planner, settings: TenderSyncSettings(), logger: Logger(label: "test"), isStopping: { false })
    }

    @Test func linksThatFailAreNotTriedAgainOnTheNextPass() throws {
        let (redis, sandbox, store) = try queuedLinks("links-1")
        defer { withExtendedLifetime(redis) {} }
        var work = syncWork(sandbox, store)
        sandbox.fault(count: 100, status: 503)
        work.pass()
        let afterFirst = sandbox.requests().count
        #expect(afterFirst >= 1, "the first pass tried the links")
        for _ in 0..<5 { work.pass() }
        #expect(sandbox.requests().count == afterFirst, "the next passes wait for the backoff")
        #expect(try store.waitingLinks() == ["links-1"], "still waiting, not dropped")
        // Past the backoff (0.5 s the first time) it is tried again.
        Thread.sleep(forTimeInterval: 0.6)
        work.pass()
        #expect(sandbox.requests().count > afterFirst)
    }

    /// Links another process is writing to the API right now (its claim in Redis) are left to it:
    /// every process's sync used to find a new outbox entry due at once and send the same PATCH
    /// while the planning process's was still in flight (seen under ASan as two PATCHes).
    @Test func linksAnotherProcessIsWritingAreLeftToIt() throws {
        let (redis, sandbox, store) = try queuedLinks("links-2")
        var work = syncWork(sandbox, store)
        let other = try RedisConnection(endpoint: redis.endpoint)
        _ = try other.execute("SET", AuctionKeys("links-2").linksClaim, "another-process", "PX", "30000")
        // The pass also reads the feed: only what concerns this auction counts.
        func forTheAuction() -> [String] { sandbox.requests().map(\.path).filter { $0.contains("links-2") } }
        work.pass()
        #expect(forTheAuction().isEmpty, "nothing sent while another process holds the claim")
        #expect(try store.waitingLinks() == ["links-2"])
        _ = try other.execute("DEL", AuctionKeys("links-2").linksClaim)
        Thread.sleep(forTimeInterval: 0.6)
        work.pass()
        #expect(!forTheAuction().isEmpty, "tried once the claim is gone")
        #expect(try other.execute("EXISTS", AuctionKeys("links-2").linksClaim) == .integer(0), "the claim is let go after the attempt")
    }
}
