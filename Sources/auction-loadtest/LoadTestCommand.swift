import ArgumentParser
import AuctionTesting
import Dispatch
import Foundation
import LoadGenerator
import RedisClient

@main
struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auction-loadtest",
        abstract: "The load generator: many auctions, bidders and observers against auctiond (loadtest/run.sh).",
        subcommands: [Run.self, Bidders.self],
        defaultSubcommand: Run.self)
}

/// Runs one profile against services that are already up (loadtest/run.sh starts them) and
/// writes summary.json and report.html. Exits 1 when correctness fails.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a load-test profile and write its report.")

    @Option(help: "The profile (loadtest/profiles/NAME.yaml).") var profile: String
    @Option(help: "The tender sandbox's API base.") var api = "http://127.0.0.1:6543/api/2.5"
    @Option(help: "The service's token at the API.") var token = "auction"
    @Option(help: "The sandbox fixtures the tenders are made from.") var fixtures = "Config/sandbox"
    @Option(help: "The Redis the service uses (read for the reconciliation).") var redis = "redis://127.0.0.1:6390/0"
    @Option(help: "A WebSocket port of auctiond to spread connections over; repeatable (default: the links' port).") var wsPort: [Int] = []
    @Option(help: "name=pid of a server process to measure from /proc; repeatable (auctiond, redis, sandbox).") var process: [String] = []
    @Option(help: "Where to write summary.json and report.html.") var report = "loadtest/reports/latest"
    @Option(help: "The chaos driver's log to measure the recovery from (loadtest/chaos.sh writes it).") var chaosLog: String?

    func run() throws {
        let profile = try Profile.load(path: self.profile)
        guard let endpoint = RedisEndpoint(url: redis) else {
            throw ValidationError("--redis must be redis://host:port/db, got '\(redis)'")
        }
        let probes =
            try process.map { entry -> ProcessProbe in
                let parts = entry.split(separator: "=")
                guard parts.count == 2, let pid = Int32(parts[1]) else {
                    throw ValidationError("--process must be name=pid, got '\(entry)'")
                }
                return ProcessProbe(name: String(parts[0]), pid: pid)
            }
            // The generator shares the machine: its own CPU is part of the picture.
            + [ProcessProbe(name: "auction-loadtest", pid: getpid())]
        let settings = RunSettings(
            apiURL: api, token: token, fixtures: fixtures, redis: endpoint, webSocketPorts: wsPort, probes: probes, reportDirectory: report,
            chaosLog: chaosLog)
        let began = ContinuousClock.now
        let summary = try LoadRun(profile: profile, settings: settings) { line in
            // Unbuffered: run.sh's log shows progress as it happens.
            FileHandle.standardOutput.write(Data("[\(String(format: "%6.1f", (ContinuousClock.now - began).inSeconds)) s] \(line)\n".utf8))
        }.run()
        print(Self.digest(summary))
        if !summary.passed { throw ExitCode(1) }
    }

    /// The lines a person reads first; the rest is in the report.
    static func digest(_ s: Summary) -> String {
        func row(_ name: String, _ v: LatencySummary) -> String {
            "  \(name.padding(toLength: 36, withPad: " ", startingAt: 0)) n=\(v.count)  p50 \(v.p50)  p99 \(v.p99)  p99.9 \(v.p999)  max \(v.max) ms"
        }
        var lines = [
            "", "Load test \(s.profile): \(s.auctions) auctions × (\(s.biddersPerAuction) bidders + \(s.observersPerAuction) observers)",
        ]
        for (name, latency) in s.latency.rows { lines.append(row(name, latency)) }
        for (name, h) in s.serverMetrics?.rows ?? [] {
            lines.append(
                "  \(name.padding(toLength: 36, withPad: " ", startingAt: 0)) n=\(h.count)  mean \(String(format: "%.2f", h.meanMilliseconds)) ms  p50 \(ServerHistogram.bound(h.p50AtMostMilliseconds))  p99 \(ServerHistogram.bound(h.p99AtMostMilliseconds))"
            )
        }
        if let m = s.mirror, m.deliveries > 0 {
            lines.append(
                "  lws mirror, send → last of \(m.clients) clients: median \(String(format: "%.1f", m.lastReceiverMedianMilliseconds)) ms, max \(String(format: "%.1f", m.lastReceiverMaxMilliseconds)) ms"
            )
        }
        lines.append(
            "  messages received \(s.client.messagesReceived); bid answers/s mean \(Int(s.bidCommands.mean)), peak \(s.bidCommands.peak); answers \(s.client.answersByCode.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        )
        for (name, p) in s.server.sorted(by: { $0.key < $1.key }) {
            lines.append(
                "  \(name): \(String(format: "%.1f", p.cpuSecondsDuringAuctions)) CPU s, peak RSS \(String(format: "%.1f", p.peakRSSMiB)) MiB, \(p.rssPerConnectionBytes) B per connection (\(p.connectionsHeld) held)"
            )
        }
        let c = s.correctness
        lines.append(
            "  correctness: \(c.acknowledged) bids acknowledged, \(c.lost) lost, \(c.duplicated) duplicated, \(c.lateAccepted) late; results exact \(c.resultsMatching)/\(c.auctionsChecked); unexpected answers \(s.client.unexpectedCount); stale states \(s.client.staleStates)"
        )
        for problem in (c.problems + s.client.unexpected).prefix(10) { lines.append("    ! \(problem)") }
        if let chaos = s.chaos {
            for kind in chaos.killsByKind.keys.sorted() { lines.append("  chaos, " + chaos.describe(kind)) }
        }
        for check in s.targets {
            lines.append("  [\(check.met ? "met" : "MISSED")] \(check.name): \(check.measured) (target \(check.target))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Reads the links the service wrote into the tender API and runs one scripted bidder per link:
/// each improves its own price by one minimal step in each of its turns (`make demo`).
struct Bidders: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bid in the auctions of the given tenders, one step per turn.")

    @Option(help: "The tender API base with its version.") var api = "http://127.0.0.1:6543/api/2.5"
    @Option(help: "The service's token at the API (reads the private auction view).") var token = "auction"
    @Option(help: "resource/tenderId, or resource/tenderId/lotId; repeatable.") var auction: [String] = []
    @Option(help: "Seconds to wait for the links to appear.") var linkTimeout = 60

    func run() throws {
        var bidders: [ScriptedBidder] = []
        for spec in auction {
            let parts = spec.split(separator: "/").map(String.init)
            guard parts.count == 2 || parts.count == 3, ["tenders", "auctions"].contains(parts[0]) else {
                throw ValidationError("--auction must be tenders/<id> or auctions/<id>[/<lotId>], got '\(spec)'")
            }
            bidders += try links(resource: parts[0], tenderId: parts[1], lotId: parts.count == 3 ? parts[2] : nil)
        }
        let group = DispatchGroup()
        for bidder in bidders {
            group.enter()
            Thread {
                do { try bidder.run(timeout: .seconds(3600)) } catch { print("bidder in \(bidder.auctionId): \(error)") }
                let amounts = bidder.accepted.map(ScriptedBidder.text).joined(separator: " → ")
                print(
                    "\(bidder.auctionId) Bidder \(bidder.number ?? 0): bids \(amounts.isEmpty ? "none" : amounts); \(bidder.finalStatus ?? "?")"
                )
                group.leave()
            }.start()
        }
        group.wait()
    }

    private func links(resource: String, tenderId: String, lotId: String?) throws -> [ScriptedBidder] {
        let deadline = Date().addingTimeInterval(Double(linkTimeout))
        while Date() < deadline {
            if let view = try? privateView(resource, tenderId) {
                let found = try ScriptedBidder.bidders(inAuctionView: view, lotId: lotId)
                if !found.isEmpty { return found }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw ValidationError("no participation links for \(resource)/\(tenderId) after \(linkTimeout) s: is auctiond following the feed?")
    }

    private func privateView(_ resource: String, _ id: String) throws -> [String: Any]? {
        guard let base = URLComponents(string: api), let port = base.port else {
            throw ValidationError("--api must be http://host:port/api/<version>")
        }
        let basic = "Basic " + Data("\(token):".utf8).base64EncodedString()
        guard
            let answer = blockingHTTP("GET", port: port, path: "\(base.path)/\(resource)/\(id)/auction", headers: ["Authorization": basic])
        else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
    }
}
