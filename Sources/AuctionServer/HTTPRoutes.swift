// The HTTP routes of PROTOCOL.md: a thin adapter from a request to the running service. Routing,
// the admin token and the list's paging live here, over `ServiceRuntime`; what a route does lives
// in the runtime (AuctionService). So they are tested in process, without sockets or Redis
// (HTTPRoutesTests), beside the live tests that go through lws and Redis.
import AuctionCore
import CryptoPrimitives
import Foundation
import WebServer

/// What the routes ask of the running service. Answers that wait for Redis or the tender API come
/// through `answer`, on another thread; the others return at once (the lws thread never waits).
protocol ServiceRuntime: Sendable {
    /// Redis' clock now, in ms (`RedisClock`).
    var serverTime: Int64 { get }
    func health(answer: @escaping @Sendable (HTTPResponse) -> Void)
    func page() -> HTTPResponse
    func metricsPage() -> HTTPResponse
    /// The auctions this process serves (scheduled, live, and ended within `memoryGrace`).
    func listedAuctions(answer: @escaping @Sendable ([AuctionListEntry]) -> Void)
    func publicState(of auctionId: String) -> PublicAuctionState?
    /// The auction's audit document (docs/AUDIT.md), replayed from its record, once it has ended.
    func auditDocument(of auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void)
    func cancel(_ auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void)
    func plan(_ tenderId: String, lot: String?, answer: @escaping @Sendable (HTTPResponse) -> Void)
    /// Told of an admin request with a wrong token (logged; the token never is).
    func refusedAdmin(peer: String)
}

/// One auction in `GET /api/v1/auctions`.
struct AuctionListEntry: Sendable, Equatable {
    var id: String
    var status: AuctionStatus
    var startDate: Int64
    var title: String?

    var cursor: AuctionListCursor { AuctionListCursor(start: startDate, id: id) }
}

/// The paths of PROTOCOL.md "HTTP".
enum Route: Equatable {
    case health, time, page, metrics, auctions
    case auction(String)
    case audit(String)
    case plan(String)
    case cancel(String)
    case webSocket(String)

    init?(path: String) {
        let s = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        switch s.count {
        case 1 where s[0] == "healthz": self = .health
        case 1 where s[0] == "metrics": self = .metrics
        case 2 where (s[0] == "tenders" || s[0] == "auctions") && Self.isId(s[1]): self = .page
        case 2 where s[0] == "ws" && Self.isId(s[1]): self = .webSocket(s[1])
        case 3 where s == ["api", "v1", "time"]: self = .time
        case 3 where s == ["api", "v1", "auctions"]: self = .auctions
        case 4 where s[0...2] == ["api", "v1", "auctions"] && Self.isId(s[3]): self = .auction(s[3])
        case 5 where s[0...2] == ["api", "v1", "auctions"] && Self.isId(s[3]) && s[4] == "audit": self = .audit(s[3])
        case 5 where s[0...2] == ["api", "v1", "auctions"] && Self.isId(s[3]) && s[4] == "plan": self = .plan(s[3])
        case 5 where s[0...2] == ["api", "v1", "auctions"] && Self.isId(s[3]) && s[4] == "cancel": self = .cancel(s[3])
        default: return nil
        }
    }

    /// Tender and lot ids are hex or UA-style: letters, digits, `-` and `_`.
    static func isId(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 128
            && text.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95
            }
    }
}

struct HTTPRoutes: Sendable {
    let runtime: any ServiceRuntime
    /// The admin endpoints' bearer token; nil or empty turns them off.
    let adminToken: String?

    func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let route = Route(path: request.path) else {
            return respond(APIError.notFound("The path \(request.path)").response)
        }
        switch (request.method, route) {
        case (.get, .health), (.head, .health):
            runtime.health(answer: respond)
        case (.get, .time):
            respond(JSONBody.response(["serverTime": runtime.serverTime]))
        case (.get, .page):
            respond(runtime.page())
        case (.get, .metrics):
            respond(runtime.metricsPage())
        case (.get, .auctions):
            // The paging is checked before the runtime is asked.
            switch Self.listQuery(request) {
            case .failure(let error): respond(error.response)
            case .success(let (limit, after)):
                runtime.listedAuctions { entries in respond(Self.auctionList(entries, limit: limit, after: after)) }
            }
        case (.get, .auction(let id)):
            guard let state = runtime.publicState(of: id) else { return respond(APIError.notFound("Auction \(id)").response) }
            respond(JSONBody.response(Envelope(data: state)))
        case (.get, .audit(let id)):
            runtime.auditDocument(of: id, answer: respond)
        case (.post, .cancel(let id)):
            if let refusal = adminRefusal(request) { return respond(refusal.response) }
            runtime.cancel(id, answer: respond)
        case (.post, .plan(let id)):
            if let refusal = adminRefusal(request) { return respond(refusal.response) }
            runtime.plan(id, lot: request.queryValue("lot"), answer: respond)
        default:
            respond(APIError.methodNotAllowed(request.method, request.path).response)
        }
    }

    /// nil when the request carries the admin token.
    func adminRefusal(_ request: HTTPRequest) -> APIError? {
        guard let expected = adminToken, !expected.isEmpty else {
            return APIError(
                status: 403, code: "admin_disabled", message: "The admin endpoints are turned off (no admin token is configured).")
        }
        guard let header = request.headers["authorization"], header.hasPrefix("Bearer ") else {
            return APIError(
                status: 401, code: "unauthorized", message: "An admin request needs the header Authorization: Bearer <admin token>.")
        }
        guard ConstantTimeText.equals(String(header.dropFirst(7)), expected) else {
            runtime.refusedAdmin(peer: request.peer)
            return APIError(status: 403, code: "forbidden", message: "The admin token is wrong.")
        }
        return nil
    }

    /// `limit` (1…1000, default 100) and `cursor` of `GET /api/v1/auctions`.
    static func listQuery(_ request: HTTPRequest) -> Result<(limit: Int, after: AuctionListCursor?), APIError> {
        var limit = 100
        if let text = request.queryValue("limit") {
            guard let value = Int(text), (1...1000).contains(value) else {
                return .failure(APIError(status: 400, code: "invalid_limit", message: "limit must be a whole number from 1 to 1000."))
            }
            limit = value
        }
        var after: AuctionListCursor?
        if let text = request.queryValue("cursor") {
            guard let cursor = AuctionListCursor(text) else {
                return .failure(APIError(status: 400, code: "invalid_cursor", message: "The cursor is not one this list gave out."))
            }
            after = cursor
        }
        return .success((limit, after))
    }

    /// One page of the list, soonest start first; `next_page.cursor` continues after its last.
    static func auctionList(_ entries: [AuctionListEntry], limit: Int, after: AuctionListCursor?) -> HTTPResponse {
        struct Item: Encodable {
            var id: String
            var status: AuctionStatus
            var startDate: Int64
            var title: String?

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(id, forKey: .id)
                try c.encode(status, forKey: .status)
                try c.encode(startDate, forKey: .startDate)
                try c.encode(title, forKey: .title)  // null when the tender has none
            }

            enum CodingKeys: String, CodingKey { case id, status, startDate, title }
        }
        struct NextPage: Encodable { var cursor: String }
        struct Page: Encodable {
            var data: [Item]
            var next_page: NextPage?
        }
        let sorted = entries.filter { after.map($0.cursor.isAfter) ?? true }.sorted { $0.cursor.isBefore($1.cursor) }
        let page = sorted.prefix(limit)
        let next = sorted.count > limit ? page.last.map { NextPage(cursor: $0.cursor.text) } : nil
        return JSONBody.response(
            Page(data: page.map { Item(id: $0.id, status: $0.status, startDate: $0.startDate, title: $0.title) }, next_page: next))
    }

    private struct Envelope<Data: Encodable>: Encodable { var data: Data }
}

/// Constant-time comparison of two secrets given as text.
enum ConstantTimeText {
    static func equals(_ a: String, _ b: String) -> Bool {
        ConstantTime.equals(Array(a.utf8), Array(b.utf8))
    }
}
