import WebServer

/// An HTTP error in the protocol's shape: `{"error": {"code": "<snake_case>", "message": "…"}}`.
public struct APIError: Error, Sendable {
    public let status: Int
    public let code: String
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ what: String) -> APIError {
        APIError(status: 404, code: "not_found", message: "\(what) was not found.")
    }

    public static func methodNotAllowed(_ method: HTTPMethod, _ path: String) -> APIError {
        APIError(status: 405, code: "method_not_allowed", message: "\(method.rawValue) is not allowed on \(path).")
    }

    /// An address over `limits.requestsPerIpPerSecond`.
    public static func rateLimited(_ perSecond: Int) -> APIError {
        APIError(
            status: 429, code: "rate_limited",
            message: "Too many requests from your address: at most \(perSecond) a second (bursts of twice that). Try again in a second.")
    }

    public var response: HTTPResponse {
        JSONBody.response(status: status, ["error": ["code": code, "message": message]])
    }
}
