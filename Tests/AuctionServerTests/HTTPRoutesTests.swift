import AuctionCore
import AuctionTesting
import Foundation
import Locking
import Synchronization
import Testing
import WebServer

@testable import AuctionServer

/// A runtime held in memory: the routes' own behaviour (routing, the admin token, paging, the
/// envelopes) tested in process, without sockets or Redis. What the runtime does is tested live.
private final class MemoryRuntime: ServiceRuntime {
    let states: [String: PublicAuctionState]
    let entries: [AuctionListEntry]
    let calls = Locked<[String]>([])

    init(states: [String: PublicAuctionState] = [:], entries: [AuctionListEntry] = []) {
        self.states = states
        self.entries = entries
    }

    var serverTime: Int64 { 1_732_000_000_123 }
    func health(answer: @escaping @Sendable (HTTPResponse) -> Void) {
        answer(HTTPResponse(status: 200, contentType: "text/plain", body: Array("ok".utf8)))
    }
    func page() -> HTTPResponse { HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array("<html>".utf8)) }
    func metricsPage() -> HTTPResponse { HTTPResponse(status: 200, contentType: "text/plain", body: []) }
    func listedAuctions(answer: @escaping @Sendable ([AuctionListEntry]) -> Void) { answer(entries) }
    func publicState(of auctionId: String) -> PublicAuctionState? { states[auctionId] }
    func auditDocument(of auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        calls.withLock { $0.append("audit \(auctionId)") }
        answer(HTTPResponse(status: 200, contentType: "application/yaml; charset=utf-8", body: Array("auctionId: \(auctionId)\n".utf8)))
    }
    func cancel(_ auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        calls.withLock { $0.append("cancel \(auctionId)") }
        answer(HTTPResponse(status: 200, contentType: "application/json", body: []))
    }
    func plan(_ tenderId: String, lot: String?, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        calls.withLock { $0.append("plan \(tenderId) \(lot ?? "-")") }
        answer(HTTPResponse(status: 200, contentType: "application/json", body: []))
    }
    func refusedAdmin(peer: String) { calls.withLock { $0.append("refused \(peer)") } }
}

@Suite struct HTTPRoutesTests {
    /// The answer the routes give at once (the memory runtime never defers).
    private func answer(
        _ routes: HTTPRoutes, _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], headers: [String: String] = [:]
    ) -> (
        status: Int, json: [String: Any]?
    ) {
        let response = Locked<HTTPResponse?>(nil)
        routes.handle(
            HTTPRequest(method: method, path: path, query: query.map { (name: $0.0, value: $0.1) }, headers: headers, peer: "10.0.0.9")
        ) { answer in
            response.withLock { $0 = answer }
        }
        let got = response.withLock { $0 }!
        return (got.status, try? JSONSerialization.jsonObject(with: Data(got.body)) as? [String: Any])
    }

    private func errorCode(_ json: [String: Any]?) -> String? { (json?["error"] as? [String: Any])?["code"] as? String }

    @Test func unknownPathsAre404AndWrongMethods405() {
        let routes = HTTPRoutes(runtime: MemoryRuntime(), adminToken: nil)
        #expect(answer(routes, .get, "/nope").status == 404)
        #expect(errorCode(answer(routes, .get, "/api/v1/auctions/bad id!").json) == "not_found")
        #expect(answer(routes, .post, "/api/v1/time").status == 405)
        #expect(errorCode(answer(routes, .delete, "/healthz").json) == "method_not_allowed")
        #expect(answer(routes, .get, "/api/v1/time").json?["serverTime"] as? Int64 == 1_732_000_000_123)
    }

    @Test func theAuditDocumentIsAskedOfTheRuntimeByGETOnly() {
        let runtime = MemoryRuntime()
        let routes = HTTPRoutes(runtime: runtime, adminToken: nil)
        #expect(answer(routes, .get, "/api/v1/auctions/t-1_lot-2/audit").status == 200)
        #expect(answer(routes, .post, "/api/v1/auctions/t-1/audit").status == 405)
        #expect(answer(routes, .get, "/api/v1/auctions/bad id!/audit").status == 404)
        #expect(runtime.calls.withLock { $0 } == ["audit t-1_lot-2"])
    }

    @Test func adminRoutesAskForTheTokenAndNeverReachTheRuntimeWithoutIt() {
        let runtime = MemoryRuntime()
        let off = HTTPRoutes(runtime: runtime, adminToken: nil)
        #expect(errorCode(answer(off, .post, "/api/v1/auctions/a1/cancel").json) == "admin_disabled")
        let on = HTTPRoutes(runtime: runtime, adminToken: "admin-secret")
        #expect(answer(on, .post, "/api/v1/auctions/a1/cancel").status == 401)
        #expect(answer(on, .post, "/api/v1/auctions/a1/plan", headers: ["authorization": "Basic x"]).status == 401)
        let wrong = answer(on, .post, "/api/v1/auctions/a1/cancel", headers: ["authorization": "Bearer admin-secreT"])
        #expect(wrong.status == 403 && errorCode(wrong.json) == "forbidden")
        #expect(runtime.calls.withLock { $0 } == ["refused 10.0.0.9"], "only the refusal was told; nothing was cancelled")
        #expect(answer(on, .post, "/api/v1/auctions/a1/cancel", headers: ["authorization": "Bearer admin-secret"]).status == 200)
        _ = answer(on, .post, "/api/v1/auctions/t1/plan", query: [("lot", "L2")], headers: ["authorization": "Bearer admin-secret"])
        #expect(runtime.calls.withLock { $0 } == ["refused 10.0.0.9", "cancel a1", "plan t1 L2"])
    }

    @Test func theListIsPagedSoonestFirstWithACursor() throws {
        let entries = (0..<5).map {
            AuctionListEntry(id: "a\($0)", status: .scheduled, startDate: Int64(100 - $0 * 10), title: $0 == 0 ? nil : "T\($0)")
        }
        let routes = HTTPRoutes(runtime: MemoryRuntime(entries: entries), adminToken: nil)
        let first = answer(routes, .get, "/api/v1/auctions", query: [("limit", "2")])
        let data = try #require(first.json?["data"] as? [[String: Any]])
        #expect(data.map { $0["id"] as? String } == ["a4", "a3"])
        #expect(data[0]["startDate"] as? Int == 60 && data[0]["status"] as? String == "scheduled")
        let cursor = try #require((first.json?["next_page"] as? [String: Any])?["cursor"] as? String)
        let rest = answer(routes, .get, "/api/v1/auctions", query: [("limit", "10"), ("cursor", cursor)])
        #expect((rest.json?["data"] as? [[String: Any]])?.map { $0["id"] as? String } == ["a2", "a1", "a0"])
        #expect(rest.json?["next_page"] == nil)
        #expect(((rest.json?["data"] as? [[String: Any]])?.last?["title"]) is NSNull, "a tender without a title lists null")
        #expect(errorCode(answer(routes, .get, "/api/v1/auctions", query: [("limit", "0")]).json) == "invalid_limit")
        #expect(errorCode(answer(routes, .get, "/api/v1/auctions", query: [("cursor", "???")]).json) == "invalid_cursor")
    }

    @Test func aPublicStateIsInTheDataEnvelope() throws {
        let view = try samplePlannedAuction(criteria: .lowestCost, start: Timestamp(milliseconds: 1_732_000_000_000)).publicView(
            serverTime: Timestamp(milliseconds: 5))
        let routes = HTTPRoutes(runtime: MemoryRuntime(states: [view.id: view]), adminToken: nil)
        let got = answer(routes, .get, "/api/v1/auctions/\(view.id)")
        #expect(got.status == 200)
        #expect((got.json?["data"] as? [String: Any])?["id"] as? String == view.id)
        #expect(answer(routes, .get, "/api/v1/auctions/missing").status == 404)
    }
}
