// Redis Cluster from the client's side (https://redis.io/docs/reference/cluster-spec/): the slot
// map from `CLUSTER SHARDS`, one connection per primary, each command sent to its key's primary,
// `MOVED` (the map is corrected, the command sent on), `ASK` (sent once to the importing node
// after `ASKING`), `TRYAGAIN` and `CLUSTERDOWN` (sent again after a pause, a bounded number of
// times). hiredis 0.14 has no cluster support, so this sits on `RedisConnection`.
import Foundation

public final class RedisClusterConnection: RedisCommands {
    /// Nodes to ask for the map first; user and password are used on every node. Database 0 only.
    public let seeds: [RedisEndpoint]
    public let timeout: Duration
    /// How often one command is sent on after `MOVED`, `ASK`, `TRYAGAIN` or `CLUSTERDOWN`.
    public let maxRedirections: Int
    /// The pause before sending again after `TRYAGAIN` or `CLUSTERDOWN` (doubling each time).
    public let retryPause: Duration
    public private(set) var map = ClusterSlotMap(ranges: [])
    private var nodes: [RedisAddress: RedisConnection] = [:]
    /// The map is read again before the next command (after `MOVED`, a lost node or `CLUSTERDOWN`).
    private var mapIsStale = true
    /// Every script loaded through this connection, by SHA-1: each node has its own script cache
    /// (and loses it on a restart or a failover), so a `NOSCRIPT` is answered by loading it there.
    private var scripts: [String: [UInt8]] = [:]

    /// Reads the slot map at once; throws `connectionFailed` when no seed answers.
    public init(
        seeds: [RedisEndpoint], timeout: Duration = .seconds(2), maxRedirections: Int = 16, retryPause: Duration = .milliseconds(50)
    ) throws(RedisError) {
        precondition(!seeds.isEmpty, "a cluster needs at least one seed node")
        self.seeds = seeds
        self.timeout = timeout
        self.maxRedirections = maxRedirections
        self.retryPause = retryPause
        if let selecting = seeds.first(where: { $0.database != 0 }) {
            throw .connectionFailed(address: selecting.description, reason: "a cluster has database 0 only")
        }
        try refreshMap()
    }

    public func disconnect() {
        nodes.values.forEach { $0.disconnect() }
        nodes = [:]
        mapIsStale = true
    }

    /// The slot a command is sent by: its first key's (nil for a command without keys).
    public static func slot(of command: [[UInt8]]) -> Int? { routingKey(command).map(ClusterSlot.of) }

    public func exchange(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        try exchange(commands, waiting: nil).replies
    }

    /// Each primary's share of the commands is followed by `WAIT` on the same connection, so
    /// each reply comes with the count of that primary's replicas that have its writes.
    public func exchange(
        _ commands: [[[UInt8]]], waitingForReplicas replicas: Int, timeout: Duration
    ) throws(RedisError) -> [(
        reply: RedisReply, replicated: Int
    )] {
        let (replies, replicated) = try exchange(
            commands, waiting: [Array("WAIT".utf8), Array(String(replicas).utf8), timeout.waitArgument])
        return Array(zip(replies, replicated))
    }

    private func exchange(
        _ commands: [[[UInt8]]], waiting wait: [[UInt8]]?
    ) throws(RedisError) -> (replies: [RedisReply], replicated: [Int]) {
        if mapIsStale { try refreshMap() }
        var replies = [RedisReply?](repeating: nil, count: commands.count)
        var replicated = [Int](repeating: 0, count: commands.count)
        for index in commands.indices where Self.isScriptLoad(commands[index]) {
            do { replies[index] = .bulk(Array(try loadScript(String(decoding: commands[index][2], as: UTF8.self)).utf8)) } catch {
                guard case .server(let message) = error else { throw error }
                replies[index] = .error(message)
            }
        }
        var pending = commands.indices.filter { replies[$0] == nil }.map { Sending(index: $0, slot: Self.slot(of: commands[$0])) }
        for round in 0...maxRedirections {
            var again: [Sending] = []
            var pause = false
            // Every node's share goes out before any reply is read: the nodes run (and fsync)
            // their shares at once, and a round costs the slowest node's time, not the sum.
            var inFlight: [(address: RedisAddress, batch: [Sending], connection: RedisConnection, count: Int)] = []
            for (address, batch) in try route(pending) {
                var sent: [[[UInt8]]] = []
                for item in batch {
                    if item.asking { sent.append([Array("ASKING".utf8)]) }
                    sent.append(commands[item.index])
                }
                if let wait { sent.append(wait) }
                do {
                    let connection = try node(address)
                    try connection.send(sent)
                    inFlight.append((address, batch, connection, sent.count))
                } catch {
                    forget(address)
                    // Their replies will not be read: the connections would be out of step.
                    for flight in inFlight { flight.connection.disconnect() }
                    throw error
                }
            }
            for (position, (address, batch, connection, count)) in inFlight.enumerated() {
                let answers: [RedisReply]
                do { answers = try connection.receive(count) } catch {
                    forget(address)
                    for flight in inFlight[(position + 1)...] { flight.connection.disconnect() }
                    throw error
                }
                // WAIT answers a count; anything else (an error) counts as no replica.
                let acknowledged = wait == nil ? 0 : Int(answers.last?.integer ?? 0)
                var position = 0
                for item in batch {
                    replicated[item.index] = acknowledged
                    if item.asking { position += 1 }
                    let reply = answers[position]
                    position += 1
                    replies[item.index] = reply
                    guard round < maxRedirections, case .error(let message) = reply else { continue }
                    if let redirection = ClusterRedirection(errorReply: message) {
                        switch redirection {
                        case .moved(let slot, let target):
                            map.move(slot, to: target)
                            mapIsStale = true
                            again.append(Sending(index: item.index, slot: item.slot))
                        case .ask(_, let target):
                            again.append(Sending(index: item.index, slot: item.slot, askAt: target))
                        case .tryAgain, .clusterDown:
                            if redirection == .clusterDown { mapIsStale = true }
                            pause = true
                            again.append(Sending(index: item.index, slot: item.slot, askAt: item.askAt))
                        }
                    } else if message.hasPrefix("NOSCRIPT"), try loadScript(for: commands[item.index], on: connection) {
                        again.append(item)
                    }
                }
            }
            if again.isEmpty { break }
            if pause {
                (retryPause * (1 << min(round, 6))).sleep()
            }
            if mapIsStale { try? refreshMap() }
            pending = again
        }
        return (replies.map { $0 ?? .null }, replicated)
    }

    public func exchangeEachServerApart(_ commands: [[[UInt8]]]) -> [Result<RedisReply, RedisError>] {
        var results = [Result<RedisReply, RedisError>?](repeating: nil, count: commands.count)
        // The map is read at most twice for the whole batch: once if something said it changed,
        // once more if a slot has no primary in it (a failover under way).
        do throws(RedisError) {
            if mapIsStale { try refreshMap() }
        } catch {
            return commands.map { _ in .failure(error) }
        }
        var groups: [RedisAddress: [Int]] = [:]
        var unplaced: [Int] = []
        for pass in 0..<2 {
            for index in pass == 0 ? Array(commands.indices) : unplaced {
                if let slot = Self.slot(of: commands[index]), let primary = map.primary(for: slot) {
                    groups[primary, default: []].append(index)
                } else if pass == 0 {
                    unplaced.append(index)
                } else {
                    results[index] = .failure(.connectionFailed(address: "cluster", reason: "no primary serves the command's slot"))
                }
            }
            if unplaced.isEmpty { break }
            if pass == 0 { try? refreshMap() }
        }
        var sent: [(address: RedisAddress, indices: [Int], connection: RedisConnection)] = []
        for (address, indices) in groups {
            do {
                let connection = try node(address)
                try connection.send(indices.map { commands[$0] })
                sent.append((address, indices, connection))
            } catch {
                forget(address)
                for index in indices { results[index] = .failure(error) }
            }
        }
        var redirected: [Int] = []
        for (address, indices, connection) in sent {
            do {
                for (index, reply) in zip(indices, try connection.receive(indices.count)) {
                    results[index] = .success(reply)
                    if case .error(let message) = reply, ClusterRedirection(errorReply: message) != nil || message.hasPrefix("NOSCRIPT") {
                        redirected.append(index)
                    }
                }
            } catch {
                forget(address)
                for index in indices { results[index] = .failure(error) }
            }
        }
        // A command that was redirected (or met a node without the script) is sent on as
        // `exchange` sends it, with the map corrected.
        for index in redirected {
            results[index] = Result { () throws(RedisError) in try exchange([commands[index]])[0] }
        }
        return results.map { $0 ?? .failure(.connectionFailed(address: "cluster", reason: "not sent")) }
    }

    // MARK: - Routing

    private struct Sending {
        let index: Int
        let slot: Int?
        /// After `ASK`: this node, once, with `ASKING` first.
        var askAt: RedisAddress?
        var asking: Bool { askAt != nil }
    }

    /// The commands grouped by the node they go to, each group in the commands' order.
    private func route(_ pending: [Sending]) throws(RedisError) -> [(RedisAddress, [Sending])] {
        var order: [RedisAddress] = []
        var groups: [RedisAddress: [Sending]] = [:]
        for item in pending {
            let address: RedisAddress
            if let ask = item.askAt {
                address = ask
            } else if let slot = item.slot {
                guard let primary = try primary(for: slot) else {
                    throw .connectionFailed(address: "cluster slot \(slot)", reason: "no primary serves the slot")
                }
                address = primary
            } else {
                guard let any = map.primaries.first else { throw .connectionFailed(address: "cluster", reason: "no primary known") }
                address = any
            }
            if groups[address] == nil { order.append(address) }
            groups[address, default: []].append(item)
        }
        return order.map { ($0, groups[$0]!) }
    }

    /// The slot's primary as the map has it, the map read again first if it has none.
    func primary(for slot: Int) throws(RedisError) -> RedisAddress? {
        if let known = map.primary(for: slot) { return known }
        try refreshMap()
        return map.primary(for: slot)
    }

    /// The key a command is routed by: the first key of a script or function call, the first
    /// stream of `XREAD`, else the first argument; nil for commands without keys.
    static func routingKey(_ command: [[UInt8]]) -> [UInt8]? {
        guard let name = command.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard command.count > 3, let count = Int(String(decoding: command[2], as: UTF8.self)), count > 0 else { return nil }
            return command[3]
        case "XREAD", "XREADGROUP":
            guard let streams = command.firstIndex(where: { String(decoding: $0, as: UTF8.self).uppercased() == "STREAMS" }),
                streams + 1 < command.count
            else { return nil }
            return command[streams + 1]
        case "PING", "TIME", "INFO", "SCRIPT", "CLUSTER", "CONFIG", "WAIT", "DBSIZE", "FLUSHALL", "FLUSHDB", "ECHO", "AUTH",
            "HELLO", "SELECT", "READONLY", "READWRITE", "ASKING", "COMMAND", "LASTSAVE", "ROLE", "MULTI", "EXEC", "DISCARD":
            return nil
        default:
            return command.count > 1 ? command[1] : nil
        }
    }

    // MARK: - Scripts

    /// `SCRIPT LOAD` goes to every primary (`loadScript`), not to one.
    private static func isScriptLoad(_ command: [[UInt8]]) -> Bool {
        command.count == 3 && String(decoding: command[0], as: UTF8.self).uppercased() == "SCRIPT"
            && String(decoding: command[1], as: UTF8.self).uppercased() == "LOAD"
    }

    /// After `NOSCRIPT` on `connection`: loads the script an `EVALSHA` named there, if it was
    /// loaded through this connection before. True when the command can be sent again.
    private func loadScript(for command: [[UInt8]], on connection: RedisConnection) throws(RedisError) -> Bool {
        guard command.count > 1, let source = scripts[String(decoding: command[1], as: UTF8.self).lowercased()] else { return false }
        _ = try connection.execute([Array("SCRIPT".utf8), Array("LOAD".utf8), source])
        return true
    }

    /// Loads a script on every primary and remembers it, so that a node that loses its cache
    /// (a restart, a failover to a replica that never saw it) gets it again on its `NOSCRIPT`.
    /// A primary that cannot be reached now gets it the same way later: one that answers is
    /// enough, so that one shard down does not stop the others' scripts.
    public func loadScript(_ source: String) throws(RedisError) -> String {
        if mapIsStale { try refreshMap() }
        var hash = ""
        var unreachable: RedisError?
        for address in map.primaries {
            do {
                let reply = try node(address).execute("SCRIPT", "LOAD", source)
                hash = reply.string ?? hash
            } catch {
                guard case .server = error else {
                    forget(address)
                    unreachable = error
                    continue
                }
                throw error
            }
        }
        if hash.isEmpty, let unreachable { throw unreachable }
        guard !hash.isEmpty else { throw .server("SCRIPT LOAD returned no hash") }
        scripts[hash.lowercased()] = Array(source.utf8)
        return hash
    }

    // MARK: - Nodes and the map

    /// The connection to a node; one that cannot be reached has the map read again before the
    /// next call (it may have failed over).
    private func node(_ address: RedisAddress) throws(RedisError) -> RedisConnection {
        if let known = nodes[address] { return known }
        do {
            let connection = try RedisConnection(endpoint: seeds[0].node(address), timeout: timeout)
            nodes[address] = connection
            return connection
        } catch {
            mapIsStale = true
            throw error
        }
    }

    /// A node that failed: its connection is dropped and the map read again before the next call.
    private func forget(_ address: RedisAddress) {
        nodes.removeValue(forKey: address)?.disconnect()
        mapIsStale = true
    }

    /// For a caller that reads a node's answers itself (a subscription): the map is read again
    /// before the next use, and a `MOVED` corrects it at once.
    func mapMayHaveChanged(_ redirection: ClusterRedirection? = nil) {
        if case .moved(let slot, let target) = redirection { map.move(slot, to: target) }
        mapIsStale = true
    }

    /// Reads the map again if something said it changed.
    func refreshMapIfStale() throws(RedisError) {
        if mapIsStale { try refreshMap() }
    }

    /// Reads `CLUSTER SHARDS` from the first node that answers: the primaries known, then the seeds.
    public func refreshMap() throws(RedisError) {
        var lastError = RedisError.connectionFailed(address: seeds[0].description, reason: "no node answered")
        let candidates = map.primaries + seeds.map { RedisAddress(host: $0.host, port: $0.port) }
        var tried = Set<RedisAddress>()
        for address in candidates where tried.insert(address).inserted {
            do {
                let fresh = try ClusterSlotMap(shards: try node(address).execute("CLUSTER", "SHARDS"))
                guard !fresh.ranges.isEmpty else { continue }
                map = fresh
                mapIsStale = false
                return
            } catch {
                if case .server = error {} else { forget(address) }
                lastError = error
            }
        }
        throw lastError
    }
}
