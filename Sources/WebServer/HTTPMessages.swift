// The HTTP and WebSocket values the server hands to its delegate. Plain Swift: no lws here.

public enum HTTPMethod: String, Sendable {
    case get = "GET"
    case post = "POST"
    case put = "PUT"
    case patch = "PATCH"
    case delete = "DELETE"
    case options = "OPTIONS"
    case head = "HEAD"

    /// Methods whose request may carry a body.
    var carriesBody: Bool { self == .post || self == .put || self == .patch }
}

/// A request as received: the path without its query, the decoded query parameters in order,
/// and the headers the service reads (names lower-case).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: [String: String]
    public var body: [UInt8]
    /// The peer's IP address as lws reports it.
    public var peer: String

    public init(
        method: HTTPMethod, path: String, query: [(name: String, value: String)] = [],
        headers: [String: String] = [:], body: [UInt8] = [], peer: String = ""
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", text: String) {
        self.init(status: status, contentType: contentType, body: Array(text.utf8))
    }
}

/// What to do with a WebSocket upgrade request.
public enum UpgradeDecision: Sendable, Equatable {
    case accept
    /// Refuse the handshake with an HTTP status (404 for an unknown path, 503 when full).
    case reject(status: Int, message: String)
}

/// Standard close codes the service uses (RFC 6455 §7.4.1).
public enum CloseCode: UInt16, Sendable {
    case normal = 1000
    case goingAway = 1001
    case unsupportedData = 1003
    case policyViolation = 1008
    case messageTooBig = 1009
    case internalError = 1011
}
