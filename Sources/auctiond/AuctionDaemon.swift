import ArgumentParser
import AuctionServer
import AuctionStore
import Dispatch
import Foundation
import Logging
import RedisClient
import WebServer

@main
struct AuctionDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auctiond",
        abstract: "The live auction service: HTTP and WebSocket on libwebsockets, state in Redis.",
        subcommands: [Serve.self, Plan.self],
        defaultSubcommand: Serve.self)
}

/// Settings from the environment (PROTOCOL.md "Running it"). Config/auctiond.yaml documents them.
struct Environment {
    static func value(_ name: String, default fallback: String) -> String {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (the default).")

    @Option(help: "Address to listen on (AUCTIOND_LISTEN).")
    var listen = Environment.value("AUCTIOND_LISTEN", default: "127.0.0.1:8090")

    @Option(help: "Redis URL (AUCTIOND_REDIS_URL).")
    var redis = Environment.value("AUCTIOND_REDIS_URL", default: "redis://127.0.0.1:6379/0")

    @Option(help: "Folder with the web page.")
    var web = Environment.value("AUCTIOND_WEB_DIR", default: "Web")

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "auctiond")
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen must be host:port, got '\(listen)'")
        }
        guard let endpoint = RedisEndpoint(url: redis) else {
            throw ValidationError("--redis must be redis://host:port/db, got '\(redis)'")
        }
        let webDirectory = URL(fileURLWithPath: web).standardizedFileURL.path
        let service = AuctionService(
            settings: AuctionServiceSettings(redis: endpoint, webDirectory: webDirectory), logger: logger)
        let server = WebServer(
            configuration: WebServerConfiguration(
                host: String(listen[..<colon]), port: port,
                staticFolders: [.init(urlPrefix: "/static", directory: webDirectory)]),
            delegate: service)
        do { try server.start() } catch { throw ValidationError("\(error)") }
        logger.info("listening", metadata: ["address": "\(listen[..<colon]):\(server.port)", "redis": "\(endpoint)"])
        let clock = AuctionClock(endpoint: endpoint, owner: AuctionClock.processOwnerName()) { report in
            logClockReport(report, logger)
        }
        clock.start()
        logger.info("clock started", metadata: ["owner": "\(clock.owner)"])

        let stop = DispatchSemaphore(value: 0)
        let signals = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        stop.wait()
        logger.info("shutting down")
        server.stop()
        // Releasing the leases lets another process drive these auctions at once.
        clock.stop()
        signals.forEach { $0.cancel() }
        logger.info("stopped")
    }
}

/// One log line per thing the clock did.
func logClockReport(_ report: ClockReport, _ logger: Logger) {
    switch report {
    case .leaseAcquired(let id): logger.info("lease acquired", metadata: ["auction": "\(id)"])
    case .leaseLost(let id): logger.warning("lease lost", metadata: ["auction": "\(id)"])
    case .stageStarted(let id, let stage, let lag):
        logger.info("stage started", metadata: ["auction": "\(id)", "stage": "\(stage)", "lag": "\(lag)"])
    case .outageApplied(let id, let from, let until, let status):
        logger.warning("outage applied", metadata: ["auction": "\(id)", "from": "\(from)", "until": "\(until)", "status": "\(status)"])
    case .reportQueued(let id): logger.info("results report queued", metadata: ["auction": "\(id)"])
    case .failed(let id, let error): logger.error("clock failed", metadata: ["auction": "\(id ?? "-")", "error": "\(error)"])
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Plan one auction now (arrives with issue 6).")

    @Argument(help: "The tender id.") var tenderId: String
    @Option(help: "The lot id, for one lot of a multi-lot tender.") var lot: String?

    func run() throws {
        throw ValidationError("planning from the tender API is not built yet (issue 6)")
    }
}
