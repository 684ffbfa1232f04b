import Foundation
import RedisClient

/// A real Redis Cluster on loopback ports for one test: `primaries` primaries with
/// `replicasPerPrimary` replicas each, made by `redis-cli --cluster create`, AOF on every node and a
/// node time-out of `nodeTimeoutMilliseconds` (how long before a killed primary's replica takes
/// over).
public final class RedisCluster: @unchecked Sendable {
    public let nodes: [RedisServer]

    public init(primaries: Int = 3, replicasPerPrimary: Int = 1, nodeTimeoutMilliseconds: Int = 1000) throws {
        nodes = try (0..<primaries * (1 + replicasPerPrimary)).map { _ in
            try RedisServer(
                appendOnly: true,
                extraArguments: [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", String(freeLoopbackPort()),
                    "--cluster-node-timeout", String(nodeTimeoutMilliseconds),
                    // A replica's first sync at once, not after Redis's default 5-s wait for more replicas.
                    "--repl-diskless-sync-delay", "0",
                ])
        }
        StoppedAtExit.shared.add(nodes)
        let (status, text) = try runProgram(
            "/usr/bin/redis-cli",
            ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + [
                "--cluster-replicas", String(replicasPerPrimary), "--cluster-yes",
            ])
        guard status == 0 else { throw RedisServerError(description: "redis-cli --cluster create failed:\n\(text)") }
        guard waitUntil(timeout: .seconds(20), { self.isSettled }) else {
            throw RedisServerError(description: "the cluster did not settle:\n\(text)")
        }
    }

    public var seeds: [RedisEndpoint] { nodes.map(\.endpoint) }

    /// Every node that answers says `cluster_state:ok`, sees all 16,384 slots served, and, if a
    /// replica, is connected to its primary (so that it could take over).
    public var isSettled: Bool {
        nodes.allSatisfy { node in
            guard let connection = try? node.connect() else { return true }
            guard let info = try? connection.execute("CLUSTER", "INFO").string, info.contains("cluster_state:ok"),
                let shards = try? connection.execute("CLUSTER", "SHARDS"), let map = try? ClusterSlotMap(shards: shards)
            else { return false }
            return node.isPrimaryOrSyncedReplica && map.ranges.reduce(0) { $0 + $1.slots.count } == ClusterSlot.count
        }
    }

    /// The node listening on `address`.
    public func node(at address: RedisAddress) -> RedisServer? { nodes.first { $0.port == address.port } }

    /// `CLUSTER MYID` of a node.
    public func id(of node: RedisServer) throws -> String {
        guard let id = try node.connect().execute("CLUSTER", "MYID").string else { throw RedisServerError(description: "no CLUSTER MYID") }
        return id
    }
}

/// A cluster a suite keeps in a `static let` is never released, and its nodes would outlive the
/// test process (a dozen `redis-server`s per run): every node made is killed when the process exits.
private final class StoppedAtExit: @unchecked Sendable {
    static let shared = StoppedAtExit()
    private let lock = NSLock()
    private var servers: [RedisServer] = []

    func add(_ more: [RedisServer]) {
        lock.lock()
        defer { lock.unlock() }
        if servers.isEmpty { atexit { StoppedAtExit.shared.killAll() } }
        servers += more
    }

    private func killAll() {
        lock.lock()
        let all = servers
        lock.unlock()
        for server in all { server.kill9() }
    }
}
