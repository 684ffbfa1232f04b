// The side-by-side references, run on the same machine in the same run so that their ratios
// survive a noisy box: libwebsockets' own test server mirroring messages (bare C on the same
// library) for the fan-out, and redis-benchmark running the bid script for the bid path.
import AuctionCore
import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import WebServer
import WebSocketClient

public struct FanOutComparison: Codable, Sendable {
    public var clients = 0
    public var messageBytes = 0
    public var messages = 0
    public var deliveries = 0
    public var serverCPUSeconds = 0.0
    public var deliveriesPerCPUSecond = 0.0
    /// From the send to the last client's receipt, per message (median and worst): the same
    /// client reading the bare C server, the yardstick of `hot`'s broadcast latency.
    public var lastReceiverMedianMilliseconds = 0.0
    public var lastReceiverMaxMilliseconds = 0.0
    public var note = ""
}

public struct ScriptComparison: Codable, Sendable {
    public var clients = 0
    public var calls = 0
    /// The bid script alone, EVALSHA from redis-benchmark: calls per second.
    public var scriptCallsPerSecond = 0.0
    public var note = ""
}

enum Comparisons {
    /// Starts `libwebsockets-test-server`, connects `clients` to its `lws-mirror-protocol`, and has
    /// one of them send `messages` messages of `messageBytes`, each after the previous one reached
    /// everybody: deliveries per CPU-second of the server process.
    /// A run whose clients do not all connect is run once more on a fresh server and port (the
    /// server once could not bind a port that was free on 127.0.0.1 only: PERFORMANCE.md).
    static func mirror(clients: Int, messageBytes: Int, messages: Int) -> FanOutComparison {
        let first = mirrorOnce(clients: clients, messageBytes: messageBytes, messages: messages)
        guard first.deliveriesPerCPUSecond == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/libwebsockets-test-server") else {
            return first
        }
        var second = mirrorOnce(clients: clients, messageBytes: messageBytes, messages: messages)
        second.note += " (second attempt; the first: \(first.note))"
        return second
    }

    private static func mirrorOnce(clients: Int, messageBytes: Int, messages: Int) -> FanOutComparison {
        var result = FanOutComparison(clients: clients, messageBytes: messageBytes, messages: messages)
        let binary = "/usr/bin/libwebsockets-test-server"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            result.note = "libwebsockets-test-server is not installed (Debian package libwebsockets-test-server)"
            return result
        }
        // The test server listens on every address.
        let port = freePortOnEveryAddress()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port=\(port)"]
        process.standardOutput = FileHandle.nullDevice
        // Its own log, for the note when its clients cannot connect.
        let logPath = NSTemporaryDirectory() + "lws-mirror-\(port).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath) ?? FileHandle.nullDevice
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        func serverLog() -> String {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").suffix(3).joined(separator: " | ")
        }
        guard (try? process.run()) != nil else {
            result.note = "libwebsockets-test-server did not start"
            return result
        }
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let counter = MirrorCounter()
        let pool = WebSocketClientPool(delegate: counter)
        guard (try? pool.start()) != nil else {
            result.note = "no lws client context"
            return result
        }
        defer { pool.stop() }
        guard waitUntil(timeout: .seconds(5), { blockingHTTP("GET", port: port, path: "/") != nil }) else {
            result.note = "libwebsockets-test-server did not answer on port \(port) (running: \(process.isRunning); \(serverLog()))"
            return result
        }
        let target = WebSocketTarget(port: port, path: "/", subprotocol: "lws-mirror-protocol")
        for id in 0..<clients { pool.connect(id, to: target) }
        // Given up as soon as every client has been closed once: a run whose clients are all
        // refused is tried again at once rather than after the whole wait.
        let connected = waitUntil(timeout: .seconds(120)) {
            counter.open.load(ordering: .relaxed) >= clients || counter.closed.load(ordering: .relaxed) >= clients
        }
        guard connected, counter.open.load(ordering: .relaxed) >= clients else {
            result.note =
                "only \(counter.open.load(ordering: .relaxed)) of \(clients) mirror clients connected, "
                + "\(counter.closed.load(ordering: .relaxed)) closed (server running: \(process.isRunning); \(serverLog()))"
            return result
        }
        let probe = ProcessProbe(name: "mirror", pid: process.processIdentifier)
        let payload = String(repeating: "x", count: messageBytes)
        let cpuBefore = probe.cpuSeconds ?? 0
        var lastReceiver: [Double] = []
        for index in 1...messages {
            let sentAt = RedisClock.hostMicroseconds()
            pool.send(text: payload, on: 0)
            // Each message reaches every client, the sender included; nothing else arrives until
            // it has, so the latest receipt is the last client's.
            if waitUntil(timeout: .seconds(10), { counter.bytes.load(ordering: .relaxed) >= index * clients * messageBytes }) {
                lastReceiver.append(Double(counter.lastReceipt.load(ordering: .relaxed) - sentAt) / 1000)
            }
        }
        lastReceiver.sort()
        result.lastReceiverMedianMilliseconds = lastReceiver.isEmpty ? 0 : lastReceiver[lastReceiver.count / 2]
        result.lastReceiverMaxMilliseconds = lastReceiver.last ?? 0
        let cpu = (probe.cpuSeconds ?? 0) - cpuBefore
        result.deliveries = counter.bytes.load(ordering: .relaxed) / max(messageBytes, 1)
        result.serverCPUSeconds = cpu
        result.deliveriesPerCPUSecond = cpu > 0 ? Double(result.deliveries) / cpu : 0
        result.note = "libwebsockets-test-server \(port), lws-mirror-protocol"
        return result
    }

    private final class MirrorCounter: WebSocketClientDelegate, @unchecked Sendable {
        let open = Atomic<Int>(0)
        /// Connections closed (or refused), whether or not they had opened.
        let closed = Atomic<Int>(0)
        let bytes = Atomic<Int>(0)
        /// Wall-clock microseconds of the latest message.
        let lastReceipt = Atomic<Int64>(0)
        func connected(_ connection: Int) { open.add(1, ordering: .relaxed) }
        func received(_ message: UnsafeRawBufferPointer, on connection: Int) {
            lastReceipt.store(RedisClock.hostMicroseconds(), ordering: .relaxed)
            bytes.add(message.count, ordering: .relaxed)
        }
        func disconnected(_ connection: Int, reason: String?) {
            open.subtract(1, ordering: .relaxed)
            closed.add(1, ordering: .relaxed)
        }
    }

    /// Plans an auction whose first turn stays open, and has redis-benchmark send the very
    /// EVALSHA of the bid script that `AuctionStore.placeBid` sends (a new request id each call).
    static func redisBenchmark(_ endpoint: RedisEndpoint, clients: Int = 50, calls: Int = 200_000) -> ScriptComparison {
        var result = ScriptComparison(clients: clients, calls: calls)
        do {
            let store = AuctionStore(endpoint: endpoint)
            let id = "redis-benchmark-\(RedisClock.hostMicroseconds())"
            let start = try store.now().adding(milliseconds: -10)
            _ = try store.create(samplePlannedAuction(id: id, start: start, firstPause: 0, pause: 3_600_000, turn: 3_600_000))
            let words = try store.bidScriptCommand(auctionId: id, bidder: 1, amount: Money(kopiyky: 80_000), requestId: "rb-__rand_int__")
            // On a cluster, the primary that holds the auction's slot.
            var server = RedisAddress(host: endpoint.host, port: endpoint.port)
            if let seeds = endpoint.cluster {
                let map = try RedisClusterConnection(seeds: seeds.map(endpoint.node)).map
                server = map.primary(for: ClusterSlot.of(id)) ?? server
            }
            let (_, csv) = try runProgram(
                "/usr/bin/redis-benchmark",
                ["-h", server.host, "-p", String(server.port), "-c", String(clients), "-n", String(calls), "-r", "1000000000", "--csv"]
                    + words, includeErrors: false)
            // CSV: a header line, then "name","rps",…
            let lines = csv.split(whereSeparator: \.isNewline)
            guard let row = lines.last(where: { !$0.hasPrefix("\"test\"") }),
                let rps = row.split(separator: ",").dropFirst().first.flatMap({
                    Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                })
            else {
                result.note = "redis-benchmark printed no rate: \(lines.prefix(3).joined(separator: " / "))"
                return result
            }
            result.scriptCallsPerSecond = rps
            result.note = "redis-benchmark -c \(clients) -n \(calls), EVALSHA of the bid script (valid bids, each a new request)"
            _ = try? RedisConnection(endpoint: endpoint).execute("DEL", "auction:{\(id)}:log", "auction:{\(id)}:requests")
        } catch {
            result.note = "redis-benchmark comparison failed: \(error)"
        }
        return result
    }
}
