// The one place that calls hiredis. A connection is used by one thread at a time (hiredis contexts
// are not thread-safe); blocking calls belong on worker threads, never on the lws service thread.
import CHiredis
import CHiredisShims
import Foundation

public final class RedisConnection: RedisCommands {
    public let endpoint: RedisEndpoint
    public let timeout: Duration
    private var context: UnsafeMutablePointer<redisContext>?

    /// Connects at once; throws `connectionFailed` if the server is not there within `timeout`.
    public init(endpoint: RedisEndpoint, timeout: Duration = .seconds(2)) throws(RedisError) {
        self.endpoint = endpoint
        self.timeout = timeout
        try connect()
    }

    deinit { redisFree(context) }

    public var isConnected: Bool { context != nil }

    /// Sends the commands in one round trip and returns their replies in order, an error reply in
    /// its place (`execute` and `pipeline` throw it). A broken connection is re-established first
    /// (the caller sees `connectionFailed` if that fails); a connection that breaks during the
    /// commands throws `connectionLost` and is re-established by the next call.
    public func exchange(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        _ = try append(commands)
        return try receive(commands.count)
    }

    /// Reads the replies of `count` commands sent before (`send`), in order.
    public func receive(_ count: Int) throws(RedisError) -> [RedisReply] {
        guard let context else { throw .connectionLost(address: endpoint.description, reason: "not connected") }
        var replies: [RedisReply] = []
        replies.reserveCapacity(count)
        for _ in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(context) }
            replies.append(RedisReply(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        if endpoint.sentinel != nil, let demoted = replies.first(where: Self.isReadOnlyRefusal) {
            // The node was the primary when this connection was made and is a replica now (a
            // failover): nothing was written; ask Sentinel again on the next call.
            disconnect()
            throw .connectionLost(address: endpoint.description, reason: "\(demoted)")
        }
        return replies
    }

    public func exchange(
        _ commands: [[[UInt8]]], waitingForReplicas replicas: Int, timeout: Duration
    ) throws(RedisError) -> [(
        reply: RedisReply, replicated: Int
    )] {
        let replies = try exchange(commands + [[Array("WAIT".utf8), Array(String(replicas).utf8), timeout.waitArgument]])
        // WAIT answers a count; anything else (an error) counts as no replica.
        let acknowledged = Int(replies.last?.integer ?? 0)
        return replies.dropLast().map { ($0, acknowledged) }
    }

    private static func isReadOnlyRefusal(_ reply: RedisReply) -> Bool {
        if case .error(let message) = reply { message.hasPrefix("READONLY") } else { false }
    }

    /// Waits for the next pushed message on a subscribed connection (pub/sub). Returns nil when
    /// `timeout` passes with nothing; the connection stays usable.
    public func nextPush(timeout wait: Duration) throws(RedisError) -> RedisReply? {
        if context == nil { try connect() }
        guard let context else { return nil }
        setTimeout(context, wait)
        // A failed read frees the context (see `failure`): restore the time-out only on a live one.
        defer { if let live = self.context { setTimeout(live, timeout) } }
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
            let timedOut = context.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
            if timedOut {
                // A read time-out consumed nothing, so the stream is still in step; hiredis 0.14
                // only flags the context, and has no call to clear the flag.
                context.pointee.err = 0
                return nil
            }
            throw failure(context)
        }
        defer { freeReplyObject(raw) }
        return RedisReply(raw!.assumingMemoryBound(to: redisReply.self))
    }

    /// Sends commands without reading their replies (`receive` reads them). On a subscribed
    /// connection the replies come as pushes (`nextPush`), among the messages.
    public func send(_ commands: [[[UInt8]]]) throws(RedisError) {
        let context = try append(commands)
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(context, &done) != REDIS_OK { throw failure(context) }
        }
    }

    /// A push already read from the socket, without reading more: hiredis reads what the socket
    /// has, so a message may wait in its buffer while the socket has nothing.
    public func bufferedPush() throws(RedisError) -> RedisReply? {
        guard let context else { return nil }
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw failure(context) }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Reads what the socket has into hiredis' buffer, for `bufferedPush` (after `readable` said
    /// so: one read, no waiting); throws when the connection failed or the server closed it.
    public func readAvailable() throws(RedisError) {
        guard let context else { throw .connectionLost(address: endpoint.description, reason: "not connected") }
        if redisBufferRead(context) != REDIS_OK { throw failure(context) }
    }

    /// Waits up to `timeout` until one of `connections` has something to read; returns those
    /// that have (none at the time-out). A connection that is not connected counts as ready, so
    /// that reading it reports why.
    public static func readable(_ connections: [RedisConnection], timeout: Duration) -> [RedisConnection] {
        var entries = connections.map { pollfd(fd: $0.context?.pointee.fd ?? -1, events: Int16(POLLIN), revents: 0) }
        if entries.contains(where: { $0.fd < 0 }) { return connections.filter { $0.context == nil } }
        let milliseconds = Int32(max(0, min(timeout.inMillisecondsRoundedUp, Int64(Int32.max))))
        guard poll(&entries, nfds_t(entries.count), milliseconds) > 0 else { return [] }
        return zip(connections, entries).filter { $0.1.revents != 0 }.map(\.0)
    }

    /// Drops the connection; the next call reconnects.
    public func disconnect() {
        redisFree(context)
        context = nil
    }

    // MARK: - hiredis plumbing

    /// Puts the commands in hiredis' output buffer (connecting first if need be); hiredis writes
    /// them when a reply is read, or `send` flushes them.
    private func append(_ commands: [[[UInt8]]]) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if context == nil { try connect() }
        guard let context else { throw .connectionFailed(address: endpoint.description, reason: "no context") }
        for arguments in commands {
            let status = withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw failure(context) }
        }
        return context
    }

    private func connect() throws(RedisError) {
        redisFree(context)
        context = nil
        let address = endpoint.description
        let named = try endpoint.sentinel.map { discovery throws(RedisError) in try Self.primary(of: discovery, timeout: timeout) }
        // The primary Sentinel names, or the one server, or a cluster's seeds in turn.
        var reasons: [String] = []
        var connected: UnsafeMutablePointer<redisContext>?
        for server in named.map({ [$0] }) ?? endpoint.servers {
            guard let attempt = redisConnectWithTimeout(server.host, Int32(server.port), Self.timeval(timeout)) else {
                throw .connectionFailed(address: address, reason: "out of memory")
            }
            guard attempt.pointee.err == 0 else {
                reasons.append(endpoint.servers.count > 1 ? "\(server): \(Self.errorText(attempt))" : Self.errorText(attempt))
                redisFree(attempt)
                continue
            }
            connected = attempt
            break
        }
        guard let fresh = connected else { throw .connectionFailed(address: address, reason: reasons.joined(separator: "; ")) }
        cshim_bound_reader(fresh.pointee.reader)
        setTimeout(fresh, timeout)
        _ = redisEnableKeepAlive(fresh)
        context = fresh
        if let password = endpoint.password {
            do { try execute(["AUTH"] + (endpoint.user.map { [$0] } ?? []) + [password]) } catch {
                disconnect()
                // The server's own text (WRONGPASS …) names no secret; ours neither.
                throw .connectionFailed(address: endpoint.description, reason: "AUTH refused: \(error)")
            }
        }
        if endpoint.database != 0 {
            do { try execute("SELECT", String(endpoint.database)) } catch {
                disconnect()
                throw error
            }
        }
        if let server = named {
            // Sentinel may name a primary that has just been demoted, or one it has not seen
            // promoted yet: only a node that says it is a primary is used.
            let role = try? execute("ROLE").array?.first?.string
            guard role == "master" else {
                disconnect()
                throw .connectionFailed(address: address, reason: "Sentinel named \(server), whose role is \(role ?? "unknown")")
            }
        }
    }

    /// The primary the first Sentinel that knows `discovery.masterName` names.
    private static func primary(of discovery: SentinelDiscovery, timeout: Duration) throws(RedisError) -> RedisAddress {
        var reasons: [String] = []
        for sentinel in discovery.sentinels {
            do {
                let connection = try RedisConnection(endpoint: RedisEndpoint(host: sentinel.host, port: sentinel.port), timeout: timeout)
                let reply = try connection.execute("SENTINEL", "get-master-addr-by-name", discovery.masterName)
                if let pair = reply.array, pair.count == 2, let host = pair[0].string, let port = pair[1].string.flatMap({ Int($0) }) {
                    return RedisAddress(host: host, port: port)
                }
                reasons.append("\(sentinel): does not know \(discovery.masterName)")
            } catch {
                reasons.append("\(sentinel): \(error)")
            }
        }
        throw .connectionFailed(
            address: "sentinel \(discovery.masterName)", reason: "no Sentinel named a primary (\(reasons.joined(separator: "; ")))")
    }

    private func setTimeout(_ context: UnsafeMutablePointer<redisContext>, _ duration: Duration) {
        _ = redisSetTimeout(context, Self.timeval(duration))
    }

    /// Converts hiredis' error state into a typed error and drops the broken context: after an
    /// I/O or protocol error the stream is out of step and must not be reused.
    private func failure(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let reason = context.pointee.err == REDIS_ERR_OOM ? RedisReplyReader.tooManyElements : Self.errorText(context)
        let isProtocol = context.pointee.err == REDIS_ERR_PROTOCOL || context.pointee.err == REDIS_ERR_OOM
        disconnect()
        if isProtocol { return .protocolError(address: endpoint.description, reason: reason) }
        return .connectionLost(address: endpoint.description, reason: reason)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "error \(context.pointee.err)" : text
        }
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    private func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        // hiredis reads argv[i] for argvlen[i] bytes, so no terminator is needed and NULs are fine.
        let storage = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { pointer.update(from: $0.baseAddress!, count: bytes.count) }
            }
            return pointer
        }
        defer { storage.forEach { $0.deallocate() } }
        var argv: [UnsafePointer<CChar>?] = storage.map { UnsafePointer($0) }
        let lengths = arguments.map(\.count)
        return argv.withUnsafeMutableBufferPointer { argvBuffer in
            lengths.withUnsafeBufferPointer { body(Int32(arguments.count), argvBuffer.baseAddress!, $0.baseAddress!) }
        }
    }
}

extension Duration {
    fileprivate var inMillisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
