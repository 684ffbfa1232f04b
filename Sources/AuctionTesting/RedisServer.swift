import Foundation
import RedisClient

/// A real `redis-server` on a free loopback port, for one test. No persistence unless asked for
/// (`appendOnly`), in which case it can be restarted on the same folder and keeps its data.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    public let appendOnly: Bool
    /// More `redis-server` options (`--requirepass`, `--appendfsync everysec`, …), after the defaults.
    public let extraArguments: [String]
    /// The password the test client and `url` log in with, when the server asks for one.
    public let password: String?
    private var process: ManagedProcess?

    public init(appendOnly: Bool = false, extraArguments: [String] = [], password: String? = nil) throws {
        port = freeLoopbackPort()
        directory = makeTemporaryDirectory("redis")
        self.appendOnly = appendOnly
        self.extraArguments = extraArguments
        self.password = password
        try start()
    }

    public var endpoint: RedisEndpoint { RedisEndpoint(host: "127.0.0.1", port: port, password: password) }
    public var url: String { "redis://\(password.map { ":\($0)@" } ?? "")127.0.0.1:\(port)/0" }
    public var pid: Int32? { process?.pid }

    public func start() throws {
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
            "--protected-mode", "no",
        ]
        // "always" so that a test killing the server loses nothing that was acknowledged.
        arguments += appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        arguments += extraArguments
        process = try ManagedProcess(
            executable: Self.executablePath, arguments: arguments, logPath: directory + "/redis.log")
        let up = waitUntil {
            (try? RedisConnection(endpoint: endpoint, timeout: .milliseconds(200)).execute("PING")) == .status("PONG")
        }
        guard up else { throw RedisServerError(description: "redis-server did not start:\n\(process?.log ?? "")") }
    }

    /// Graceful shutdown (SIGTERM): with AOF on, everything written is on disk.
    public func stop() { process?.stop() }

    /// The crash case: SIGKILL.
    public func kill9() { process?.kill9() }

    public func restart() throws {
        stop()
        try start()
    }

    public func connect() throws -> RedisConnection { try RedisConnection(endpoint: endpoint) }

    /// A replica of `primary` (AOF on), started and in step with it.
    public static func replica(of primary: RedisServer) throws -> RedisServer {
        // The primary starts a sync at once, not after Redis's default 5-s wait for more replicas.
        try primary.connect().execute("CONFIG", "SET", "repl-diskless-sync-delay", "0")
        let replica = try RedisServer(appendOnly: true, extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)])
        try replica.waitForSync()
        return replica
    }

    /// `ROLE`: a primary, or a replica connected to its primary.
    public var isPrimaryOrSyncedReplica: Bool {
        guard let role = try? connect().execute("ROLE").array, let kind = role.first?.string else { return false }
        return kind != "slave" || (role.count > 3 && role[3].string == "connected")
    }

    public func waitForSync() throws {
        guard waitUntil({ self.isPrimaryOrSyncedReplica }) else {
            throw RedisServerError(description: "the replica on \(port) did not sync with its primary:\n\(process?.log ?? "")")
        }
    }

    deinit {
        process?.kill9()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static var executablePath: String {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? "/usr/bin/redis-server"
    }
}

public struct RedisServerError: Error, CustomStringConvertible {
    public let description: String
}
