/// A decoded RESP2 reply. Bulk strings stay bytes: Redis values are binary-safe.
public enum RedisReply: Equatable, Sendable {
    case bulk([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    /// An error reply nested inside an array (EXEC, script tables). Top-level errors are thrown.
    case error(String)

    /// The reply as text, for bulk and status replies.
    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        if case .bulk = self, let text = string { return Int64(text) }
        return nil
    }

    public var array: [RedisReply]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var isNull: Bool { self == .null }
}

/// Every way a Redis call can fail, each with a message that names the address or the command.
public enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Could not connect (refused, unreachable, timed out).
    case connectionFailed(address: String, reason: String)
    /// The connection broke during a command (EOF, reset, time-out). The command may or may not
    /// have run; the connection reconnects on the next call.
    case connectionLost(address: String, reason: String)
    /// The peer answered something that is not RESP.
    case protocolError(address: String, reason: String)
    /// Redis answered with an error reply (`ERR …`, `WRONGTYPE …`, a script's own error).
    case server(String)

    public var description: String {
        switch self {
        case .connectionFailed(let address, let reason): "cannot connect to Redis at \(address): \(reason)"
        case .connectionLost(let address, let reason): "connection to Redis at \(address) lost: \(reason)"
        case .protocolError(let address, let reason): "Redis at \(address) broke the protocol: \(reason)"
        case .server(let message): "Redis error: \(message)"
        }
    }
}
