import ArgumentParser
import Dispatch
import Foundation
import TenderSandbox
import WebServer

@main
struct TenderSandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tender-sandbox",
        abstract: "A local stand-in for the tender API (SPEC §5): /api/\(sandboxAPIVersion)/tenders and /auctions.",
        discussion: """
            Test routes: POST /sandbox/tenders|auctions {"data": <document>} stores a document (startDate may be \
            now+<seconds>s or now-<seconds>s); POST /sandbox/faults {"data": {"count": 2, "status": 503, "body": "…", "delayMilliseconds": 0}} fails or delays the next API requests; \
            GET /sandbox/requests lists the API requests answered.
            """)

    @Option(help: "Address to listen on.") var listen = "127.0.0.1:6543"
    @Option(help: "Folder of fixtures: tenders/*.json and auctions/*.json, each {\"data\": <document>}.") var fixtures: String?
    @Option(help: "The auction service's token (HTTP Basic user name).") var token = "auction"
    @Option(help: "Folder to save documents in, so that a restarted sandbox keeps them.") var state: String?
    @Flag(help: "Answer writes without the SERVER_ID cookie with 412, as the real API does.") var requireServerCookie = false

    func run() throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen must be host:port, got '\(listen)'")
        }
        let sandbox: TenderSandbox
        do {
            sandbox = try TenderSandbox(
                settings: SandboxSettings(token: token, stateDirectory: state, requireServerCookie: requireServerCookie))
        } catch { throw ValidationError("cannot read the state folder \(state ?? ""): \(error)") }
        if let fixtures {
            do {
                let count = try sandbox.loadFixtures(from: fixtures)
                print("tender-sandbox: \(count) fixtures loaded from \(fixtures)")
            } catch { throw ValidationError("cannot load the fixtures: \(error)") }
        }
        let server = WebServer(
            configuration: WebServerConfiguration(host: String(listen[..<colon]), port: port, securityHeaders: false), delegate: sandbox)
        do { try server.start() } catch { throw ValidationError("\(error)") }
        FileHandle.standardOutput.write(
            Data("tender-sandbox: listening on http://\(listen[..<colon]):\(server.port)/api/\(sandboxAPIVersion)\n".utf8))

        waitForStopSignal()
        server.stop()
    }
}
