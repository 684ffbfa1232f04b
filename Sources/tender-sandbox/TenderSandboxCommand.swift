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
            GET /sandbox/requests lists the API requests answered. It also plays the document service
            (POST /upload, GET /get/{id}) at its own root.
            """)

    @Option(help: "Address to listen on.") var listen = "127.0.0.1:6543"
    @Option(help: "Folder of fixtures: tenders/*.json and auctions/*.json, each {\"data\": <document>}.") var fixtures: String?
    @Option(help: "The auction service's token (HTTP Basic user name).") var token = "auction"
    @Option(help: "Folder to save documents in, so that a restarted sandbox keeps them.") var state: String?
    @Flag(help: "Answer writes without the SERVER_ID cookie with 412, as the real API does.") var requireServerCookie = false
    @Option(help: "Also serve the API over https on this host:port (with --tls-certificate and --tls-private-key).") var tlsListen: String?
    @Option(help: "PEM certificate (chain) for --tls-listen.") var tlsCertificate: String?
    @Option(help: "PEM private key for --tls-listen.") var tlsPrivateKey: String?
    @Option(help: "HTTP Basic user name at the document service it also plays (POST /upload, GET /get/{id}).")
    var documentServiceUser = "broker"
    @Option(help: "HTTP Basic password at the document service.") var documentServicePassword = "broker"

    /// "host:port" as its parts.
    func address(_ text: String, _ option: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw ValidationError("\(option) must be host:port, got '\(text)'")
        }
        return (String(text[..<colon]), port)
    }

    func run() throws {
        let (host, port) = try address(listen, "--listen")
        var tls: (host: String, port: Int, settings: WebServerConfiguration.TLS)?
        if let tlsListen {
            guard let tlsCertificate, let tlsPrivateKey else {
                throw ValidationError("--tls-listen needs --tls-certificate and --tls-private-key")
            }
            let (tlsHost, tlsPort) = try address(tlsListen, "--tls-listen")
            tls = (tlsHost, tlsPort, WebServerConfiguration.TLS(certificatePath: tlsCertificate, privateKeyPath: tlsPrivateKey))
        }
        let sandbox: TenderSandbox
        do {
            sandbox = try TenderSandbox(
                settings: SandboxSettings(
                    token: token, stateDirectory: state, requireServerCookie: requireServerCookie, documentServiceUser: documentServiceUser,
                    documentServicePassword: documentServicePassword))
        } catch { throw ValidationError("cannot read the state folder \(state ?? ""): \(error)") }
        if let fixtures {
            do {
                let count = try sandbox.loadFixtures(from: fixtures)
                print("tender-sandbox: \(count) fixtures loaded from \(fixtures)")
            } catch { throw ValidationError("cannot load the fixtures: \(error)") }
        }
        // The same API over https, on a port of its own (the plain one stays for the test routes),
        // ready before the plain one answers, which is what tests wait for.
        var secureServer: WebServer?
        if let tls {
            let secure = WebServer(
                configuration: WebServerConfiguration(host: tls.host, port: tls.port, securityHeaders: false, tls: tls.settings),
                delegate: sandbox)
            do { try secure.start() } catch { throw ValidationError("https: \(error)") }
            FileHandle.standardOutput.write(
                Data("tender-sandbox: listening on https://\(tls.host):\(secure.port)/api/\(sandboxAPIVersion)\n".utf8))
            secureServer = secure
        }

        let server = WebServer(configuration: WebServerConfiguration(host: host, port: port, securityHeaders: false), delegate: sandbox)
        do { try server.start() } catch { throw ValidationError("\(error)") }
        FileHandle.standardOutput.write(Data("tender-sandbox: listening on http://\(host):\(server.port)/api/\(sandboxAPIVersion)\n".utf8))

        waitForStopSignal()
        secureServer?.stop()
        server.stop()
    }
}
