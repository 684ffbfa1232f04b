import AuctionTesting
import Foundation
import Testing

@testable import WebServer

/// The sweep on a live server.
@Suite struct KeepAliveTests {
    /// Pings every quiet connection after `pingAfterSeconds`; hangs up one that answers nothing
    /// for `hangUpAfterSeconds`, and keeps one that answers.
    @Test func quietClientsArePingedAndSilentOnesAreDropped() throws {
        let delegate = EchoDelegate()
        let server = WebServer(
            configuration: WebServerConfiguration(port: 0, pingAfterSeconds: 1, hangUpAfterSeconds: 3), delegate: delegate)
        try server.start()
        defer { server.stop() }
        // A receive answers pings and goes on waiting, so its time-out must be shorter than the
        // pings' interval for the loop below to end.
        let answering = try TestWebSocketClient(port: server.port, path: "/ws/alive", timeout: .milliseconds(300))
        let silent = try TestWebSocketClient(port: server.port, path: "/ws/silent", timeout: .seconds(1))
        #expect(waitUntil { delegate.sockets.withLock { $0.count } == 2 })
        // Reading answers the server's pings; the silent client never reads.
        let until = ContinuousClock.now + .seconds(6)
        while ContinuousClock.now < until { _ = try? answering.receive() }
        let paths = delegate.sockets.withLock { $0.map(\.request.path) }
        #expect(paths == ["/ws/alive"])
        #expect(delegate.closedCount.load(ordering: .relaxed) == 1)
        _ = silent
    }
}
