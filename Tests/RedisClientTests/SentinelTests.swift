import AuctionTesting
import Foundation
import Testing

@testable import RedisClient

/// `redis+sentinel://`: every connect goes to the primary a Sentinel names, and a connection
/// follows a failover.
@Suite struct SentinelTests {
    @Test func sentinelURLsAreReadAndBadOnesRefused() throws {
        let endpoint = try #require(RedisEndpoint(url: "redis+sentinel://app:s%40cret@10.0.0.1:26379,[::1]:26380/auctions/2"))
        #expect(
            endpoint.sentinel
                == SentinelDiscovery(
                    masterName: "auctions",
                    sentinels: [RedisAddress(host: "10.0.0.1", port: 26379), RedisAddress(host: "::1", port: 26380)]))
        #expect(endpoint.database == 2 && endpoint.user == "app" && endpoint.password == "s@cret")
        #expect(!endpoint.description.contains("cret"), "\(endpoint.description)")
        #expect(RedisEndpoint(url: "redis+sentinel://10.0.0.1:26379/auctions")?.database == 0)
        for bad in [
            "redis+sentinel://10.0.0.1:26379", "redis+sentinel://10.0.0.1:26379/", "redis+sentinel:///auctions",
            "redis+sentinel://10.0.0.1/auctions", "redis+sentinel://10.0.0.1:26379/auctions/x",
            "redis+sentinel://user@10.0.0.1:26379/auctions",
        ] {
            #expect(RedisEndpoint(url: bad) == nil, "\(bad)")
        }
    }

    @Test func aConnectionFollowsTheFailoverSentinelMakes() throws {
        let setup = try RedisSentinelSetup()
        let connection = try RedisConnection(endpoint: setup.endpoint)
        try connection.execute("SET", "before", "kept")
        #expect(try connection.execute("WAIT", "1", "1000").integer == 1)
        #expect(try connection.execute("ROLE").array?.first?.string == "master")

        setup.primary.kill9()
        let promoted = try #require(setup.waitForPromotion(), "Sentinel promoted the replica:\n\(setup.sentinelLog)")
        var value: String?
        var failures = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while value == nil, ContinuousClock.now < deadline {
            do { value = try connection.execute("GET", "before").string } catch {
                failures += 1
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        #expect(value == "kept")
        #expect(failures > 0, "the first call met the dead primary")
        try connection.execute("SET", "after", "written")
        #expect(try promoted.connect().execute("GET", "after").string == "written", "written to the promoted replica")
    }
}
