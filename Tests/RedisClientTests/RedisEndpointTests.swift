import AuctionTesting
import Foundation
import RedisClient
import Testing

@Suite struct RedisEndpointTests {
    @Test func parsesRedisURLs() {
        #expect(RedisEndpoint(url: "redis://127.0.0.1:6390/0") == RedisEndpoint(host: "127.0.0.1", port: 6390, database: 0))
        #expect(RedisEndpoint(url: "redis://cache") == RedisEndpoint(host: "cache", port: 6379, database: 0))
        #expect(RedisEndpoint(url: "redis://h:1/7")?.database == 7)
        #expect(RedisEndpoint(url: "redis://:pw@h:1/0") == RedisEndpoint(host: "h", port: 1, database: 0, password: "pw"))
        #expect(RedisEndpoint(url: "redis://user:pw@h:1/0") == RedisEndpoint(host: "h", port: 1, database: 0, user: "user", password: "pw"))
    }

    @Test func thePasswordIsNeverInTheDescription() throws {
        let endpoint = try #require(RedisEndpoint(url: "redis://user:very-secret@cache:6390/1"))
        #expect(endpoint.description == "user@cache:6390/1")
        #expect(!"\(endpoint)".contains("very-secret"))
    }

    @Test func rejectsOtherURLs() {
        #expect(RedisEndpoint(url: "http://127.0.0.1:6379") == nil)
        #expect(RedisEndpoint(url: "redis://:6379") == nil)
        #expect(RedisEndpoint(url: "redis://h:1/x") == nil)
        #expect(RedisEndpoint(url: "") == nil)
        // A user with no password could only connect unauthenticated: refused.
        #expect(RedisEndpoint(url: "redis://user@h:1/0") == nil)
    }
}
