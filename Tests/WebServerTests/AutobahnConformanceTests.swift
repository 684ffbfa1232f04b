import AuctionTesting
import Foundation
import Testing
import WebServer

/// The Autobahn WebSocket test cases (run by kosoku, Tests/Conformance/autobahn.py) against the
/// WebSocket layer auctiond's `/ws` runs on, configured as auctiond configures it, with a delegate
/// that echoes each text message: Autobahn judges a server by its echo, and auctiond's `/ws`
/// answers in its own protocol (a welcome and a state first), so every case would fail there on
/// the first message rather than on the framing it tests. The message size limit is raised to
/// Autobahn's largest message (16 MiB), so that the cases test reassembly, not the limit (4 KiB in
/// auctiond, tested on its own). The report is in .build/autobahn; docs/RELIABILITY.md sums it up.
@Suite struct AutobahnConformanceTests {
    @Test func theWebSocketLayerPassesTheAutobahnCases() throws {
        let delegate = EchoDelegate()
        let server = WebServer(
            configuration: WebServerConfiguration(port: 0, maxMessageBytes: 16 << 20 + 1024), delegate: delegate)
        try server.start()
        defer { server.stop() }
        let cases = ProcessInfo.processInfo.environment["AUTOBAHN_CASES"].map { ["--cases"] + $0.split(separator: " ").map(String.init) }
        let report = packageRoot.appendingPathComponent(".build/autobahn").path
        let run = try ManagedProcess(
            executable: "/usr/bin/env",
            arguments: [
                "python3", packageRoot.appendingPathComponent("Tests/Conformance/autobahn.py").path,
                "ws://127.0.0.1:\(server.port)/ws/echo", report,
            ] + (cases ?? []),
            logPath: makeTemporaryDirectory("autobahn") + "/autobahn.log")
        #expect(waitUntil(timeout: .seconds(600)) { !run.isRunning })
        let summary = run.log
        print(summary)
        #expect(run.exitCode == 0, "\(summary)")
    }
}
