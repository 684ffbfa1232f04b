import Dispatch
import Foundation
import Logging
import RedisClient
import WebServer

/// Settings the HTTP side needs; the daemon fills them from its configuration.
public struct AuctionServiceSettings: Sendable {
    public var redis: RedisEndpoint
    /// The folder with the web page (index.html and its modules).
    public var webDirectory: String

    public init(redis: RedisEndpoint, webDirectory: String) {
        self.redis = redis
        self.webDirectory = webDirectory
    }
}

/// The service's routes (PROTOCOL.md "HTTP"). This is the skeleton of issue 2: health, time, the
/// page, and protocol-shaped errors. Auctions, WebSocket sessions and admin routes arrive with
/// issue 5; until then every auction id is unknown.
public final class AuctionService: WebServerDelegate {
    private let settings: AuctionServiceSettings
    private let logger: Logger
    /// Redis calls block, so they run here and never on the lws thread; the connection belongs to
    /// this serial queue alone.
    private let redisQueue = DispatchQueue(label: "auctiond.redis")
    nonisolated(unsafe) private var redis: RedisConnection?

    public init(settings: AuctionServiceSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        guard let route = Route(path: request.path) else {
            return responder.respond(APIError.notFound("The path \(request.path)").response)
        }
        switch (request.method, route) {
        case (.get, .health), (.head, .health):
            redisQueue.async { responder.respond(self.health()) }
        case (.get, .time):
            responder.respond(jsonResponse(["serverTime": currentMilliseconds()]))
        case (.get, .page):
            responder.respond(page())
        default:
            responder.respond(APIError.methodNotAllowed(request.method, request.path).response)
        }
    }

    /// The paths this skeleton serves.
    enum Route {
        case health, time, page

        init?(path: String) {
            let segments = path.split(separator: "/").map(String.init)
            switch segments.count {
            case 1 where segments[0] == "healthz": self = .health
            case 3 where segments == ["api", "v1", "time"]: self = .time
            case 2 where segments[0] == "tenders" || segments[0] == "auctions": self = .page
            default: return nil
            }
        }
    }

    public func shouldUpgrade(_ request: HTTPRequest) -> UpgradeDecision {
        .reject(status: 404, message: "Unknown auction.")
    }

    public func opened(_ socket: WebSocket) {}
    public func received(_ text: String, from socket: WebSocket) {}
    public func receivedTooLarge(from socket: WebSocket) {}
    public func closed(_ socket: WebSocket) {}

    private func health() -> HTTPResponse {
        do {
            if redis == nil { redis = try RedisConnection(endpoint: settings.redis, timeout: .seconds(1)) }
            _ = try redis?.execute("PING")
            return jsonResponse(["status": "ok", "redis": "ok", "serverTime": currentMilliseconds()])
        } catch {
            logger.warning("health check failed", metadata: ["error": "\(error)"])
            redis = nil
            return jsonResponse(
                status: 503, ["status": "unavailable", "redis": "\(error)", "serverTime": currentMilliseconds()])
        }
    }

    private func page() -> HTTPResponse {
        let path = settings.webDirectory + "/index.html"
        guard let data = FileManager.default.contents(atPath: path) else {
            return APIError(status: 503, code: "page_missing", message: "The web page is not installed.").response
        }
        return HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(data))
    }
}
