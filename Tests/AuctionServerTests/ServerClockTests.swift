import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Testing

/// Item 5: one clock for clients. auctiond runs with its host clock 10 s behind (libfaketime);
/// every `serverTime` it tells clients is still Redis' clock, the one that judges deadlines.
@Suite struct ServerClockTests {
    static let fakeTimeLibrary = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

    @Test(
        .enabled(if: FileManager.default.fileExists(atPath: fakeTimeLibrary), "needs libfaketime (make test-deps installs faketime)"),
        .disabled(
            if: ProcessInfo.processInfo.environment["SANITIZER"] != nil,
            "libfaketime's LD_PRELOAD comes before the sanitizer's runtime, which then does not start (make sanitize)"))
    func everyServerTimeIsRedisTimeWhateverTheHostClockSays() throws {
        let fixture = try LiveFixture(
            offset: 60_000,
            environment: [
                "LD_PRELOAD": Self.fakeTimeLibrary, "FAKETIME": "-10s", "DONT_FAKE_MONOTONIC": "1",
            ])
        func redisMilliseconds() throws -> Int64 { try fixture.store.now().milliseconds }
        func near(_ serverTime: Int64?, _ what: String) throws {
            let redis = try redisMilliseconds()
            let value = try #require(serverTime, "\(what) has no serverTime")
            #expect(abs(value - redis) < 1000, "\(what): serverTime \(value) is \(value - redis) ms off Redis time")
        }
        let time = try #require(fixture.daemon.get("/api/v1/time"))
        try near(
            (try JSONSerialization.jsonObject(with: Data(time.body.utf8)) as? [String: Any])?["serverTime"] as? Int64, "GET /api/v1/time")
        let observer = try fixture.observer()
        let welcome = try observer.receiveJSON()
        try near(welcome["serverTime"] as? Int64, "welcome")
        let state = try observer.receiveJSON()
        try near((state["auction"] as? [String: Any])?["serverTime"] as? Int64, "state")
        try observer.sendJSON(["type": "ping", "clientTime": 1])
        try near(try observer.receiveReply()["serverTime"] as? Int64, "pong")
        let publicState = try #require(fixture.daemon.get("/api/v1/auctions/\(fixture.auctionId)"))
        let data = (try JSONSerialization.jsonObject(with: Data(publicState.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
        try near(data?["serverTime"] as? Int64, "GET /api/v1/auctions/{id}")
    }
}
