// Once a second: the clients' counters for that second (read on each fleet's thread), and the
// servers' CPU and memory from /proc, and Redis's command count from INFO.
import Foundation
import Locking
import RedisClient
import Synchronization

final class Sampler: @unchecked Sendable {
    private let fleets: Fleets
    private let probes: [ProcessProbe]
    private let redis: RedisEndpoint
    private let running = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    let samples = Locked<[Sample]>([])
    let peakRSS = Locked<[String: Int]>([:])

    init(fleets: Fleets, probes: [ProcessProbe], redis: RedisEndpoint) {
        self.fleets = fleets
        self.probes = probes
        self.redis = redis
    }

    func start() {
        running.store(true, ordering: .releasing)
        Thread { [self] in
            let began = ContinuousClock.now
            var lastCPU = Dictionary(uniqueKeysWithValues: probes.map { ($0.name, $0.cpuSeconds ?? 0) })
            var lastCommands = redisCommands()
            var last = ContinuousClock.now
            while running.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 1)
                let now = ContinuousClock.now
                let elapsed = (now - last).inSeconds
                last = now
                let (second, connections) = fleets.takeSecond()
                var cpu: [String: Double] = [:]
                var rss: [String: Double] = [:]
                for probe in probes {
                    let seconds = probe.cpuSeconds ?? lastCPU[probe.name] ?? 0
                    cpu[probe.name] = ((seconds - (lastCPU[probe.name] ?? 0)) / elapsed * 100).rounded() / 100
                    lastCPU[probe.name] = seconds
                    if let bytes = probe.residentBytes {
                        rss[probe.name] = (Double(bytes) / 1_048_576 * 10).rounded() / 10
                        peakRSS.withLock { $0[probe.name] = max($0[probe.name] ?? 0, bytes) }
                    }
                }
                let commands = redisCommands()
                let bids = second.bidAnswers.summary
                let deliveries = second.deliveries.summary
                samples.withLock {
                    $0.append(
                        Sample(
                            t: ((now - began).inSeconds * 10).rounded() / 10, connections: connections,
                            messagesPerSecond: Int(Double(second.messages) / elapsed), bidAnswers: Int(Double(bids.count) / elapsed),
                            bidP50: bids.p50, bidP99: bids.p99, deliveryP50: deliveries.p50, deliveryP99: deliveries.p99,
                            cpu: cpu, rssMiB: rss, redisOpsPerSecond: Int(Double(max(0, commands - lastCommands)) / elapsed)))
                }
                lastCommands = commands
            }
            finished.signal()
        }.start()
    }

    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    /// One connection per server: the one Redis, or every node of a cluster (their sum).
    private var connections: [RedisConnection] = []
    private func redisCommands() -> Int {
        if connections.isEmpty {
            let nodes = redis.cluster.map { $0.map(redis.node) }
            connections = (nodes ?? [redis]).compactMap { try? RedisConnection(endpoint: $0) }
        }
        var total = 0
        for connection in connections {
            guard let info = try? connection.execute("INFO", "stats").string else {
                connections = []
                return total
            }
            total += Self.infoField("total_commands_processed", in: info).map { Int($0) } ?? 0
        }
        return total
    }

    static func infoField(_ name: String, in info: String) -> Double? {
        info.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }.flatMap { Double($0.dropFirst(name.count + 1)) }
    }
}
