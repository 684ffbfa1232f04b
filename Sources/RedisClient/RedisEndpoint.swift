// Where Redis is: one server (`redis://`), or a primary that Sentinel names (`redis+sentinel://`).
import Foundation

/// Where a Redis server is, and how to log in: parsed from `redis://[user:password@]host:port/db`,
/// or `redis+sentinel://[user:password@]host:port[,host:port…]/masterName[/db]`, where the hosts
/// are Sentinels and every connection goes to the primary they name at that moment.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    /// ACL user name for `AUTH`; nil with a password alone (the `default` user).
    public var user: String?
    /// Sent with `AUTH` on every connection; never part of `description`, so never logged.
    public var password: String?
    /// Ask these Sentinels for the primary of `masterName` on every connect (`host`/`port` unused).
    public var sentinel: SentinelDiscovery?
    /// A Redis Cluster's seed nodes (`host`/`port` are the first): a store routes by slot
    /// (`RedisClusterConnection`); a plain connection (pub/sub) takes the first seed that answers.
    public var cluster: [RedisAddress]?

    public init(
        host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, user: String? = nil, password: String? = nil,
        sentinel: SentinelDiscovery? = nil, cluster: [RedisAddress]? = nil
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.sentinel = sentinel
        self.cluster = cluster
    }

    /// Parses any of the three URL forms; returns nil for anything else.
    public init?(url: String) {
        for (scheme, isSentinel) in [("redis+sentinel://", true), ("redis+cluster://", false)] where url.hasPrefix(scheme) {
            self.init(manyHosts: String(url.dropFirst(scheme.count)), sentinel: isSentinel)
            return
        }
        guard let components = URLComponents(string: url), components.scheme == "redis",
            let host = components.host, !host.isEmpty
        else { return nil }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard path.isEmpty || Int(path) != nil else { return nil }
        let user = components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 }
        let password = components.password.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 }
        // A user without a password cannot log in: refuse rather than connect unauthenticated.
        if user != nil && password == nil { return nil }
        self.init(host: host, port: components.port ?? 6379, database: Int(path) ?? 0, user: user, password: password)
    }

    /// `[user:password@]host:port[,host:port…]` then, for Sentinel, `/masterName[/db]`, for a
    /// cluster `[/0]` (a cluster has database 0 only). URLComponents takes one host only.
    private init?(manyHosts rest: String, sentinel isSentinel: Bool) {
        var rest = Substring(rest)
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = credentials.first.flatMap { $0.isEmpty ? nil : String($0).removingPercentEncoding }
            password = credentials.count > 1 && !credentials[1].isEmpty ? String(credentials[1]).removingPercentEncoding : nil
            rest = rest[rest.index(after: at)...]
            if user != nil && password == nil { return nil }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        let hosts = parts[0].split(separator: ",").map { RedisAddress(String($0)) }
        guard !hosts.isEmpty, hosts.allSatisfy({ $0 != nil }) else { return nil }
        let addresses = hosts.compactMap { $0 }
        guard isSentinel else {
            guard parts.count == 1 || (parts.count == 2 && (parts[1].isEmpty || parts[1] == "0")) else { return nil }
            self.init(host: addresses[0].host, port: addresses[0].port, user: user, password: password, cluster: addresses)
            return
        }
        guard parts.count == 2 || parts.count == 3, !parts[1].isEmpty else { return nil }
        var database = 0
        if parts.count == 3, !parts[2].isEmpty {
            guard let number = Int(parts[2]) else { return nil }
            database = number
        }
        self.init(
            host: "", port: 0, database: database, user: user, password: password,
            sentinel: SentinelDiscovery(masterName: String(parts[1]), sentinels: addresses))
    }

    /// The servers a plain connection may use: the cluster's seeds in order, or the one server.
    public var servers: [RedisAddress] { cluster ?? [RedisAddress(host: host, port: port)] }

    /// Another server logged in to as this one is (a cluster's node: database 0).
    public func node(_ address: RedisAddress) -> RedisEndpoint {
        RedisEndpoint(host: address.host, port: address.port, user: user, password: password)
    }

    /// `host:port/db` (or the Sentinels and the master's name), with `user@` when there is one;
    /// the password never appears.
    public var description: String {
        let place =
            sentinel.map { "sentinel \($0.masterName) via \($0.sentinels.map(\.description).joined(separator: ","))" }
            ?? cluster.map { "cluster \($0.map(\.description).joined(separator: ","))" } ?? "\(host):\(port)"
        return "\(user.map { "\($0)@" } ?? "")\(place)/\(database)"
    }
}

/// Redis Sentinel: which Sentinels to ask, and for which monitored primary.
public struct SentinelDiscovery: Sendable, Equatable {
    public var masterName: String
    public var sentinels: [RedisAddress]

    public init(masterName: String, sentinels: [RedisAddress]) {
        self.masterName = masterName
        self.sentinels = sentinels
    }
}

/// A server's `host:port`, as Redis names one in `MOVED`, `CLUSTER SHARDS` or Sentinel's answers
/// (the last colon splits: IPv6 hosts have colons).
public struct RedisAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let number = Int(text[text.index(after: colon)...]) else { return nil }
        host = String(text[..<colon])
        port = number
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, (1...65_535).contains(port) else { return nil }
    }

    public var description: String { "\(host):\(port)" }
}
