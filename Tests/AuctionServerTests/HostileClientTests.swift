import AuctionCore
import AuctionServer
import AuctionTesting
import Foundation
import Locking
import Synchronization
import Testing

/// Issue 21's hostile clients, against a real auctiond and Redis: each is refused or closed with
/// the protocol's answer, and an honest bidder in the same auction still bids and is answered.
@Suite struct HostileClientTests {
    /// A fixture whose bidder 1 is in a long turn now.
    func openTurn(_ environment: [String: String] = [:]) throws -> LiveFixture {
        try LiveFixture(offset: -10, firstPause: 0, turn: 60_000, environment: environment)
    }

    /// The honest bidder's check: a bid in its turn is accepted.
    func honestBidIsAccepted(_ fixture: LiveFixture, requestId: String, amount: String = "900.00") throws {
        let honest = try fixture.bidder(1)
        _ = try honest.receive(until: "state")
        try honest.sendJSON(["type": "bid", "amount": amount, "requestId": requestId])
        let answer = try honest.receiveReply()
        #expect(answer["type"] as? String == "bidAccepted", "\(answer)")
    }

    /// A token cut short, another bidder's token, and a bidder's token for another auction: each
    /// gets `invalid_token` and a read-only view, and a bid from it is answered `observer`.
    @Test func truncatedAndBorrowedTokensAreRefused() throws {
        let fixture = try openTurn()
        let bidId = fixture.planned.participants[0].bidId
        let own = fixture.tokens.token(auctionId: fixture.auctionId, bidId: bidId)
        let otherBidders = fixture.tokens.token(auctionId: fixture.auctionId, bidId: fixture.planned.participants[1].bidId)
        let otherAuctions = fixture.tokens.token(auctionId: "another-auction-entirely", bidId: bidId)
        for token in [String(own.dropLast()), String(own.prefix(8)), otherBidders, otherAuctions, own.uppercased() + "00"] {
            let client = try fixture.daemon.webSocket(fixture.bidderPath(1, token: token))
            let messages = try client.receive(until: "error")
            #expect(messages.first?["role"] as? String == "observer", "\(token)")
            #expect(messages.last?["code"] as? String == "invalid_token", "\(token)")
            try client.sendJSON(["type": "bid", "amount": "900.00", "requestId": "x"])
            #expect(try client.receiveReply()["code"] as? String == "observer", "\(token)")
        }
        try honestBidIsAccepted(fixture, requestId: "after-tokens")
    }

    /// Beyond `limits.maxConnectionsPerIP` the handshake is refused with 429; a closed connection
    /// gives its place back.
    @Test func connectionsFromOneAddressAreCappedWith429() throws {
        let fixture = try openTurn(["AUCTIOND_LIMITS_MAX_CONNECTIONS_PER_IP": "4"])
        var held = try (0..<4).map { _ in try fixture.observer() }
        for client in held { _ = try client.receive(until: "state") }
        #expect {
            try fixture.observer()
        } throws: { error in
            (error as? TestWebSocketClient.HandshakeRefused)?.status == 429
        }
        try held.removeLast().sendClose()
        let deadline = ContinuousClock.now + .seconds(5)
        var reopened: TestWebSocketClient?
        while reopened == nil, ContinuousClock.now < deadline {
            reopened = try? fixture.observer()
            if reopened == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(reopened != nil, "a closed connection gives its place back")
    }

    /// Beyond `limits.requestsPerIpPerSecond` (bursts of twice that), one address's HTTP requests
    /// and WebSocket handshakes are answered 429 `rate_limited` before any work is done for them;
    /// another address is served meanwhile, and the first is served again a second later.
    @Test func requestsFromOneAddressAreRateLimitedAndOtherAddressesAreNot() throws {
        let fixture = try openTurn(["AUCTIOND_LIMITS_REQUESTS_PER_IP_PER_SECOND": "5"])
        let attacker = "127.0.0.2"
        let answers = (0..<30).map { _ in fixture.daemon.get("/api/v1/auctions", from: attacker) }
        #expect(answers.prefix(10).allSatisfy { $0?.status == 200 }, "a burst of 2 × 5 is served: \(answers.map { $0?.status })")
        let refused = answers.compactMap { $0 }.filter { $0.status == 429 }
        #expect(refused.count >= 15, "\(answers.map { $0?.status })")
        #expect(refused.first?.body.contains(#""code":"rate_limited""#) == true, "\(refused.first?.body ?? "")")
        #expect {
            try fixture.daemon.webSocket("/ws/\(fixture.auctionId)", from: attacker)
        } throws: { error in
            (error as? TestWebSocketClient.HandshakeRefused)?.status == 429
        }
        #expect(fixture.daemon.get("/api/v1/time")?.status == 200, "another address is served")
        try honestBidIsAccepted(fixture, requestId: "during-the-hammering")
        Thread.sleep(forTimeInterval: 1.1)
        #expect(fixture.daemon.get("/api/v1/time", from: attacker)?.status == 200, "served again once the rate allows")
    }

    /// A request head far over lws's limit, and a URL of 64 KiB: refused with a status or closed,
    /// never a crash; the service answers the next request and the honest bidder bids.
    @Test func oversizeHeadersAndURLsAreRefusedAndOthersCarryOn() throws {
        let fixture = try openTurn()
        let hugeHeader = blockingHTTP(
            "GET", port: fixture.daemon.port, path: "/healthz", headers: ["X-Pad": String(repeating: "a", count: 65_536)])
        #expect(hugeHeader.map { $0.status >= 400 } ?? true, "refused or closed: \(String(describing: hugeHeader?.status))")
        let hugeURL = blockingHTTP("GET", port: fixture.daemon.port, path: "/api/v1/auctions?" + String(repeating: "q", count: 65_536))
        #expect(hugeURL.map { $0.status >= 400 } ?? true, "refused or closed: \(String(describing: hugeURL?.status))")
        let manyHeaders = blockingHTTP(
            "GET", port: fixture.daemon.port, path: "/healthz",
            headers: Dictionary(uniqueKeysWithValues: (0..<2_000).map { ("X-H\($0)", "v") }))
        #expect(manyHeaders.map { $0.status >= 400 } ?? true, "refused or closed: \(String(describing: manyHeaders?.status))")
        #expect(fixture.daemon.get("/healthz")?.status == 200)
        try honestBidIsAccepted(fixture, requestId: "after-oversize")
    }

    /// Connections that open and never say anything, and a burst of connections opened and
    /// dropped at once: the honest bidder connects and bids meanwhile, and the service stays up.
    @Test func halfOpenConnectionsAndABurstOfAttemptsLeaveOthersAlone() throws {
        let fixture = try openTurn()
        let silent = (0..<200).compactMap { _ in openTCP(port: fixture.daemon.port) }
        defer { silent.forEach { close($0) } }
        #expect(silent.count == 200)
        // A request line cut off in the middle, never finished.
        for descriptor in silent.prefix(50) { _ = "GET /ws/\(fixture.auctionId) HT".withCString { send(descriptor, $0, 30, 0) } }
        for _ in 0..<1_000 {
            if let descriptor = openTCP(port: fixture.daemon.port) { close(descriptor) }
        }
        try honestBidIsAccepted(fixture, requestId: "beside-silent-ones")
        #expect(fixture.daemon.get("/healthz")?.status == 200)
    }

    /// The public list and the metrics, asked for as fast as four threads can, while the honest
    /// bidder bids: every bid is answered, every request is answered. The request rate per address
    /// is off, so that the routes' own work is what is hammered.
    @Test func hammeredPublicRoutesDoNotStopTheBidding() throws {
        let fixture = try openTurn(["AUCTIOND_LIMITS_REQUESTS_PER_IP_PER_SECOND": "0"])
        final class Hammer: Sendable {
            let statuses = Locked([Int: Int]())
            let stop = Atomic<Bool>(false)
        }
        let hammer = Hammer()
        let port = fixture.daemon.port
        let threads = (0..<4).map { index in
            Thread {
                var count = 0
                while !hammer.stop.load(ordering: .relaxed), count < 2_000 {
                    let status = blockingHTTP("GET", port: port, path: index % 2 == 0 ? "/api/v1/auctions" : "/metrics")?.status ?? 0
                    hammer.statuses.withLock { $0[status, default: 0] += 1 }
                    count += 1
                }
            }
        }
        threads.forEach { $0.start() }
        let honest = try fixture.bidder(1)
        _ = try honest.receive(until: "state")
        for (index, amount) in ["900.00", "899.00", "898.00", "897.00", "896.00"].enumerated() {
            try honest.sendJSON(["type": "bid", "amount": amount, "requestId": "under-load-\(index)"])
            #expect(try honest.receiveReply()["type"] as? String == "bidAccepted")
        }
        hammer.stop.store(true, ordering: .relaxed)
        Thread.sleep(forTimeInterval: 0.5)
        let statuses = hammer.statuses.withLock { $0 }
        #expect(statuses.keys.allSatisfy { $0 == 200 }, "every request answered 200: \(statuses)")
        #expect(statuses[200, default: 0] > 0)
    }
}
