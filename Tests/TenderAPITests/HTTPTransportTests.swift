import AuctionCore
import AuctionTesting
import Foundation
import Locking
import TenderAPI
import Testing

/// The client's own HTTP/1.1 over real sockets, against peers scripted to test it.
@Suite struct HTTPTransportTests {
    func client(_ peer: ScriptedPeer, retryBudget: Duration = .zero) -> TenderAPIClient {
        TenderAPIClient(
            settings: TenderAPISettings(
                baseURL: "http://127.0.0.1:\(peer.port)/api/2.5", token: "auction", timeout: .seconds(2), retryBudget: retryBudget,
                firstBackoff: .milliseconds(20)))
    }

    static func answer(_ id: String) -> String {
        let body = #"{"data":[{"id":"\#(id)","dateModified":"2026-12-07T10:00:00+02:00","status":"active.auction"}]}"#
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    @Test func requestsGoOneAfterAnotherOnOneKeptAliveConnection() throws {
        // The peer takes one connection only: a second would never be accepted.
        final class Requests: Sendable { let list = Locked<[String]>([]) }
        let requests = Requests()
        let peer = try ScriptedPeer(connections: 1) { client, _ in
            for index in 0..<5 {
                guard let request = ScriptedPeer.readRequest(client) else { return }
                requests.list.withLock { $0.append(request) }
                ScriptedPeer.send(Self.answer("t\(index)"), to: client)
            }
        }
        let client = client(peer)
        for index in 0..<5 {
            #expect(try client.tenderList(.tenders, offset: "2026-12-07T10:00:00.5+02:00").data.first?.id == "t\(index)")
        }
        let first = try #require(requests.list.withLock { $0.first })
        #expect(first.hasPrefix("GET /api/2.5/tenders?opt_fields=status&offset=2026-12-07T10%3A00%3A00.5%2B02%3A00 HTTP/1.1\r\n"))
        #expect(first.contains("\r\nHost: 127.0.0.1:\(peer.port)\r\n"))
        #expect(first.contains("\r\nAuthorization: Basic YXVjdGlvbjo=\r\n"))
    }

    @Test func aKeptAliveConnectionTheServerClosesAsARequestGoesIsReplacedAtOnce() throws {
        // The first connection answers once, then reads the second request and closes without a
        // word: the request goes again on a new connection, with no retry budget to spend.
        let peer = try ScriptedPeer(connections: 2) { client, index in
            guard ScriptedPeer.readRequest(client) != nil else { return }
            ScriptedPeer.send(Self.answer("c\(index)"), to: client)
            if index == 0 { _ = ScriptedPeer.readRequest(client) }
        }
        let client = client(peer)
        #expect(try client.tenderList(.tenders, offset: nil).data.first?.id == "c0")
        #expect(try client.tenderList(.tenders, offset: nil).data.first?.id == "c1")
    }

    @Test func aRedirectIsNotFollowedAndTheErrorSaysWhereItLeads() throws {
        let peer = try ScriptedPeer(connections: 1) { client, _ in
            guard ScriptedPeer.readRequest(client) != nil else { return }
            ScriptedPeer.send(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: https://api.example/api/2.5/tenders\r\nContent-Length: 0\r\n\r\n", to: client)
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(
            throws: TenderAPIError.unavailable(
                "GET /tenders: 301, sent on to https://api.example/api/2.5/tenders: set the API URL to where the API is")
        ) { try client(peer).tenderList(.tenders, offset: nil) }
    }

    @Test func aChunkedAnswerIsReadWhole() throws {
        let peer = try ScriptedPeer(connections: 1) { client, _ in
            guard ScriptedPeer.readRequest(client) != nil else { return }
            let body = Array(#"{"data":[{"id":"chunked","dateModified":"2026-12-07T10:00:00+02:00"}]}"#)
            var text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            for piece in stride(from: 0, to: body.count, by: 10) {
                let chunk = String(body[piece..<min(body.count, piece + 10)])
                text += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"
            }
            ScriptedPeer.send(text + "0\r\n\r\n", to: client)
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(try client(peer).tenderList(.tenders, offset: nil).data.first?.id == "chunked")
    }

    @Test func anAnswerThatIsNotHTTPIsUnavailableAndSaysWhy() throws {
        let peer = try ScriptedPeer(reply: "SSH-2.0-OpenSSH_9.2\r\n\r\n")
        #expect(
            throws: TenderAPIError.unavailable(
                "GET /tenders: 127.0.0.1:\(peer.port) answered: not an HTTP/1.x status line: 'SSH-2.0-OpenSSH_9.2'")
        ) { try client(peer).tenderList(.tenders, offset: nil) }
    }

    @Test func anAPIURLThatIsNotHTTPIsUnavailableAndSaysWhy() {
        let client = TenderAPIClient(
            settings: TenderAPISettings(baseURL: "ftp://api.example/api/2.5", token: "auction", retryBudget: .zero))
        #expect(throws: TenderAPIError.unavailable("'ftp://api.example/api/2.5' is not an http or https URL")) {
            try client.tenderList(.tenders, offset: nil)
        }
    }
}
