import AuctionServer
import AuctionTesting
import Foundation
import Logging
import RedisClient
import Testing
import WebServer

/// The service's routes on a real server, with a real Redis (or none).
final class ServiceFixture {
    let server: WebServer
    let web = makeTemporaryDirectory("page")

    init(redis: RedisEndpoint) throws {
        try "<!doctype html><title>auction</title>".write(toFile: web + "/index.html", atomically: true, encoding: .utf8)
        let service = AuctionService(
            settings: AuctionServiceSettings(redis: redis, webDirectory: web, hashSecrets: [AuctiondProcess.hashSecret]),
            logger: Logger(label: "test"))
        server = WebServer(configuration: WebServerConfiguration(port: 0), delegate: service)
        try server.start()
    }

    var base: String { "http://127.0.0.1:\(server.port)" }

    deinit { server.stop() }
}

@Suite struct AuctionServiceTests {
    @Test func healthIsOkWhenRedisAnswers() async throws {
        let redis = try RedisServer()
        let fixture = try ServiceFixture(redis: redis.endpoint)
        let result = try await httpRequest("GET", fixture.base + "/healthz")
        #expect(result.status == 200)
        #expect(result.json?["status"] as? String == "ok")
    }

    @Test func healthIs503WhenRedisIsDown() async throws {
        let fixture = try ServiceFixture(redis: RedisEndpoint(host: "127.0.0.1", port: freeLoopbackPort()))
        let result = try await httpRequest("GET", fixture.base + "/healthz")
        #expect(result.status == 503)
        #expect(result.json?["status"] as? String == "unavailable")
    }

    @Test func timeIsMillisecondsSinceTheEpoch() async throws {
        let fixture = try ServiceFixture(redis: RedisEndpoint())
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let result = try await httpRequest("GET", fixture.base + "/api/v1/time")
        let serverTime = try #require(result.json?["serverTime"] as? Int64)
        #expect(abs(serverTime - before) < 5_000)
    }

    @Test func auctionPagesServeTheWebPage() async throws {
        let fixture = try ServiceFixture(redis: RedisEndpoint())
        for path in ["/tenders/abc", "/auctions/abc_1"] {
            let result = try await httpRequest("GET", fixture.base + path)
            #expect(result.status == 200)
            #expect(result.text.contains("<title>auction</title>"))
        }
    }

    @Test func unknownPathsAnswerAProtocolError() async throws {
        let fixture = try ServiceFixture(redis: RedisEndpoint())
        let result = try await httpRequest("GET", fixture.base + "/nope/at/all")
        #expect(result.status == 404)
        let error = try #require(result.json?["error"] as? [String: Any])
        #expect(error["code"] as? String == "not_found")
        #expect((error["message"] as? String)?.isEmpty == false)
    }

    @Test func wrongMethodsAnswer405() async throws {
        let fixture = try ServiceFixture(redis: RedisEndpoint())
        let result = try await httpRequest("DELETE", fixture.base + "/api/v1/time")
        #expect(result.status == 405)
        #expect((result.json?["error"] as? [String: Any])?["code"] as? String == "method_not_allowed")
    }

    @Test func webSocketForAnUnknownAuctionIsRefusedWith404() throws {
        let fixture = try ServiceFixture(redis: RedisEndpoint())
        #expect {
            try TestWebSocketClient(port: fixture.server.port, path: "/ws/unknown")
        } throws: { error in
            (error as? TestWebSocketClient.HandshakeRefused)?.status == 404
        }
    }
}
