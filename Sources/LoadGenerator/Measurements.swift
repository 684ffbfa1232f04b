// What the load test measures, in HdrHistograms (µs) and per-second series. Each fleet owns its
// own on its pool's thread; the sampler and the report read them through `WebSocketClientPool.run`.
import Foundation
import WebSocketClient
import Histogram

/// A latency distribution in microseconds, 1 µs to 10 minutes at 3 significant digits.
public struct LatencyHistogram: Sendable {
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    mutating func record(microseconds: Int64) {
        _ = histogram.record(UInt64(clamping: max(1, min(microseconds, 600_000_000))))
    }

    mutating func add(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    public var count: UInt64 { histogram.totalCount }

    public var summary: LatencySummary {
        guard count > 0 else { return LatencySummary() }
        func ms(_ value: UInt64) -> Double { (Double(value) / 10).rounded() / 100 }
        return LatencySummary(
            count: Int(count), p50: ms(histogram.valueAtPercentile(50)), p99: ms(histogram.valueAtPercentile(99)),
            p999: ms(histogram.valueAtPercentile(99.9)), max: ms(histogram.max))
    }
}

/// Percentiles in milliseconds (two decimals).
public struct LatencySummary: Codable, Sendable {
    public var count = 0
    public var p50 = 0.0
    public var p99 = 0.0
    public var p999 = 0.0
    public var max = 0.0
}

/// The client side's counters for one second of the run.
struct ClientSecond {
    var bidAnswers = LatencyHistogram()
    var deliveries = LatencyHistogram()
    var messages = 0
    var bytes = 0

    mutating func add(_ other: ClientSecond) {
        bidAnswers.add(other.bidAnswers)
        deliveries.add(other.deliveries)
        messages += other.messages
        bytes += other.bytes
    }
}

/// One point of the time series: the client's second plus what the sampler read from /proc and
/// Redis at its end.
public struct Sample: Codable, Sendable {
    public var t: Double
    public var connections: Int
    public var messagesPerSecond: Int
    public var bidAnswers: Int
    public var bidP50: Double
    public var bidP99: Double
    public var deliveryP50: Double
    public var deliveryP99: Double
    /// CPU use in this second, in cores (1.0 = one core busy), per process name.
    public var cpu: [String: Double]
    public var rssMiB: [String: Double]
    public var redisOpsPerSecond: Int
}

/// Reads a process's CPU time and resident memory from /proc.
public struct ProcessProbe: Sendable {
    public let name: String
    public let pid: Int32

    public init(name: String, pid: Int32) {
        self.name = name
        self.pid = pid
    }

    /// utime + stime, in seconds (fields 14 and 15 of /proc/PID/stat, after the command's parentheses).
    public var cpuSeconds: Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU time of the threads alive now, in nanoseconds (the first field of each thread's
    /// schedstat): fine enough to measure a process's idle cost over a second or two, which
    /// `cpuSeconds` counts in 10 ms ticks.
    public var preciseCPUNanoseconds: UInt64? {
        let folder = "/proc/\(pid)/task"
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        return tasks.reduce(0) { sum, task in
            let text = (try? String(contentsOfFile: "\(folder)/\(task)/schedstat", encoding: .utf8)) ?? ""
            return sum + (text.split(separator: " ").first.flatMap { UInt64($0) } ?? 0)
        }
    }

    /// CPU seconds per thread name (threads of one name add up), from /proc/PID/task; nil when
    /// the process is gone. Names are what the kernel holds, which auctiond sets for its threads.
    public var cpuSecondsByThread: [String: Double]? {
        let folder = "/proc/\(pid)/task"
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var seconds: [String: Double] = [:]
        for task in tasks {
            guard let text = try? String(contentsOfFile: "\(folder)/\(task)/stat", encoding: .utf8),
                let (name, used) = Self.threadCPU(stat: text)
            else { continue }
            seconds[name, default: 0] += Double(used) / ticks
        }
        return seconds
    }

    /// A thread's name and its utime + stime in clock ticks, from its stat line. libdispatch's
    /// pool threads (URLSession's, in auctiond) are named after the queue they last served, cut
    /// to 15 bytes: they count as one, "libdispatch".
    static func threadCPU(stat text: String) -> (name: String, ticks: Int)? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        let name = String(text[text.index(after: open)..<close])
        let pooled = name.hasSuffix("-qos") || name.hasSuffix("qos.overcommit") || name.hasPrefix("com.apple")
        return (pooled ? "libdispatch" : name, user + system)
    }

    /// How many sockets the process has open (entries of /proc/PID/fd that are sockets).
    public var socketCount: Int? {
        let folder = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        return entries.reduce(0) { count, entry in
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + entry))?.hasPrefix("socket:") ?? false)
                ? count + 1 : count
        }
    }

    /// VmRSS in bytes.
    public var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kib * 1024
    }
}

/// Everything one fleet counts and times, on its own thread. The fleets' tallies add up to the
/// run's client figures.
struct FleetTally: Sendable {
    var bidAnswers = LatencyHistogram()
    var acceptedAnswers = LatencyHistogram()
    var toScript = LatencyHistogram()
    var fromScript = LatencyHistogram()
    var deliveries = LatencyHistogram()
    var bidderDeliveries = LatencyHistogram()
    var connectLatency = LatencyHistogram()
    var totalMessages = 0
    var totalBytes = 0
    var everOpened = 0
    var codes: [String: Int] = [:]
    var connectionErrors: [String: Int] = [:]
    var unexpected: [String] = []
    var unexpectedCount = 0
    var replays = 0
    var replayMismatches = 0
    /// States that arrived after their stage had ended (bids sent from them are not judged).
    var staleStates = 0
    var seqWentBack = 0
    var unexpectedCloses = 0
    var acknowledgements: [Acknowledgement] = []
    /// When each `unavailable` answer arrived (µs since the epoch), for the chaos figures.
    var unavailableAt: [Int64] = []
    var bidsSent = 0
    var largestState = 0
    var stateBytes = 0
    var stateCount = 0

    mutating func add(_ other: FleetTally) {
        for path in [
            \FleetTally.bidAnswers, \.acceptedAnswers, \.toScript, \.fromScript, \.deliveries, \.bidderDeliveries, \.connectLatency,
        ] {
            self[keyPath: path].add(other[keyPath: path])
        }
        for path in [
            \FleetTally.totalMessages, \.totalBytes, \.everOpened, \.unexpectedCount, \.replays, \.replayMismatches,
            \.staleStates, \.seqWentBack, \.unexpectedCloses, \.bidsSent, \.stateBytes, \.stateCount,
        ] {
            self[keyPath: path] += other[keyPath: path]
        }
        codes.merge(other.codes, uniquingKeysWith: +)
        connectionErrors.merge(other.connectionErrors, uniquingKeysWith: +)
        unexpected = Array((unexpected + other.unexpected).prefix(50))
        acknowledgements += other.acknowledgements
        unavailableAt += other.unavailableAt
        largestState = max(largestState, other.largestState)
    }
}
