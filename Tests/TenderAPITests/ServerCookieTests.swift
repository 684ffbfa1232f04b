import AuctionCore
import AuctionTesting
import Foundation
import TenderAPI
import Testing

@Suite struct ServerCookieTests {
    @Test func aWriteRefusedWith412IsSentAgainWithTheServerCookie() throws {
        let sandbox = try SandboxProcess(arguments: ["--require-server-cookie"])
        let client = TenderAPIClient(
            settings: TenderAPISettings(baseURL: sandbox.apiURL, token: SandboxProcess.token, retryBudget: .seconds(3)))
        var document = sampleTender(id: "t-cookie", start: Timestamp(milliseconds: 1_795_000_000_000))
        document["status"] = "active.auction"
        try sandbox.put(document)
        let links = try JSONSerialization.data(withJSONObject: [
            "data": [
                "auctionUrl": "http://a/tenders/t-cookie",
                "bids": [["id": "t-cookie-bid1"], ["id": "t-cookie-bid2"], ["id": "t-cookie-bid3"]],
            ]
        ])
        let patched = try client.patchAuction(.tenders, id: "t-cookie", lotId: nil, body: links)
        #expect(patched.auctionUrl == "http://a/tenders/t-cookie")
        #expect(sandbox.requests().filter { $0.method == "PATCH" }.map(\.status) == [412, 200])
    }
}
