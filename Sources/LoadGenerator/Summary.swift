// The run's results: summary.json, and the numbers the HTML report and docs/PERFORMANCE.md show.
import AuctionProtocol
import Foundation

public struct ClientFigures: Codable, Sendable {
    public var connectionsPlanned = 0
    public var connectionsOpened = 0
    public var bidsSent = 0
    public var messagesReceived = 0
    public var bytesReceived = 0
    public var answersByCode: [String: Int] = [:]
    public var connectionErrors: [String: Int] = [:]
    public var unexpectedCloses = 0
    /// Answers that were not what the script expected, and other surprises; the first 50 listed.
    public var unexpectedCount = 0
    public var unexpected: [String] = []
    /// Requests sent again after a reconnect, and how many got a different answer the second time.
    public var replays = 0
    public var replayMismatches = 0
    public var seqWentBack = 0
    /// Bidders' states that arrived after their stage had ended: the service was behind schedule,
    /// and bids sent from them were counted but not judged.
    public var staleStates = 0
    public var largestStateBytes = 0
}

public struct LatencyFigures: Codable, Sendable {
    /// Bid sent → bidAccepted received (the bid is durable when it is sent).
    public var bidAcknowledgement = LatencySummary()
    /// The acknowledgement in two, at the bid script's clock (Redis `TIME` on this host, the
    /// bidAccepted's serverTime, in whole milliseconds): sent → the script ran, and the script
    /// ran → bidAccepted received (the AOF's fsync, the reply, the write and the read).
    public var bidToScript = LatencySummary()
    public var scriptToAcknowledgement = LatencySummary()
    /// Bid sent → any answer (accepted, cancelled, rejected).
    public var bidAnswer = LatencySummary()
    /// The server's stamp on a broadcast state → this connection received it (same host clock).
    public var broadcastDelivery = LatencySummary()
    /// The same, for bidders' connections only (the server writes to them first).
    public var broadcastToBidders = LatencySummary()
    /// A stage's scheduled start (the end of the turn before it) → the last connection received it.
    public var turnEndToLastReceiver = LatencySummary()
    /// A stage's scheduled start → the server's stamp on the state that announced it.
    public var stageSwitchLag = LatencySummary()
    /// Connect → welcome.
    public var connect = LatencySummary()

    /// The rows a person reads, in order, for the report and the digest alike ("…" marks a part
    /// of the row above).
    public var rows: [(name: String, latency: LatencySummary)] {
        [
            ("bid → bidAccepted", bidAcknowledgement), ("… bid → the script's clock", bidToScript),
            ("… the script's clock → bidAccepted", scriptToAcknowledgement), ("bid → any answer", bidAnswer),
            ("broadcast: server stamp → receipt", broadcastDelivery), ("… to bidders only", broadcastToBidders),
            ("turn end → last receiver", turnEndToLastReceiver), ("stage switch behind schedule", stageSwitchLag),
            ("connect → welcome", connect),
        ]
    }
}

public struct ProcessFigures: Codable, Sendable {
    public var cpuSecondsDuringAuctions = 0.0
    public var cpuCoresDuringAuctions = 0.0
    /// Where that CPU went, by thread name (auctiond's threads are named; see ProcessProbe).
    public var cpuSecondsByThreadDuringAuctions: [String: Double] = [:]
    public var peakRSSMiB = 0.0
    public var rssBeforeConnectionsMiB = 0.0
    public var rssWithConnectionsMiB = 0.0
    /// Resident memory gained per connection the process took on (its own sockets, so that with
    /// several auctiond processes each is divided by its share, not by all the connections).
    public var rssPerConnectionBytes = 0
    /// Sockets the process gained while the connections opened.
    public var connectionsHeld = 0
}

public struct FanOutFigures: Codable, Sendable {
    /// Messages received by every client while the auctions ran, per CPU-second of auctiond.
    public var deliveries = 0
    public var cpuSeconds = 0.0
    public var deliveriesPerCPUSecond = 0.0
    /// auctiond's CPU (in cores) with every connection open and no auction running: the
    /// background loops' fixed cost, measured over two seconds before the auctions.
    public var idleCores = 0.0
    /// Deliveries per CPU-second once that fixed cost (over the auctions' time) is taken out:
    /// what the delivery path itself costs.
    public var deliveriesPerCPUSecondAboveIdle = 0.0
}

public struct BidRate: Codable, Sendable {
    /// Bid answers per second, over the seconds in which bids were answered.
    public var mean = 0.0
    public var peak = 0
    public var seconds = 0

    public init() {}

    init(samples: [Sample]) {
        let busy = samples.filter { $0.bidAnswers > 0 }
        seconds = busy.count
        peak = busy.map(\.bidAnswers).max() ?? 0
        mean = busy.isEmpty ? 0 : (Double(busy.map(\.bidAnswers).reduce(0, +)) / Double(busy.count)).rounded()
    }
}

public struct TargetCheck: Codable, Sendable {
    public var name: String
    public var target: String
    public var measured: String
    public var met: Bool
}

public struct Summary: Codable, Sendable {
    public var profile: String
    public var description: String
    public var started: String
    public var machine: String
    public var auctions: Int
    public var biddersPerAuction: Int
    public var observersPerAuction: Int
    public var accelerator: Int
    /// Connections welcomed: the memory and fan-out goals are judged only from 1,000 on, where
    /// the allocator's noise no longer decides the figure.
    public var connectionsWelcomed = 0
    public var storm: Bool
    public var phases: [String: Double] = [:]
    public var client = ClientFigures()
    public var latency = LatencyFigures()
    public var server: [String: ProcessFigures] = [:]
    public var fanOut = FanOutFigures()
    public var bidCommands = BidRate()
    public var mirror: FanOutComparison?
    public var redisBenchmark: ScriptComparison?
    public var correctness = Correctness()
    /// Every connection saw its auction end before the run's time-out: no auction stuck.
    public var everyAuctionEnded = false
    /// What the profile asked the chaos driver for, and what it did and how the service came back.
    public var chaosPlanned: Profile.Chaos?
    public var chaos: ChaosFigures?
    /// What the attackers did and the honest bidders' latency inside and outside the attack.
    public var attack: AttackFigures?
    /// auctiond's own histograms at the end of the run (its part of the latencies above).
    public var serverMetrics: ServerMetrics?
    public var targets: [TargetCheck] = []
    public var samples: [Sample] = []

    init(profile: Profile) {
        self.profile = profile.name
        description = profile.description
        let formatter = ISO8601DateFormatter()
        started = formatter.string(from: Date())
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
        machine = "\(cores) cores, \(String(format: "%.0f", memory)) GiB, \(ProcessInfo.processInfo.operatingSystemVersionString)"
        auctions = profile.auctions
        biddersPerAuction = profile.biddersPerAuction
        observersPerAuction = profile.observersPerAuction
        accelerator = profile.accelerator
        storm = profile.stormBidsPerSecond > 0
        chaosPlanned = profile.chaos
    }

    /// Whether the run proves what it must: nothing lost, duplicated or late, results exact, no
    /// replay answered differently, no state older than one already seen, no auction stuck, and
    /// (under chaos) every kill asked for done. Latency targets are reported, not required.
    public var passed: Bool {
        correctness.passed && client.unexpectedCount == 0 && client.replayMismatches == 0 && client.seqWentBack == 0
            && everyAuctionEnded && chaosDone
    }

    var chaosDone: Bool {
        guard let planned = chaosPlanned else { return true }
        guard let chaos else { return false }
        return chaos.driverFinished && (chaos.killsByKind["auctiond"] ?? 0) >= planned.auctiondKills
            && (chaos.killsByKind["redis"] ?? 0) >= planned.redisKills
    }

    /// The product's goals (issue 8, docs/PERFORMANCE.md), judged where this profile measures them.
    mutating func evaluateTargets() {
        var checks: [TargetCheck] = []
        func add(_ name: String, _ target: String, _ measured: String, _ met: Bool) {
            checks.append(TargetCheck(name: name, target: target, measured: measured, met: met))
        }
        let c = correctness
        add(
            "no auction stuck", "every auction ends", everyAuctionEnded ? "every auction ended" : "the run timed out first",
            everyAuctionEnded)
        if let planned = chaosPlanned {
            let done = chaos?.killsByKind ?? [:]
            add(
                "chaos", "≥ \(planned.auctiondKills) auctiond and ≥ \(planned.redisKills) Redis kill -9s, each restarted",
                "\(done["auctiond"] ?? 0) auctiond, \(done["redis"] ?? 0) Redis"
                    + (chaos?.driverFinished == true ? "" : "; the driver did not finish"),
                chaosDone)
        }
        if let attack, attack.honestUnderAttack.count > 0 {
            func ms(_ value: Double) -> String { String(format: "%.2f ms", value) }
            let phases = attack.phases.filter { $0.honest.count > 0 }.map { "\($0.name) \(ms($0.honest.p99)) (\($0.honest.count))" }
            let worst = attack.worstPhaseRatio
            add(
                "honest bids under attack", "bid → answer p99 ≤ 2 × outside the attack, for each attack alone",
                "outside \(ms(attack.honestQuiet.p99)) (\(attack.honestQuiet.count) bids); \(phases.joined(separator: ", ")); worst alone: "
                    + "\(worst?.name ?? "-") \(String(format: "%.2f", worst?.ratio ?? 0))×; all at once (no target) "
                    + String(format: "%.2f", attack.allAtOnceRatio ?? 0) + "×",
                (worst?.ratio ?? 0) <= 2)
        }
        add(
            "correctness", "0 lost, duplicated or late-accepted bids; results exact",
            "\(c.lost) lost, \(c.duplicated) duplicated, \(c.lateAccepted) late; results \(c.resultsMatching)/\(c.auctionsChecked) exact",
            c.passed && c.resultsMatching == c.auctionsChecked)
        if latency.bidAcknowledgement.count > 0 {
            add(
                "bid acknowledgement p99", "≤ 10 ms", String(format: "%.2f ms", latency.bidAcknowledgement.p99),
                latency.bidAcknowledgement.p99 <= 10)
        }
        if latency.broadcastDelivery.count > 0 {
            add(
                "broadcast p99 (server stamp → receipt)", "≤ 50 ms", String(format: "%.2f ms", latency.broadcastDelivery.p99),
                latency.broadcastDelivery.p99 <= 50)
        }
        if latency.stageSwitchLag.count > 0 {
            add(
                "stage switch p99 behind schedule", "≤ 20 ms", String(format: "%.2f ms", latency.stageSwitchLag.p99),
                latency.stageSwitchLag.p99 <= 20)
        }
        for (name, figures) in server where name.hasPrefix("auctiond") && figures.connectionsHeld >= 1000 {
            add(
                "memory per idle connection (\(name))", "≤ 8 KiB", String(format: "%.1f KiB", Double(figures.rssPerConnectionBytes) / 1024),
                figures.rssPerConnectionBytes <= 8192)
        }
        if storm, let redis = redisBenchmark, redis.scriptCallsPerSecond > 0 {
            let ratio = bidCommands.mean / redis.scriptCallsPerSecond
            add(
                "bid commands/s", "≥ 20,000/s and ≥ 0.5 × bare script",
                String(
                    format: "%.0f/s (peak %d); bare script %.0f/s; ratio %.2f", bidCommands.mean, bidCommands.peak,
                    redis.scriptCallsPerSecond, ratio),
                bidCommands.mean >= 20_000 && ratio >= 0.5)
        }
        if let mirror, connectionsWelcomed >= 1000, mirror.deliveriesPerCPUSecond > 0, fanOut.deliveriesPerCPUSecond > 0 {
            let ratio = fanOut.deliveriesPerCPUSecond / mirror.deliveriesPerCPUSecond
            add(
                "fan-out deliveries per CPU-second", "≥ 0.5 × lws mirror",
                String(
                    format: "%.0f vs mirror %.0f; ratio %.2f (above auctiond's idle cost of %.1f ms/s: %.0f, ratio %.2f)",
                    fanOut.deliveriesPerCPUSecond, mirror.deliveriesPerCPUSecond, ratio, fanOut.idleCores * 1000,
                    fanOut.deliveriesPerCPUSecondAboveIdle, fanOut.deliveriesPerCPUSecondAboveIdle / mirror.deliveriesPerCPUSecond),
                ratio >= 0.5)
        }
        targets = checks
    }
}

extension Fleets {
    struct Figures {
        var client: ClientFigures
        var latency: LatencyFigures
        var acknowledgements: [Acknowledgement]
        /// Every stage switch's server stamp and when each `unavailable` answer came, in µs since
        /// the epoch, sorted: the chaos figures' timeline.
        var switchInstants: [Int64]
        var unavailableInstants: [Int64]
        var averageStateBytes: Int
    }

    /// Everything measured on the client side, added up over the fleets.
    func figures() -> Figures {
        var tally = FleetTally()
        var planned = 0
        // Per auction: the first stamp of each stage's switch and its last receipt over both
        // fleets, and the stages as either fleet read them.
        var switchStamps = [[Int: Int64]](repeating: [:], count: auctionCount)
        var lastDelivery = [[Int: Int64]](repeating: [:], count: auctionCount)
        var stages = [[ServerMessageGlance.Stage]](repeating: [], count: auctionCount)
        for fleet in all {
            let (fleetTally, count, readings) = onPool(fleet) { fleet in
                (fleet.tally, fleet.connections.count, fleet.auctions.map { ($0.switchStamps, $0.lastDelivery, $0.stages) })
            }
            tally.add(fleetTally)
            planned += count
            for (index, reading) in readings.enumerated() {
                switchStamps[index].merge(reading.0, uniquingKeysWith: min)
                lastDelivery[index].merge(reading.1, uniquingKeysWith: max)
                if stages[index].isEmpty { stages[index] = reading.2 }
            }
        }
        var client = ClientFigures()
        client.connectionsPlanned = planned
        client.connectionsOpened = tally.everOpened
        client.bidsSent = tally.bidsSent
        client.messagesReceived = tally.totalMessages
        client.bytesReceived = tally.totalBytes
        client.answersByCode = tally.codes
        client.connectionErrors = tally.connectionErrors
        client.unexpectedCloses = tally.unexpectedCloses
        client.unexpectedCount = tally.unexpectedCount
        client.unexpected = tally.unexpected
        client.replays = tally.replays
        client.replayMismatches = tally.replayMismatches
        client.seqWentBack = tally.seqWentBack
        client.staleStates = tally.staleStates
        client.largestStateBytes = tally.largestState
        var turnEnd = LatencyHistogram()
        var stageSwitchLag = LatencyHistogram()
        for index in 0..<auctionCount {
            for (stage, received) in lastDelivery[index] {
                if let start = Fleet.AuctionTrack.scheduledStart(stage, in: stages[index]) {
                    turnEnd.record(microseconds: received - start * 1000)
                }
            }
            for (stage, stamp) in switchStamps[index] {
                if let due = Fleet.AuctionTrack.switchDue(stage, in: stages[index]) {
                    stageSwitchLag.record(microseconds: (stamp - due) * 1000)
                }
            }
        }
        let latency = LatencyFigures(
            bidAcknowledgement: tally.acceptedAnswers.summary, bidToScript: tally.toScript.summary,
            scriptToAcknowledgement: tally.fromScript.summary,
            bidAnswer: tally.bidAnswers.summary, broadcastDelivery: tally.deliveries.summary,
            broadcastToBidders: tally.bidderDeliveries.summary,
            turnEndToLastReceiver: turnEnd.summary, stageSwitchLag: stageSwitchLag.summary, connect: tally.connectLatency.summary)
        return Figures(
            client: client, latency: latency, acknowledgements: tally.acknowledgements,
            switchInstants: switchStamps.flatMap { $0.values.map { $0 * 1000 } }.sorted(),
            unavailableInstants: tally.unavailableAt.sorted(),
            averageStateBytes: tally.stateCount > 0 ? tally.stateBytes / tally.stateCount : 0)
    }
}
