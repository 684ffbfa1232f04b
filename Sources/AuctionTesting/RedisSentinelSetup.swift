import Foundation
import RedisClient

/// A replicated Redis watched by a real Sentinel, for one test: a primary and `replicas` replicas
/// (AOF on all) and one Sentinel (quorum 1) that promotes a replica `downAfterMilliseconds` after
/// the primary stops answering, and points the others at it.
public final class RedisSentinelSetup: @unchecked Sendable {
    public static let masterName = "auctions"
    public let primary: RedisServer
    public let replicas: [RedisServer]
    public let sentinelPort: Int
    private let directory: String
    private var sentinel: ManagedProcess?

    public init(replicas count: Int = 1, downAfterMilliseconds: Int = 1000) throws {
        let primary = try RedisServer(appendOnly: true)
        self.primary = primary
        replicas = try (0..<count).map { _ in try RedisServer.replica(of: primary) }
        sentinelPort = freeLoopbackPort()
        directory = makeTemporaryDirectory("sentinel")
        let configuration = """
            port \(sentinelPort)
            bind 127.0.0.1
            dir \(directory)
            sentinel monitor \(Self.masterName) 127.0.0.1 \(primary.port) 1
            sentinel down-after-milliseconds \(Self.masterName) \(downAfterMilliseconds)
            sentinel failover-timeout \(Self.masterName) 10000
            """
        let path = directory + "/sentinel.conf"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        sentinel = try ManagedProcess(
            executable: RedisServer.executablePath, arguments: [path, "--sentinel"], logPath: directory + "/sentinel.log")
        let watching = waitUntil {
            guard let connection = self.askSentinel(),
                let replicas = try? connection.execute("SENTINEL", "replicas", Self.masterName).array
            else { return false }
            return replicas.count == count
        }
        guard watching else { throw RedisServerError(description: "Sentinel did not start watching:\n\(sentinel?.log ?? "")") }
    }

    public var url: String { "redis+sentinel://127.0.0.1:\(sentinelPort)/\(Self.masterName)" }
    public var endpoint: RedisEndpoint { RedisEndpoint(url: url)! }
    public var sentinelLog: String { sentinel?.log ?? "" }

    private func askSentinel() -> RedisConnection? { try? RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: sentinelPort)) }

    /// The server Sentinel names as the primary now.
    public var namedPrimary: RedisServer? {
        guard let connection = askSentinel(),
            let pair = try? connection.execute("SENTINEL", "get-master-addr-by-name", Self.masterName).array, pair.count == 2
        else { return nil }
        return ([primary] + replicas).first { String($0.port) == pair[1].string }
    }

    /// Waits until Sentinel names one of the replicas as the primary, and returns it.
    public func waitForPromotion(timeout: Duration = .seconds(20)) -> RedisServer? {
        var promoted: RedisServer?
        _ = waitUntil(timeout: timeout) {
            promoted = self.namedPrimary.flatMap { $0 === self.primary ? nil : $0 }
            return promoted != nil
        }
        return promoted
    }

    deinit {
        sentinel?.kill9()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
