import ArgumentParser
import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import Dispatch
import Foundation
import Logging
import Metrics
import Prometheus
import RedisClient
import TenderAPI
import WebServer
import Yams

@main
struct AuctionDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auctiond",
        abstract: "The live auction service: HTTP and WebSocket on libwebsockets, state in Redis.",
        discussion: "Configuration: Config/auctiond.yaml documents every key; AUCTIOND_* variables override it.",
        subcommands: [Serve.self, Plan.self, AuditCommand.self, ReplayCommand.self, VerifyCommand.self],
        defaultSubcommand: Serve.self)
}

/// Options every command shares: where the configuration is.
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "The configuration file (AUCTIOND_CONFIG; default Config/auctiond.yaml when it exists).")
    var config: String?

    func load() throws -> Configuration {
        let environment = ProcessInfo.processInfo.environment
        let path =
            config ?? environment["AUCTIOND_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: "Config/auctiond.yaml") ? "Config/auctiond.yaml" : nil)
        var text: String?
        if let path {
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read the configuration file \(path)")
            }
            text = contents
        }
        do { return try Configuration(yaml: text, fileName: path ?? "defaults", environment: environment) } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (the default).")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Address to listen on; overrides listen / AUCTIOND_LISTEN.") var listen: String?

    func run() throws {
        let config = try options.load()
        let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Bounds at the product's targets (bid answer 10 ms, stage switch 20 ms, broadcast 50 ms),
        // so a percentile read off the buckets says met or missed; the default starts at 5 ms.
        factory.defaultDurationHistogramBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000].map {
            Duration.milliseconds($0)
        }
        MetricsSystem.bootstrap(factory)
        let logger = Logger(label: "auctiond")
        let wiring = try Wiring(config, listen: listen)

        try checkDurability(of: wiring.service.redis, relaxed: wiring.service.durabilityRelaxed, logger: logger)
        let renamed = try AuctionStore(endpoint: wiring.service.redis).adoptUntaggedServiceKeys()
        if !renamed.isEmpty { logger.notice("renamed the service keys of an earlier version", metadata: ["keys": "\(renamed)"]) }
        let service = AuctionService(settings: wiring.service, logger: logger, metricsText: { registry.emitToBuffer() })
        let server = WebServer(configuration: wiring.server, delegate: service)
        // The clock lives here, not in AuctionServer, so its metric does too.
        let stageLag = Metrics.Timer(label: "auctiond_stage_lag_seconds", preferredDisplayUnit: .seconds)
        let clock = AuctionClock(endpoint: wiring.service.redis, owner: AuctionClock.processOwnerName(), settings: wiring.clock) { report in
            if case .stageStarted(_, _, let lag) = report {
                stageLag.recordNanoseconds(lag.wholeNanoseconds)
            }
            logClockReport(report, logger)
        }
        let sync = TenderSync(
            api: TenderAPIClient(settings: wiring.tenderAPI), redis: wiring.service.redis,
            tokens: ParticipationTokens(secrets: wiring.service.hashSecrets), planning: wiring.service.planning,
            settings: wiring.sync, logger: Logger(label: "auctiond.tender-api"), stored: { service.followNow($0) })
        // Ready before the first connection is taken; on the way down the sockets close first
        // (1001), then the leases are given up so that another process drives these auctions at once.
        let lifecycle = Lifecycle(
            [
                .init("replicas and workers", start: service.start, stop: service.stop),
                .init("clock (owner \(clock.owner))", start: clock.start, stop: clock.stop),
                .init(
                    "tender API sync (api \(wiring.tenderAPI.baseURL), feed \(wiring.sync.followFeed))", start: sync.start, stop: sync.stop),
                .init(
                    "web server",
                    start: {
                        do { try server.start() } catch { throw ValidationError("\(error)") }
                        logger.info(
                            "listening",
                            metadata: [
                                "address": "\(wiring.server.host):\(server.port)", "redis": "\(wiring.service.redis)",
                                "tls": "\(wiring.server.tls != nil)", "eventLoop": "\(server.eventLoop)",
                            ])
                    }, stop: server.stop),
            ], logger: logger)
        try lifecycle.run(untilStopped: waitForStopSignal)
        logger.info("stopped")
    }
}

/// The configuration turned into each module's settings: the one place that knows them all.
struct Wiring {
    var service: AuctionServiceSettings
    var server: WebServerConfiguration
    var clock: ClockSettings
    var tenderAPI: TenderAPISettings
    var sync: TenderSyncSettings

    init(_ config: Configuration, listen override: String?) throws {
        self = try Self.make(config, listen: override)
    }

    private init(
        service: AuctionServiceSettings, server: WebServerConfiguration, clock: ClockSettings, tenderAPI: TenderAPISettings,
        sync: TenderSyncSettings
    ) {
        self.service = service
        self.server = server
        self.clock = clock
        self.tenderAPI = tenderAPI
        self.sync = sync
    }

    private static func make(_ config: Configuration, listen override: String?) throws -> Wiring {
        let listen = override ?? config.listen
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw ValidationError("listen must be host:port, got '\(listen)'")
        }
        guard let redis = RedisEndpoint(url: config.redisUrl) else {
            // The URL may carry a password: name its shape, not its text.
            throw ValidationError(
                "AUCTIOND_REDIS_URL (redisUrl) must be redis://[user:password@]host:port/db, "
                    + "redis+sentinel://[user:password@]host:port[,host:port…]/masterName[/db] "
                    + "or redis+cluster://[user:password@]host:port[,host:port…]")
        }
        let secrets = config.hashSecretList
        if let refusal = ParticipationTokens.refusal(of: secrets) {
            throw ValidationError("AUCTIOND_HASH_SECRETS (hashSecrets): \(refusal). Set it to a secret of your own.")
        }
        let limits = config.limits
        var serviceLimits = AuctionServiceSettings.Limits()
        serviceLimits.messagesPerSecond = limits.messagesPerSecond
        serviceLimits.violationsBeforeClose = limits.violationsBeforeClose
        serviceLimits.maxConnections = limits.maxConnections
        serviceLimits.maxConnectionsPerIP = limits.maxConnectionsPerIp
        serviceLimits.maxConnectionsPerLink = limits.maxConnectionsPerLink
        serviceLimits.requestsPerIPPerSecond = limits.requestsPerIpPerSecond
        serviceLimits.maxQueuedBids = limits.maxQueuedBids
        let webDirectory = URL(fileURLWithPath: config.webDir).standardizedFileURL.path
        let tenderAPI = TenderAPISettings(
            baseURL: config.apiUrl, token: config.apiToken, timeout: .seconds(config.apiTimeoutSeconds),
            retryBudget: .seconds(config.apiRetrySeconds))
        guard URL(string: tenderAPI.baseURL)?.scheme?.hasPrefix("http") == true else {
            throw ValidationError("apiUrl must be an http(s) URL with the API version, got '\(tenderAPI.baseURL)'")
        }
        var resources: [TenderResource] = []
        for name in config.apiResourceList {
            guard let resource = TenderResource(rawValue: name) else {
                throw ValidationError("apiResources: '\(name)' is not tenders or auctions")
            }
            resources.append(resource)
        }
        guard !resources.isEmpty else { throw ValidationError("apiResources needs tenders, auctions or both") }
        let stages = config.schedule
        func milliseconds(_ seconds: Int) -> Int64 { Int64(seconds) * 1000 }
        let schedule = ScheduleSettings(
            lowestCost: StageDurations(
                firstPause: milliseconds(stages.lowestCostFirstPauseSeconds), pauseBeforeRound: milliseconds(stages.lowestCostPauseSeconds),
                turn: milliseconds(stages.lowestCostTurnSeconds)),
            highestCost: StageDurations(
                firstPause: milliseconds(stages.highestCostFirstPauseSeconds),
                pauseBeforeRound: milliseconds(stages.highestCostPauseSeconds),
                turn: milliseconds(stages.highestCostTurnSeconds)),
            maxOutageShiftMilliseconds: milliseconds(stages.maxOutageShiftSeconds))
        var documentUpload = DocumentUpload.multipart
        if config.auditUpload == .documentService {
            guard URL(string: config.documentServiceUrl)?.scheme?.hasPrefix("http") == true else {
                throw ValidationError(
                    "auditUpload is documentService, so documentServiceUrl must be the document service's http(s) URL, got '\(config.documentServiceUrl)'"
                )
            }
            documentUpload = .documentService(
                DocumentServiceClient(
                    baseURL: config.documentServiceUrl, user: config.documentServiceUser, password: config.documentServicePassword,
                    settings: tenderAPI))
        }
        let sync = TenderSyncSettings(
            followFeed: config.feed, feedInterval: .milliseconds(config.feedIntervalMilliseconds),
            interval: .milliseconds(config.syncIntervalMilliseconds), documentUpload: documentUpload)
        var clock = ClockSettings()
        clock.leaseTTL = .milliseconds(config.clock.leaseTtlMilliseconds)
        clock.leaseRenewal = .milliseconds(config.clock.leaseRenewalMilliseconds)
        clock.outageThreshold = .milliseconds(config.clock.outageThresholdMilliseconds)
        clock.heartbeatInterval = .milliseconds(config.clock.heartbeatMilliseconds)
        clock.bidGrace = .milliseconds(limits.maxBidWaitMilliseconds)
        clock.retention = .milliseconds(Int64(config.retentionDays * 86_400_000))
        var service = AuctionServiceSettings(
            redis: redis, webDirectory: webDirectory, publicURL: config.publicUrl, hashSecrets: secrets,
            adminToken: config.adminToken.isEmpty ? nil : config.adminToken, limits: serviceLimits, workers: config.workers,
            indexRefreshMilliseconds: config.indexRefreshMilliseconds, tenderAPI: tenderAPI,
            planning: PlanningSettings(publicURL: config.publicUrl, schedule: schedule, resources: resources))
        service.durabilityRelaxed = config.redisDurability == .relaxed
        service.storePolicy = clock.storePolicy
        service.storePolicy.replicasToAck = config.redisReplicasToAck
        service.storePolicy.replicaAckTimeout = .milliseconds(config.redisReplicaAckMilliseconds)
        service.planning.storePolicy = clock.storePolicy
        service.memoryGrace = .seconds(config.memoryGraceSeconds)
        let server = WebServerConfiguration(
            host: String(listen[..<colon]), port: port,
            staticFolders: [.init(urlPrefix: "/static", directory: webDirectory)],
            maxMessageBytes: limits.maxMessageBytes, maxRequestBodyBytes: limits.maxRequestBodyBytes,
            maxQueuedFrames: limits.maxQueuedFrames, pingAfterSeconds: UInt16(limits.pingAfterSeconds),
            hangUpAfterSeconds: UInt16(limits.hangUpAfterSeconds), shareListeningPort: config.shareListeningPort,
            serviceThreads: config.webThreads,
            tls: config.tlsCertificate.isEmpty || config.tlsPrivateKey.isEmpty
                ? nil : .init(certificatePath: config.tlsCertificate, privateKeyPath: config.tlsPrivateKey))
        return Wiring(service: service, server: server, clock: clock, tenderAPI: tenderAPI, sync: sync)
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plan a tender's auction (or each active lot's) now from the tender API.",
        discussion:
            "Reads the tender and its private auction view, stores the plan in Redis and writes the links back. A running auctiond picks the auction up from Redis."
    )

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The tender id.") var tenderId: String
    @Option(help: "The lot id, for one lot of a multi-lot tender.") var lot: String?

    func run() throws {
        let config = try options.load()
        let wiring = try Wiring(config, listen: nil)
        let logger = Logger(label: "auctiond.plan")
        let planner = AuctionPlanner(
            api: TenderAPIClient(settings: wiring.tenderAPI),
            store: AuctionStore(endpoint: wiring.service.redis, policy: wiring.service.storePolicy),
            tokens: ParticipationTokens(secrets: wiring.service.hashSecrets), settings: wiring.service.planning, logger: logger)
        do {
            for outcome in try planner.plan(tenderId: tenderId, lotId: lot) { print(outcome) }
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// Reads and replays an auction's record from Redis; a record that does not replay is reported
/// with the first thing that does not hold, and the command exits 1.
func replayRecord(of auctionId: String, _ options: ConfigurationOptions) throws -> (Replay, Wiring) {
    let wiring = try Wiring(try options.load(), listen: nil)
    let record: AuctionRecord
    do { record = try AuctionStore(endpoint: wiring.service.redis).record(of: auctionId) } catch {
        throw ValidationError("\(error)")
    }
    do { return (try Replay(record), wiring) } catch {
        printError("auction \(auctionId): \(error)")
        throw ExitCode(1)
    }
}

func printError(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print an auction's audit document (YAML; docs/AUDIT.md).",
        discussion: "Replays the auction's record from Redis first: a record whose chain does not hold is refused.")

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The auction id (the tender id, or tenderId_lotId).") var auctionId: String

    func run() throws {
        let (replay, _) = try replayRecord(of: auctionId, options)
        print(try replay.document(serviceVersion: serviceVersion).yaml(), terminator: "")
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rebuild an auction from its record with AuctionCore alone and check it.",
        discussion:
            "Verifies the hash chain from the plan to the last event, folds every event into the plan, and, once the results were reported, compares them with the prices the tender API shows. Exit 0 when everything agrees; otherwise the first event (or bid) that does not."
    )

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The auction id (the tender id, or tenderId_lotId).") var auctionId: String

    func run() throws {
        let (replay, wiring) = try replayRecord(of: auctionId, options)
        let state = replay.state
        print(
            "auction \(auctionId): \(replay.record.entries.count) events replayed, chain head \(replay.head), status \(state.status.rawValue)"
        )
        guard state.status == .finished || state.status == .announced else { return }
        let input = state.input
        let resource = TenderResource(rawValue: input.resource ?? "") ?? .tenders
        let view: TenderDocument
        do { view = try TenderSync.resultsView(TenderAPIClient(settings: wiring.tenderAPI), resource, tenderId: input.tenderId) } catch {
            throw ValidationError("cannot read tender \(input.tenderId) from the API: \(error)")
        }
        if let difference = TenderSync.firstDifference(view, report: state.resultsReport(), lotId: input.lotId) {
            printError("auction \(auctionId): the results posted do not agree with the record: \(difference)")
            throw ExitCode(1)
        }
        print("auction \(auctionId): the results the tender shows agree with the record")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an audit document on its own: its chain and its arithmetic.",
        discussion:
            "Needs no Redis and no API: replays the record the document carries and compares every figure the document states. Exit 0 when it holds."
    )

    @Argument(help: "The audit document (YAML, as `auctiond audit` prints it).") var file: String

    func run() throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
        let document: AuditDocument
        do { document = try AuditDocument(yaml: text) } catch {
            throw ValidationError("\(file) is not an audit document: \(error)")
        }
        do {
            let replay = try document.verify()
            print("\(file): verified; auction \(document.auctionId), \(replay.record.entries.count) events, chain head \(replay.head)")
        } catch {
            printError("\(file): \(error)")
            throw ExitCode(1)
        }
    }
}

/// SPEC §7: an acknowledged bid must survive a Redis crash, so Redis must write and fsync its AOF
/// before it answers. Waits for Redis to answer first (nothing can be served without it).
func checkDurability(of redis: RedisEndpoint, relaxed: Bool, logger: Logger) throws {
    let store = AuctionStore(endpoint: redis)
    while true {
        do {
            switch try store.durability() {
            case .durable:
                logger.info("Redis durability verified", metadata: ["appendonly": "yes", "appendfsync": "always"])
            case .lossy(let setting, let value, let needed):
                let problem = "Redis at \(redis) would lose acknowledged bids: \(setting) is '\(value)', it must be '\(needed)'"
                guard relaxed else {
                    throw ValidationError(
                        "\(problem). Fix: set `\(setting) \(needed)` in redis.conf (or CONFIG SET \(setting) \(needed) and CONFIG REWRITE), "
                            + "or accept the risk with AUCTIOND_REDIS_DURABILITY=relaxed (redisDurability: relaxed).")
                }
                logger.warning("\(problem); starting anyway (redisDurability: relaxed)")
            case .unverifiable(let reason):
                logger.warning(
                    "Redis durability could not be verified (CONFIG GET refused, as on managed Redis); going on",
                    metadata: ["reason": "\(reason)"])
            }
            return
        } catch AuctionStoreError.unavailable(let error) {
            logger.warning("waiting for Redis before starting", metadata: ["error": "\(error)"])
        }
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
