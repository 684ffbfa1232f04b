// The one place that calls hiredis. A connection is used by one thread at a time (hiredis contexts
// are not thread-safe); blocking calls belong on worker threads, never on the lws service thread.
import CHiredis
import CHiredisShims
import Foundation

/// Where a Redis server is, and how to log in: parsed from `redis://[user:password@]host:port/db`.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    /// ACL user name for `AUTH`; nil with a password alone (the `default` user).
    public var user: String?
    /// Sent with `AUTH` on every connection; never part of `description`, so never logged.
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; returns nil for anything else.
    public init?(url: String) {
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

    /// `host:port/db`, with `user@` when there is one; the password never appears.
    public var description: String { "\(user.map { "\($0)@" } ?? "")\(host):\(port)/\(database)" }
}

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
        if context == nil { try connect() }
        guard let context else { throw .connectionFailed(address: endpoint.description, reason: "no context") }
        for arguments in commands {
            let status = withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw failure(context) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(context) }
            replies.append(RedisReply(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
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

    /// Drops the connection; the next call reconnects.
    public func disconnect() {
        redisFree(context)
        context = nil
    }

    // MARK: - hiredis plumbing

    private func connect() throws(RedisError) {
        redisFree(context)
        context = nil
        let address = endpoint.description
        guard let fresh = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), Self.timeval(timeout)) else {
            throw .connectionFailed(address: address, reason: "out of memory")
        }
        if fresh.pointee.err != 0 {
            let reason = Self.errorText(fresh)
            redisFree(fresh)
            throw .connectionFailed(address: address, reason: reason)
        }
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
