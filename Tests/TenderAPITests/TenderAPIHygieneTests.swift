import AuctionCore
import AuctionTesting
import Foundation
import TenderAPI
import Testing

/// Issue 19 item 9: what the client does with answers that are not plain successes or errors.
@Suite(.serialized) struct TenderAPIHygieneTests {
    /// A client of `sandbox` that retries after 20 ms, for up to `retryBudget`.
    func quickClient(_ sandbox: SandboxProcess, retryBudget: Duration) -> TenderAPIClient {
        TenderAPIClient(
            settings: TenderAPISettings(
                baseURL: sandbox.apiURL, token: SandboxProcess.token, timeout: .seconds(2), retryBudget: retryBudget,
                firstBackoff: .milliseconds(20)))
    }

    @Test func a412ThatKeepsComingBacksOffInsteadOfLoopingTightly() throws {
        let sandbox = try SandboxProcess()
        let client = quickClient(sandbox, retryBudget: .seconds(2))
        sandbox.fault(count: 10_000, status: 412)
        #expect(throws: TenderAPIError.self) { try client.tender(.tenders, id: "anything") }
        let attempts = sandbox.requests().filter { $0.status == 412 }.count
        #expect(attempts >= 2 && attempts <= 12, "\(attempts) requests in 2 s")
    }

    @Test func a409ConflictIsRetriedWithBackoff() throws {
        let sandbox = try SandboxProcess()
        let client = quickClient(sandbox, retryBudget: .seconds(3))
        var document = sampleTender(id: "t-conflict", start: Timestamp(milliseconds: 1_795_000_000_000))
        document["status"] = "active.auction"
        try sandbox.put(document)
        sandbox.fault(count: 2, status: 409)
        #expect(try client.tender(.tenders, id: "t-conflict").id == "t-conflict")
        #expect(sandbox.requests().filter { $0.path.hasSuffix("/t-conflict") }.map(\.status) == [409, 409, 200])
    }

    @Test func anAnswerThatTricklesIsCutAtTheTotalDeadline() throws {
        // Headers at once, then one byte of the body every 300 ms: never idle for long, never done.
        let peer = try ScriptedPeer { client in
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            _ = head.withCString { send(client, $0, strlen($0), 0) }
            for _ in 0..<60 {
                guard send(client, " ", 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
                Thread.sleep(forTimeInterval: 0.3)
            }
        }
        let client = TenderAPIClient(
            settings: TenderAPISettings(
                baseURL: "http://127.0.0.1:\(peer.port)/api/2.5", token: "auction", timeout: .seconds(1), retryBudget: .zero))
        let started = ContinuousClock.now
        #expect(throws: TenderAPIError.self) { try client.tender(.tenders, id: "slow") }
        #expect(ContinuousClock.now - started < .seconds(4), "cut after \(ContinuousClock.now - started)")
    }
}
