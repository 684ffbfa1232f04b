// libFuzzer target: an HTTP request as the routes see it (lws has split the request line, decoded
// the path and cut the query into name=value fragments). The input is read as lines: the method
// (by the first byte), the path, the Authorization header, then query fragments. Whatever they
// are, the routes answer once, with a status of PROTOCOL.md, an error in the JSON error envelope,
// and a list no longer than the limit asked for; the runtime is reached only through a known
// route, and the admin ones only with the token.
import AuctionCore
import Foundation
import WebServer

private let adminToken = "fuzz-admin-token"

/// Answers at once, from memory: what the routes do with the answers is under test, not the runtime.
private final class FuzzRuntime: ServiceRuntime, @unchecked Sendable {
    var reachedAdmin = false
    var serverTime: Int64 { 1_732_000_000_000 }
    func health(answer: @escaping @Sendable (HTTPResponse) -> Void) { answer(HTTPResponse(status: 200, text: "ok")) }
    func page() -> HTTPResponse { HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array("<html>".utf8)) }
    func metricsPage() -> HTTPResponse { HTTPResponse(status: 200, text: "") }
    func listedAuctions(answer: @escaping @Sendable ([AuctionListEntry]) -> Void) {
        answer(
            (0..<30).map {
                AuctionListEntry(
                    id: "a\($0 % 7)-\($0)", status: .scheduled, startDate: Int64($0 % 5) * 1000, title: $0 % 3 == 0 ? nil : "t")
            })
    }
    func publicState(of auctionId: String) -> PublicAuctionState? { nil }
    func auditDocument(of auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        answer(HTTPResponse(status: 200, contentType: "application/yaml; charset=utf-8", body: Array("auctionId: x\n".utf8)))
    }
    func cancel(_ auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        reachedAdmin = true
        answer(HTTPResponse(status: 200, text: "{}"))
    }
    func plan(_ tenderId: String, lot: String?, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        reachedAdmin = true
        answer(HTTPResponse(status: 200, text: "{}"))
    }
    func refusedAdmin(peer: String) {}
}

private let methods: [HTTPMethod] = [.get, .post, .put, .patch, .delete, .options, .head]
private let statuses: Set<Int> = [200, 400, 401, 403, 404, 405]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRoute(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let method = methods[Int(data[0]) % methods.count]
    let lines = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
        .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let path = lines.first ?? ""
    let authorization = lines.count > 1 ? lines[1] : ""
    let query = lines.dropFirst(2).map { fragment -> (name: String, value: String) in
        guard let equals = fragment.firstIndex(of: "=") else { return (fragment, "") }
        return (String(fragment[..<equals]), String(fragment[fragment.index(after: equals)...]))
    }
    let request = HTTPRequest(
        method: method, path: path, query: Array(query),
        headers: authorization.isEmpty ? [:] : ["authorization": authorization], peer: "192.0.2.1")
    let runtime = FuzzRuntime()
    final class Answers: @unchecked Sendable { var list: [HTTPResponse] = [] }  // the runtime answers at once, here
    let answers = Answers()
    HTTPRoutes(runtime: runtime, adminToken: adminToken).handle(request) { answers.list.append($0) }
    let responses = answers.list

    guard responses.count == 1, let response = responses.first else { fatalError("\(responses.count) answers to \(request)") }
    guard statuses.contains(response.status) else { fatalError("status \(response.status) for \(request)") }
    if runtime.reachedAdmin, authorization != "Bearer \(adminToken)" { fatalError("admin route without the token: \(request)") }
    if Route(path: path) == nil, response.status != 404 { fatalError("an unknown path answered \(response.status)") }
    if response.status >= 400 {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let error = object["error"] as? [String: Any], error["code"] is String, error["message"] is String
        else { fatalError("error \(response.status) without the envelope: \(String(decoding: response.body, as: UTF8.self))") }
    }
    if method == .get, Route(path: path) == .auctions, response.status == 200 {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let items = object["data"] as? [Any]
        else { fatalError("the list is not {\"data\": [...]}") }
        let limit = request.queryValue("limit").flatMap(Int.init) ?? 100
        if items.count > limit { fatalError("\(items.count) items for limit \(limit)") }
    }
    return 0
}
