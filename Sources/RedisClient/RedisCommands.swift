import Foundation

/// What a store asks of Redis, whether one server (`RedisConnection`) or a cluster
/// (`RedisClusterConnection`). Used by one thread at a time.
public protocol RedisCommands: AnyObject {
    /// Sends the commands in one round trip per server and returns their replies in order; an
    /// error reply stays in its place.
    func exchange(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply]
    /// Like `exchange`, with each server's share followed by `WAIT replicas timeout` in the same
    /// round trip: each reply comes with how many replicas of the server that ran it hold that
    /// connection's writes (0 when WAIT failed).
    func exchange(
        _ commands: [[[UInt8]]], waitingForReplicas replicas: Int, timeout: Duration
    ) throws(RedisError) -> [(
        reply: RedisReply, replicated: Int
    )]
    /// Like `exchange`, but each server's share stands or fails alone: the commands of a server
    /// that cannot be reached (or does not answer within the time-out) fail, the others are
    /// answered. Every share is sent before any reply is read, so a server that does not answer
    /// holds up no other server's commands. One server: all answered or all failed.
    func exchangeEachServerApart(_ commands: [[[UInt8]]]) -> [Result<RedisReply, RedisError>]
    /// Drops every connection; the next call reconnects.
    func disconnect()
}

extension RedisCommands {
    public func exchangeEachServerApart(_ commands: [[[UInt8]]]) -> [Result<RedisReply, RedisError>] {
        do { return try exchange(commands).map { .success($0) } } catch {
            return commands.map { _ in .failure(error) }
        }
    }

    /// Like `exchange`, but a top-level error reply of any command is thrown (after all replies
    /// have been read, so the connection stays in step).
    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        let replies = try exchange(commands)
        for reply in replies { if case .error(let message) = reply { throw .server(message) } }
        return replies
    }

    @discardableResult
    public func execute(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply { try pipeline([arguments])[0] }

    @discardableResult
    public func execute(_ arguments: String...) throws(RedisError) -> RedisReply { try execute(arguments.map { Array($0.utf8) }) }

    @discardableResult
    public func execute(_ arguments: [String]) throws(RedisError) -> RedisReply { try execute(arguments.map { Array($0.utf8) }) }
}

extension Duration {
    /// Blocks the calling thread this long.
    func sleep() {
        let (seconds, attoseconds) = components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// WAIT's time-out argument: whole milliseconds, at least 1 (0 would wait for ever).
    var waitArgument: [UInt8] {
        let (seconds, attoseconds) = components
        return Array(String(max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)).utf8)
    }
}

extension RedisEndpoint {
    /// A connection for commands: to the one server (or the primary Sentinel names), or on a
    /// cluster one that routes each command to its slot's primary.
    public func connectForCommands(timeout: Duration = .seconds(2)) throws(RedisError) -> any RedisCommands {
        guard let seeds = cluster else { return try RedisConnection(endpoint: self, timeout: timeout) }
        return try RedisClusterConnection(
            seeds: seeds.map(node), timeout: timeout)
    }
}
