// One run of a profile, start to end: tenders into the sandbox, links from the service, the
// connections, the auctions, the reconciliation, the references, the report.
import AuctionCore
import AuctionStore
import Foundation
import RedisClient
import Synchronization

public struct RunSettings: Sendable {
    public var apiURL: String
    public var token: String
    public var fixtures: String
    public var redis: RedisEndpoint
    /// The WebSocket ports to spread connections over (empty: the links' own port).
    public var webSocketPorts: [Int]
    public var probes: [ProcessProbe]
    public var reportDirectory: String
    /// The chaos driver's log (loadtest/chaos.sh), read at the end of a chaos run.
    public var chaosLog: String?

    public init(
        apiURL: String, token: String, fixtures: String, redis: RedisEndpoint, webSocketPorts: [Int], probes: [ProcessProbe],
        reportDirectory: String, chaosLog: String? = nil
    ) {
        self.chaosLog = chaosLog
        self.apiURL = apiURL
        self.token = token
        self.fixtures = fixtures
        self.redis = redis
        self.webSocketPorts = webSocketPorts
        self.probes = probes
        self.reportDirectory = reportDirectory
    }
}

public struct LoadRun {
    let profile: Profile
    let settings: RunSettings
    let log: @Sendable (String) -> Void

    public init(profile: Profile, settings: RunSettings, log: @escaping @Sendable (String) -> Void) {
        self.profile = profile
        self.settings = settings
        self.log = log
    }

    /// The auctiond processes among the measured ones.
    private var auctiondProbes: [ProcessProbe] { settings.probes.filter { $0.name.hasPrefix("auctiond") } }

    /// auctiond's cost of being up, with every connection held and no auction running yet (the
    /// profiles that compare with the mirror start them well after the connections): the
    /// background loops (clock, feeds, tender sync, keep-alive) cost this whatever is delivered.
    private func idleCores(over window: Duration) -> Double {
        let processes = auctiondProbes
        let began = ContinuousClock.now
        let before = processes.map { $0.preciseCPUNanoseconds ?? 0 }
        Thread.sleep(forTimeInterval: window.inSeconds)
        let used = zip(processes, before).reduce(UInt64(0)) { sum, pair in sum + ((pair.0.preciseCPUNanoseconds ?? pair.1) &- pair.1) }
        return Double(used) / 1e9 / (ContinuousClock.now - began).inSeconds
    }

    /// Runs the profile and writes `summary.json` and `report.html`; returns the summary.
    public func run() throws -> Summary {
        let deadline = ContinuousClock.now + .seconds(profile.timeoutSeconds)
        var summary = Summary(profile: profile)
        let sandbox = try SandboxTenders(apiURL: settings.apiURL, token: settings.token, fixtures: settings.fixtures)
        let runId = String(format: "%08x", UInt32(truncatingIfNeeded: RedisClock.hostMicroseconds() / 1000))

        var began = ContinuousClock.now
        log(
            "creating \(profile.auctions) \(profile.resource) in the sandbox (start in \(profile.startAfterSeconds) s, accelerator \(profile.accelerator))"
        )
        let createdAt = ContinuousClock.now
        let ids = try sandbox.create(profile, run: runId)
        summary.phases["createSeconds"] = (ContinuousClock.now - began).inSeconds
        began = ContinuousClock.now
        let planned = try sandbox.waitForLinks(
            resource: profile.resource, tenderIds: ids, bidders: profile.biddersPerAuction,
            timeout: .seconds(max(30, profile.startAfterSeconds + 30)))
        summary.phases["planSeconds"] = (ContinuousClock.now - began).inSeconds
        log("all \(planned.count) auctions planned in \(String(format: "%.1f", summary.phases["planSeconds"]!)) s")

        let fleets = try Fleets(profile: profile, auctions: planned, webSocketPorts: settings.webSocketPorts)
        try fleets.start()
        defer { fleets.stop() }
        let sampler = Sampler(fleets: fleets, probes: settings.probes, redis: settings.redis)
        sampler.start()
        defer { sampler.stop() }

        // Memory before and after the connections open, while they are idle observers.
        Thread.sleep(forTimeInterval: 1)
        let before = settings.probes.map { (name: $0.name, rss: $0.residentBytes ?? 0, sockets: $0.socketCount ?? 0) }
        began = ContinuousClock.now
        fleets.connectAll()
        let total = fleets.connectionCount
        let connected = waitUntil(deadline: deadline) { fleets.welcomed >= total }
        summary.phases["connectSeconds"] = (ContinuousClock.now - began).inSeconds
        let welcomed = fleets.welcomed
        summary.connectionsWelcomed = welcomed
        log("\(welcomed) of \(total) connections welcomed in \(String(format: "%.1f", summary.phases["connectSeconds"]!)) s")
        if !connected { log("not every connection was welcomed; going on with \(welcomed)") }
        Thread.sleep(forTimeInterval: 2)
        for (name, rssBefore, socketsBefore) in before {
            guard let probe = settings.probes.first(where: { $0.name == name }), let after = probe.residentBytes, welcomed > 0 else {
                continue
            }
            // A process that took on no connections (Redis, the sandbox) is divided by all of them.
            let held = max(0, (probe.socketCount ?? 0) - socketsBefore)
            var figures = summary.server[name] ?? ProcessFigures()
            figures.rssBeforeConnectionsMiB = Double(rssBefore) / 1_048_576
            figures.rssWithConnectionsMiB = Double(after) / 1_048_576
            figures.connectionsHeld = held
            figures.rssPerConnectionBytes = (after - rssBefore) / (held > 0 ? held : welcomed)
            summary.server[name] = figures
        }

        if profile.compareWithMirror { summary.fanOut.idleCores = idleCores(over: .seconds(3)) }

        // The auctions: until every connection has seen its auction end.
        let cpuBefore = settings.probes.map { ($0.name, $0.cpuSeconds ?? 0) }
        let threadsBefore = auctiondProbes.map { ($0, $0.cpuSecondsByThread ?? [:]) }
        let messagesBefore = fleets.messages
        began = ContinuousClock.now
        if profile.stormBidsPerSecond > 0 { scheduleStorm(fleets.bidders) }
        let attacker = profile.attack.map { Attacker(plan: $0, auctions: planned, probes: settings.probes) }
        attacker?.start(firstAuctionStart: createdAt + .seconds(profile.startAfterSeconds))
        var lastReport = ContinuousClock.now
        let ended = waitUntil(deadline: deadline, poll: 0.2) {
            let (done, held) = (fleets.done, fleets.open)
            if ContinuousClock.now - lastReport > .seconds(10) {
                lastReport = ContinuousClock.now
                log("\(done) of \(total) connections saw their auction end; \(held) open")
            }
            return done >= total
        }
        summary.phases["auctionSeconds"] = (ContinuousClock.now - began).inSeconds
        let live = (ContinuousClock.now - began).inSeconds
        let messagesLive = fleets.messages - messagesBefore
        for (name, before) in cpuBefore {
            let seconds = (settings.probes.first { $0.name == name }?.cpuSeconds ?? before) - before
            summary.server[name, default: ProcessFigures()].cpuSecondsDuringAuctions = seconds
            summary.server[name, default: ProcessFigures()].cpuCoresDuringAuctions = live > 0 ? seconds / live : 0
        }
        for (probe, before) in threadsBefore {
            guard let after = probe.cpuSecondsByThread else { continue }
            let name = probe.name
            let used = after.map { ($0.key, $0.value - (before[$0.key] ?? 0)) }.filter { $0.1 >= 0.005 }
            summary.server[name, default: ProcessFigures()].cpuSecondsByThreadDuringAuctions = Dictionary(uniqueKeysWithValues: used)
            let listed = used.sorted { $0.1 > $1.1 }.map { "\($0.0) \(String(format: "%.2f", $0.1))" }
            log("\(name) CPU-s by thread while the auctions ran: \(listed.joined(separator: ", "))")
        }
        summary.everyAuctionEnded = ended
        if !ended { log("the run timed out before every auction ended") }
        let attackFigures = attacker?.stop()
        log("auctions over in \(String(format: "%.1f", live)) s; waiting for the results to reach the API")

        // The results: every tender leaves active.auction once its results are accepted.
        let reported = waitUntil(deadline: min(deadline, ContinuousClock.now + .seconds(60)), poll: 0.5) {
            ids.allSatisfy { sandbox.status(resource: profile.resource, tenderId: $0) != "active.auction" }
        }
        if !reported { log("some results did not reach the API in 60 s") }
        fleets.stopping()
        sampler.stop()

        let figures = fleets.figures()
        summary.client = figures.client
        summary.latency = figures.latency
        if let path = settings.chaosLog {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let (kills, finished) = try ChaosFigures.readLog(text)
            let accepted = figures.acknowledgements.filter { $0.kopiyky != nil }.map { $0.serverTime * 1000 }.sorted()
            summary.chaos = ChaosFigures(
                kills: kills, finished: finished, switches: figures.switchInstants, acceptedBids: accepted,
                unavailable: figures.unavailableInstants)
            let byKind = (summary.chaos?.killsByKind ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            log("chaos: \(kills.count) kills (\(byKind.joined(separator: ", ")))")
        }
        if var attack = attackFigures {
            attack.measureHonestBids(figures.acknowledgements)
            summary.attack = attack
            log(
                "attack: \(attack.burstOpened) of \(attack.connectionBurstAsked) burst connections opened in \(String(format: "%.1f", attack.burstSeconds)) s, "
                    + "\(attack.floodMessages) flood messages (\(attack.floodClosed) flooders closed), \(attack.forgedRefused) of \(attack.forgedAttempts) forged links refused "
                    + "(\(attack.forgedRateLimited) handshakes 429), \(attack.httpRequests) HTTP requests (\(attack.httpRateLimited) 429, "
                    + "\(attack.httpFailures) neither 200 nor 429)")
        }
        summary.fanOut.deliveries = messagesLive
        let auctiondCPU = auctiondProbes.reduce(0.0) {
            $0 + (summary.server[$1.name]?.cpuSecondsDuringAuctions ?? 0)
        }
        summary.fanOut.cpuSeconds = auctiondCPU
        summary.fanOut.deliveriesPerCPUSecond = auctiondCPU > 0 ? Double(messagesLive) / auctiondCPU : 0
        let aboveIdle = auctiondCPU - summary.fanOut.idleCores * live
        summary.fanOut.deliveriesPerCPUSecondAboveIdle = aboveIdle > 0 ? Double(messagesLive) / aboveIdle : 0
        summary.samples = sampler.samples.withLock { $0 }
        for (name, bytes) in sampler.peakRSS.withLock({ $0 }) {
            summary.server[name, default: ProcessFigures()].peakRSSMiB = Double(bytes) / 1_048_576
        }
        summary.bidCommands = BidRate(samples: summary.samples)
        if let link = planned.first.flatMap({ URLComponents(string: $0.auctionURL) }), let port = link.port {
            summary.serverMetrics = ServerMetrics.scrape(port: port, tls: link.scheme == "https")
        }

        log("reconciling \(figures.acknowledgements.count) acknowledgements with Redis and the API")
        let tracks = fleets.tracksForReconciliation
        summary.correctness = try Reconciler(redis: settings.redis, sandbox: sandbox).check(
            tracks, acknowledgements: figures.acknowledgements)

        // Close the connections before the references run on the same machine.
        fleets.closeAll()
        _ = waitUntil(deadline: ContinuousClock.now + .seconds(10)) { fleets.open == 0 }

        if profile.compareWithMirror {
            let clients = min(max(figures.client.connectionsPlanned, 100), 10_000)
            let size = min(max(figures.averageStateBytes, 200), 4000)
            log("reference: lws mirror with \(clients) clients, 20 messages of \(size) bytes")
            summary.mirror = Comparisons.mirror(clients: clients, messageBytes: size, messages: 20)
        }
        if profile.compareWithRedisBenchmark {
            log("reference: redis-benchmark running the bid script")
            summary.redisBenchmark = Comparisons.redisBenchmark(settings.redis)
        }
        summary.evaluateTargets()
        try Report.write(summary, to: settings.reportDirectory)
        return summary
    }

    private func scheduleStorm(_ fleet: Fleet) {
        @Sendable func next(_ at: ContinuousClock.Instant) {
            fleet.pool.run(at: at) {
                fleet.stormTick()
                if !fleet.stopping { next(at + .milliseconds(10)) }
            }
        }
        next(ContinuousClock.now)
    }

    private func waitUntil(deadline: ContinuousClock.Instant, poll: Double = 0.1, _ condition: () -> Bool) -> Bool {
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: poll)
        }
        return condition()
    }
}

/// Runs `body` on the fleet's pool thread, where the fleet's state lives, and waits for its value.
func onPool<T>(_ fleet: Fleet, _ body: @escaping (Fleet) -> T) -> T {
    let box = UncheckedBox<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    let work = UncheckedBox<(Fleet) -> T>(body)
    fleet.pool.run {
        box.value = work.value(fleet)
        done.signal()
    }
    done.wait()
    return box.value!
}

/// A value handed between the pool thread and the caller, which waits on a semaphore meanwhile.
final class UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
