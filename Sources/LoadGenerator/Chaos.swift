// What the chaos driver (loadtest/chaos.sh) did, read from its log, and how the service came back
// from each kill: the time from the kill to the next stage switch and to the next accepted bid (in
// any auction), and the bids answered `unavailable` from the kill until five seconds after the
// process was back. A kill before the run's first switch (or first accepted bid) says nothing of
// recovery, since none was due yet: it is left out of that measure. Whether anything was lost is
// the reconciliation's part, as in every run.
import Foundation

/// One kill -9 and the restart after it (times in µs since the epoch).
public struct ChaosKill: Codable, Sendable, Equatable {
    public var process: String
    public var killedAt: Int64
    public var upAt: Int64?
    public var toNextStageSwitchMilliseconds: Double?
    public var toNextAcceptedBidMilliseconds: Double?
    public var unavailableAnswers = 0

    /// "auctiond" or "redis".
    public var kind: String { process.hasPrefix("auctiond") ? "auctiond" : process }
}

public struct ChaosFigures: Codable, Sendable {
    public var kills: [ChaosKill] = []
    /// The driver wrote `done`: every kill it was asked for happened.
    public var driverFinished = false
    /// Per kind ("auctiond", "redis").
    public var killsByKind: [String: Int] = [:]
    public var toNextStageSwitch: [String: LatencySummary] = [:]
    public var toNextAcceptedBid: [String: LatencySummary] = [:]
    public var unavailableAnswers: [String: Int] = [:]
    public var mostUnavailableInOneOutage: [String: Int] = [:]
    /// Kills after which no stage switch, or no accepted bid, came at all.
    public var killsWithoutASwitchAfter = 0
    public var killsWithoutABidAfter = 0

    /// How long after a restart `unavailable` answers still count towards the outage.
    static let settling: Int64 = 5_000_000

    /// Reads the driver's log: `<µs> kill NAME PID`, `<µs> up NAME PID`, `<µs> done`.
    public static func readLog(_ text: String) throws -> (kills: [ChaosKill], finished: Bool) {
        var kills: [ChaosKill] = []
        var finished = false
        for (number, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: " ")
            guard let at = fields.first.flatMap({ Int64($0) }), fields.count >= 2 else {
                throw LoadTestError("chaos log, line \(number + 1): '\(line)' is not '<µs> kill|up|done …'")
            }
            switch (fields[1], fields.count) {
            case ("done", 2):
                finished = true
            case ("kill", 4):
                kills.append(ChaosKill(process: String(fields[2]), killedAt: at))
            case ("up", 4):
                guard let index = kills.lastIndex(where: { $0.process == fields[2] && $0.upAt == nil }) else {
                    throw LoadTestError("chaos log, line \(number + 1): '\(fields[2])' came up without a kill before it")
                }
                kills[index].upAt = at
            default:
                throw LoadTestError("chaos log, line \(number + 1): '\(line)' is not '<µs> kill|up|done …'")
            }
        }
        return (kills, finished)
    }

    /// - Parameters: each a sorted list of µs since the epoch: the stage switches' server stamps,
    ///   the accepted bids' server times, and when each `unavailable` answer arrived.
    public init(kills: [ChaosKill], finished: Bool, switches: [Int64], acceptedBids: [Int64], unavailable: [Int64]) {
        driverFinished = finished
        var toSwitch: [String: LatencyHistogram] = [:]
        var toBid: [String: LatencyHistogram] = [:]
        for var kill in kills {
            let kind = kill.kind
            killsByKind[kind, default: 0] += 1
            switch Self.recovery(after: kill.killedAt, in: switches) {
            case .waited(let wait):
                kill.toNextStageSwitchMilliseconds = Double(wait) / 1000
                toSwitch[kind, default: LatencyHistogram()].record(microseconds: wait)
            case .never: killsWithoutASwitchAfter += 1
            case .nothingDueYet: break
            }
            switch Self.recovery(after: kill.killedAt, in: acceptedBids) {
            case .waited(let wait):
                kill.toNextAcceptedBidMilliseconds = Double(wait) / 1000
                toBid[kind, default: LatencyHistogram()].record(microseconds: wait)
            case .never: killsWithoutABidAfter += 1
            case .nothingDueYet: break
            }
            let until = (kill.upAt ?? kill.killedAt) + Self.settling
            kill.unavailableAnswers = unavailable.filter { $0 >= kill.killedAt && $0 < until }.count
            unavailableAnswers[kind, default: 0] += kill.unavailableAnswers
            mostUnavailableInOneOutage[kind] = max(mostUnavailableInOneOutage[kind] ?? 0, kill.unavailableAnswers)
            self.kills.append(kill)
        }
        toNextStageSwitch = toSwitch.mapValues(\.summary)
        toNextAcceptedBid = toBid.mapValues(\.summary)
    }

    public init() {}

    /// The recovery of one kind of kill, for a digest line.
    public func describe(_ kind: String) -> String {
        let (toSwitch, toBid) = (toNextStageSwitch[kind] ?? LatencySummary(), toNextAcceptedBid[kind] ?? LatencySummary())
        return "\(killsByKind[kind] ?? 0) \(kind) kills: to the next stage switch p50 \(toSwitch.p50) p99 \(toSwitch.p99) ms; "
            + "to the next accepted bid p50 \(toBid.p50) p99 \(toBid.p99) ms; `unavailable` answers \(unavailableAnswers[kind] ?? 0) "
            + "(at most \(mostUnavailableInOneOutage[kind] ?? 0) in one outage)"
    }

    enum Recovery: Equatable {
        /// µs from the kill to the next instant.
        case waited(Int64)
        /// None came after the kill.
        case never
        /// The kill came before the first instant of the run: nothing was due yet.
        case nothingDueYet
    }

    static func recovery(after kill: Int64, in sorted: [Int64]) -> Recovery {
        guard let earliest = sorted.first else { return .never }
        guard kill >= earliest else { return .nothingDueYet }
        return Self.first(after: kill, in: sorted).map { .waited($0 - kill) } ?? .never
    }

    /// The first instant in `sorted` after `instant` (binary search).
    static func first(after instant: Int64, in sorted: [Int64]) -> Int64? {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] <= instant { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count ? sorted[low] : nil
    }
}
