// Hostile clients while the auctions run (the `attack` profiles). From `startAfterSeconds` into the
// auctions, `durationSeconds` is cut into six equal phases, one attack each and then all at once: a
// burst of TCP connections (half dropped at once, half held open without a word until the end),
// WebSocket flooders that send pings as fast as they can and come back when closed, readers that
// never read, forged participation links, and threads asking for `/api/v1/auctions` and
// `/metrics` without pause. The honest bidders go on meanwhile; the figures compare their
// bid → answer latency in each phase with outside the attack.
import AuctionTesting
import Foundation
import Locking
import Synchronization

extension Profile {
    public struct Attack: Codable, Sendable, Equatable {
        /// Seconds after the first auction's start before the attack.
        public var startAfterSeconds = 20.0
        /// The whole attack: six equal phases (each kind alone, then all at once).
        public var durationSeconds = 30.0
        /// TCP connections opened one after another as fast as the kernel takes them.
        public var connectionBurst = 10_000
        /// WebSocket connections each sending pings without pause (closed with 1008, they reconnect).
        public var flooders = 10
        /// WebSocket connections that never read a byte.
        public var slowReaders = 20
        /// Threads opening a bidder's link with a forged token, one after another.
        public var forgedTokenThreads = 2
        /// Threads asking for `/api/v1/auctions` and `/metrics`, one after another.
        public var httpThreads = 2
        /// The one local address every hostile client comes from (honest clients have their own).
        public var sourceAddress = "127.0.0.2"
        /// The attackers' threads run at Linux's idle priority (SCHED_IDLE): on CPU nobody else
        /// wants, as if they ran on a machine of their own. Then what the honest bidders lose is
        /// what the service spent on the attack; false shows the attackers taking the shared cores.
        public var idlePriority = true

        enum CodingKeys: String, CodingKey, CaseIterable {
            case startAfterSeconds, durationSeconds, connectionBurst, flooders, slowReaders, forgedTokenThreads, httpThreads, sourceAddress,
                idlePriority
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Attack()
            startAfterSeconds = try c.decodeIfPresent(Double.self, forKey: .startAfterSeconds) ?? d.startAfterSeconds
            durationSeconds = try c.decodeIfPresent(Double.self, forKey: .durationSeconds) ?? d.durationSeconds
            connectionBurst = try c.decodeIfPresent(Int.self, forKey: .connectionBurst) ?? d.connectionBurst
            flooders = try c.decodeIfPresent(Int.self, forKey: .flooders) ?? d.flooders
            slowReaders = try c.decodeIfPresent(Int.self, forKey: .slowReaders) ?? d.slowReaders
            forgedTokenThreads = try c.decodeIfPresent(Int.self, forKey: .forgedTokenThreads) ?? d.forgedTokenThreads
            httpThreads = try c.decodeIfPresent(Int.self, forKey: .httpThreads) ?? d.httpThreads
            sourceAddress = try c.decodeIfPresent(String.self, forKey: .sourceAddress) ?? d.sourceAddress
            idlePriority = try c.decodeIfPresent(Bool.self, forKey: .idlePriority) ?? d.idlePriority
            guard durationSeconds > 0, startAfterSeconds >= 0, connectionBurst >= 0, flooders >= 0, slowReaders >= 0,
                forgedTokenThreads >= 0, httpThreads >= 0,
                inet_addr(sourceAddress) != INADDR_NONE
            else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: c.codingPath, debugDescription: "attack: counts ≥ 0, duration > 0, sourceAddress an IPv4 address"))
            }
        }
    }
}

/// What the attackers did and how the honest bidders fared (times in µs since the epoch).
public struct AttackFigures: Codable, Sendable {
    public var windowStart: Int64 = 0
    public var windowEnd: Int64 = 0
    public var connectionBurstAsked = 0
    public var burstOpened = 0
    public var burstRefused = 0
    public var burstSeconds = 0.0
    public var floodMessages = 0
    /// Flooder connections the server closed (1008 after `rate_limited`, or dropped).
    public var floodClosed = 0
    public var floodRateLimitedAnswers = 0
    public var slowReadersOpened = 0
    public var forgedAttempts = 0
    /// Forged links answered `invalid_token` and served read-only.
    public var forgedRefused = 0
    /// Forged links whose handshake was refused 429 for the attackers' address (its request rate or
    /// its connections).
    public var forgedRateLimited = 0
    public var httpRequests = 0
    /// Hammered routes answered 429 `rate_limited` for the attackers' address.
    public var httpRateLimited = 0
    /// Answers other than 200 and 429 (or none) to the hammered routes.
    public var httpFailures = 0
    /// The honest bidders' bid → answer latency, for bids sent inside the window and outside it.
    public var honestQuiet = LatencySummary()
    public var honestUnderAttack = LatencySummary()
    /// Each phase's window and the honest bids sent in it.
    public var phases: [AttackPhase] = []

    /// Splits the honest bidders' accepted bids by when they were sent: in which phase, or outside
    /// the attack.
    mutating func measureHonestBids(_ acknowledgements: [Acknowledgement]) {
        var quiet = LatencyHistogram()
        var underAttack = LatencyHistogram()
        var byPhase = [LatencyHistogram](repeating: LatencyHistogram(), count: phases.count)
        for ack in acknowledgements where ack.latencyMicroseconds > 0 {
            if windowStart > 0, ack.sentWall >= windowStart, ack.sentWall <= windowEnd {
                underAttack.record(microseconds: ack.latencyMicroseconds)
                if let phase = phases.firstIndex(where: { ack.sentWall >= $0.start && ack.sentWall < $0.end }) {
                    byPhase[phase].record(microseconds: ack.latencyMicroseconds)
                }
            } else {
                quiet.record(microseconds: ack.latencyMicroseconds)
            }
        }
        honestQuiet = quiet.summary
        honestUnderAttack = underAttack.summary
        for index in phases.indices { phases[index].honest = byPhase[index].summary }
    }

    /// The phase whose honest p99 is the highest over the quiet p99 (0 without figures).
    /// The worst of the phases with one attack each (the issue's target: each attack alone).
    public var worstPhaseRatio: (name: String, ratio: Double)? {
        guard honestQuiet.p99 > 0 else { return nil }
        return phases.filter { $0.honest.count > 0 && $0.name != AttackPhase.allAtOnce }.map { ($0.name, $0.honest.p99 / honestQuiet.p99) }
            .max { $0.1 < $1.1 }
    }

    /// The last phase's p99 over the quiet one: every attack together, shown without a target.
    public var allAtOnceRatio: Double? {
        guard honestQuiet.p99 > 0, let phase = phases.first(where: { $0.name == AttackPhase.allAtOnce && $0.honest.count > 0 }) else {
            return nil
        }
        return phase.honest.p99 / honestQuiet.p99
    }

    /// p99 under attack over p99 outside it (0 without both).
    public var p99Ratio: Double { honestQuiet.p99 > 0 && honestUnderAttack.count > 0 ? honestUnderAttack.p99 / honestQuiet.p99 : 0 }
}

/// One attack kind's stretch of the window (µs since the epoch).
public struct AttackPhase: Codable, Sendable {
    static let allAtOnce = "all at once"

    public var name: String
    public var start: Int64
    public var end: Int64
    public var honest = LatencySummary()
    /// Cores each measured process used during the phase (auctiond's, and the load generator's
    /// own: the attackers run in it, on the same machine).
    public var cores: [String: Double] = [:]
}

final class Attacker: @unchecked Sendable {
    /// The attack kinds, in the order they run; the last phase runs them all at once.
    enum Kind: String, CaseIterable {
        case burst, flood
        case slowReaders = "slow readers"
        case forgedTokens = "forged links"
        case http = "hammered routes"
    }

    private let plan: Profile.Attack
    private let port: Int
    private let auctionIds: [String]
    /// `/ws/{id}?key_for_bid=…` of real bidders, for the forged tokens.
    private let bidderPaths: [String]
    private let stopping = Atomic<Bool>(false)
    private let counters = Locked(AttackFigures())
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    /// Against the port of the auctions' links (the attackers speak plain WebSocket: not for TLS runs).
    private let probes: [ProcessProbe]

    init(plan: Profile.Attack, auctions: [PlannedAuction], probes: [ProcessProbe]) {
        self.plan = plan
        self.probes = probes.filter { $0.name.hasPrefix("auctiond") } + [ProcessProbe(name: "auction-loadtest", pid: getpid())]
        port = auctions.first.flatMap { URLComponents(string: $0.auctionURL)?.port } ?? 0
        auctionIds = auctions.map(\.auctionId)
        // Each bidder's link without its token: `/ws/{id}?key_for_bid=…`.
        bidderPaths = auctions.flatMap { auction in
            auction.bidders.map { "/ws/\(auction.auctionId)?key_for_bid=\($0.bidId)" }
        }
        counters.withLock { $0.connectionBurstAsked = 2 * plan.connectionBurst }  // its own phase, and all at once
    }

    /// Starts the clock: the attack begins `startAfterSeconds` after `firstAuctionStart` and ends
    /// by itself.
    func start(firstAuctionStart: ContinuousClock.Instant) {
        let begin = firstAuctionStart + .milliseconds(Int64(plan.startAfterSeconds * 1000))
        spawn("attack-lead") { [self] in
            while ContinuousClock.now < begin, !stopping.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.05) }
            guard !stopping.load(ordering: .acquiring) else { return }
            counters.withLock { $0.windowStart = Self.now() }
            let phaseSeconds = plan.durationSeconds / Double(Kind.allCases.count + 1)
            for kinds in Kind.allCases.map({ [$0] }) + [Kind.allCases] where !stopping.load(ordering: .acquiring) {
                let start = Self.now()
                let cpuBefore = probes.map { $0.cpuSeconds ?? 0 }
                let until = Date().addingTimeInterval(phaseSeconds)
                for kind in kinds { launch(kind, until: until) }
                while Date() < until, !stopping.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.05) }
                var phase = AttackPhase(name: kinds.count == 1 ? kinds[0].rawValue : AttackPhase.allAtOnce, start: start, end: Self.now())
                let seconds = Double(phase.end - phase.start) / 1e6
                for (probe, before) in zip(probes, cpuBefore) {
                    phase.cores[probe.name] = ((probe.cpuSeconds ?? before) - before) / max(seconds, 0.001)
                }
                counters.withLock { $0.phases.append(phase) }
            }
            counters.withLock { $0.windowEnd = Self.now() }
        }
    }

    private func launch(_ kind: Kind, until: Date) {
        switch kind {
        case .burst: spawn("attack-burst") { self.burst(until: until) }
        case .flood:
            for n in 0..<plan.flooders { spawn("attack-flood") { self.flood(self.auctionIds[n % self.auctionIds.count], until: until) } }
        case .slowReaders: spawn("attack-slow") { self.slowReaders(until: until) }
        case .forgedTokens: for n in 0..<plan.forgedTokenThreads { spawn("attack-forge") { self.forge(from: n, until: until) } }
        case .http: for n in 0..<plan.httpThreads { spawn("attack-http") { self.hammer(n, until: until) } }
        }
    }

    /// Ends the attack (if it still runs) and waits for its threads.
    func stop() -> AttackFigures {
        stopping.store(true, ordering: .releasing)
        finished.wait()
        return counters.withLock { $0 }
    }

    /// SCHED_IDLE for the calling thread (Linux: pid 0 is the calling thread, not the process).
    private static func runOnIdleCPU() {
        var parameters = sched_param(sched_priority: 0)
        let schedIdle: Int32 = 5  // SCHED_IDLE, which Glibc's module does not export
        _ = sched_setscheduler(0, schedIdle, &parameters)
    }

    private static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        finished.enter()
        let idle = plan.idlePriority
        let thread = Thread { [finished] in
            if idle { Self.runOnIdleCPU() }
            body()
            finished.leave()
        }
        thread.name = name
        thread.start()
    }

    private func over(_ until: Date) -> Bool { stopping.load(ordering: .acquiring) || Date() >= until }

    private func burst(until: Date) {
        var held: [Int32] = []
        let began = Date()
        // Within the phase: once the attackers' address has no local port left (its connections in
        // TIME_WAIT), connecting slows down, and a burst that ran on would land outside its window.
        for n in 0..<plan.connectionBurst where !over(until) {
            guard let descriptor = openTCP(port: port, from: plan.sourceAddress) else {
                counters.withLock { $0.burstRefused += 1 }
                continue
            }
            counters.withLock { $0.burstOpened += 1 }
            if n % 2 == 0 { close(descriptor) } else { held.append(descriptor) }
        }
        counters.withLock { $0.burstSeconds = max($0.burstSeconds, Date().timeIntervalSince(began)) }
        while !over(until) { Thread.sleep(forTimeInterval: 0.1) }
        held.forEach { close($0) }
    }

    private func flood(_ auctionId: String, until: Date) {
        while !over(until) {
            guard
                let client = try? TestWebSocketClient(port: port, path: "/ws/\(auctionId)", timeout: .seconds(2), from: plan.sourceAddress)
            else {
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            var sent = 0
            while !over(until), (try? client.send(text: #"{"type":"ping","clientTime":1}"#)) != nil { sent += 1 }
            // Read what came back until the close (or the socket's time-out).
            var limited = 0
            while let frame = try? client.receive() {
                if case .text(let text) = frame, text.contains("rate_limited") { limited += 1 }
                if case .close = frame { break }
            }
            counters.withLock {
                $0.floodMessages += sent
                $0.floodClosed += 1
                $0.floodRateLimitedAnswers += limited
            }
        }
    }

    private func slowReaders(until: Date) {
        var held: [TestWebSocketClient] = []
        for n in 0..<plan.slowReaders {
            if let client = try? TestWebSocketClient(port: port, path: "/ws/\(auctionIds[n % auctionIds.count])", from: plan.sourceAddress)
            {
                held.append(client)
            }
        }
        counters.withLock { $0.slowReadersOpened += held.count }
        while !over(until) { Thread.sleep(forTimeInterval: 0.1) }
        withExtendedLifetime(held) {}
    }

    private func forge(from first: Int, until: Date) {
        var n = first
        while !over(until), !bidderPaths.isEmpty {
            let path = bidderPaths[n % bidderPaths.count] + "&hash=" + String(repeating: "0", count: 32)
            n += 1
            counters.withLock { $0.forgedAttempts += 1 }
            let client: TestWebSocketClient
            do { client = try TestWebSocketClient(port: port, path: path, timeout: .seconds(2), from: plan.sourceAddress) } catch {
                if (error as? TestWebSocketClient.HandshakeRefused)?.status == 429 { counters.withLock { $0.forgedRateLimited += 1 } }
                continue
            }
            for _ in 0..<5 {
                guard case .text(let text) = try? client.receive() else { break }
                if text.contains("invalid_token") {
                    counters.withLock { $0.forgedRefused += 1 }
                    break
                }
            }
        }
    }

    private func hammer(_ n: Int, until: Date) {
        var index = n
        while !over(until) {
            let path = index % 2 == 0 ? "/api/v1/auctions" : "/metrics"
            index += 1
            let status = blockingHTTP("GET", port: port, path: path, from: plan.sourceAddress)?.status
            counters.withLock {
                $0.httpRequests += 1
                if status == 429 { $0.httpRateLimited += 1 } else if status != 200 { $0.httpFailures += 1 }
            }
        }
    }
}
