import AuctionCore
import AuctionTesting
import CryptoPrimitives
import Foundation
import TenderAPI
import Testing

/// The client against a real tender-sandbox process: the API's answers, errors and faults.
@Suite(.serialized) struct TenderAPIClientTests {
    let sandbox: SandboxProcess
    let client: TenderAPIClient

    init() throws {
        sandbox = try SandboxProcess()
        client = TenderAPIClient(
            settings: TenderAPISettings(
                baseURL: sandbox.apiURL, token: SandboxProcess.token, timeout: .seconds(2), retryBudget: .seconds(3),
                firstBackoff: .milliseconds(20)))
    }

    private func putTender(_ id: String, status: String = "active.auction") throws {
        var document = sampleTender(id: id, start: Timestamp(milliseconds: 1_795_000_000_000))
        document["status"] = status
        try sandbox.put(document)
    }

    private func body(_ bids: [[String: Any]]) throws -> Data {
        try JSONSerialization.data(withJSONObject: ["data": ["bids": bids]])
    }

    @Test func readsThePublicDocumentAndThePrivateView() throws {
        try putTender("t-read")
        let tender = try client.tender(.tenders, id: "t-read")
        #expect(tender.status == "active.auction")
        #expect(tender.bids?.allSatisfy { $0.value == nil } == true, "bid values are hidden in active.auction")
        let view = try client.auctionView(.tenders, id: "t-read")
        #expect(view.bids?.map { $0.value?.amount } == [900, 950, 980])
    }

    /// The documents of a tender (`001` "Uploading documentation"): a file attached by multipart
    /// POST, a new version put in its place by PUT (one document still), refused as the real API
    /// refuses it outside the auction's statuses.
    @Test func aDocumentIsAttachedReplacedAndRefusedOutsideTheAuction() throws {
        try putTender("t-docs")
        let first = try client.uploadDocument(
            .tenders, id: "t-docs", fileName: "audit_t-docs.yaml", contentType: "application/yaml", contents: Array("first: 1\n".utf8))
        #expect(first.title == "audit_t-docs.yaml")
        #expect(first.format == "application/yaml")
        #expect(first.hash == "md5:" + MD5.hex(Array("first: 1\n".utf8)))
        func download(_ file: TenderFile) -> String? {
            guard let url = file.url, let path = url.split(separator: ":").last.map({ String($0.drop { $0 != "/" }) }) else { return nil }
            return blockingHTTP("GET", port: sandbox.port, path: path)?.body
        }
        #expect(download(first) == "first: 1\n")
        let second = try client.uploadDocument(
            .tenders, id: "t-docs", replacing: first.id, fileName: "audit_t-docs.yaml", contentType: "application/yaml",
            contents: Array("second: 2\n".utf8))
        #expect(second.id == first.id)
        #expect(try client.documents(.tenders, id: "t-docs").map(\.id) == [first.id], "replaced, not added")
        #expect(download(second) == "second: 2\n")
        #expect(sandbox.requests().filter { $0.path.hasSuffix("/documents") || $0.path.hasSuffix(first.id) }.map(\.status).contains(200))

        try putTender("t-docs", status: "complete")
        #expect {
            try client.uploadDocument(.tenders, id: "t-docs", fileName: "late.yaml", contentType: "application/yaml", contents: [])
        } throws: { error in
            guard case TenderAPIError.rejected(403, let errors) = error else { return false }
            return errors.first?.description == "Can't add document in current (complete) tender status"
        }
    }

    /// The document service's way (`002` "Documents Uploading"): the file uploaded to the service,
    /// then given to the API by its signed url and md5 hash; a new version put in its place; what
    /// the real API and service refuse, refused by name.
    @Test func aFileFromTheDocumentServiceIsAttachedByReference() throws {
        try putTender("t-ds")
        let service = DocumentServiceClient(
            baseURL: sandbox.documentServiceURL, user: "broker", password: "broker", settings: client.settings)
        let bytes = Array("first: 1\n".utf8)
        let stored = try service.upload(fileName: "audit_t-ds.yaml", contentType: "application/yaml", contents: bytes)
        #expect(stored.hash == "md5:" + MD5.hex(bytes))
        #expect(stored.title == "audit_t-ds.yaml")
        #expect(stored.format == "application/yaml")
        func download(_ url: String?) -> String? {
            guard let url, let parts = URLComponents(string: url) else { return nil }
            return blockingHTTP("GET", port: sandbox.port, path: parts.percentEncodedPath + "?" + (parts.percentEncodedQuery ?? ""))?.body
        }
        #expect(download(stored.url) == "first: 1\n")

        let attached = try client.attachDocument(.tenders, id: "t-ds", stored)
        #expect(attached.url == stored.url)
        #expect(attached.hash == stored.hash)
        #expect(attached.title == "audit_t-ds.yaml")
        let newer = try service.upload(fileName: "audit_t-ds.yaml", contentType: "application/yaml", contents: Array("second: 2\n".utf8))
        let replaced = try client.attachDocument(.tenders, id: "t-ds", replacing: attached.id, newer)
        #expect(replaced.id == attached.id)
        let listed = try client.documents(.tenders, id: "t-ds")
        #expect(listed.map(\.id) == [attached.id], "replaced, not added")
        #expect(download(listed.first?.url) == "second: 2\n")

        var forgedHash = stored
        forgedHash.hash = "md5:" + MD5.hex(Array("something else".utf8))
        #expect(
            apiError { try client.attachDocument(.tenders, id: "t-ds", forgedHash) }?.description.contains(
                "Document url signature invalid.") == true)
        var elsewhere = stored
        elsewhere.url = "http://files.example.org/audit.yaml"
        let foreign = apiError { try client.attachDocument(.tenders, id: "t-ds", elsewhere) }
        #expect(foreign?.status == 403)
        #expect(foreign?.description.contains("Can add document only from document service.") == true)
        var untitled = stored
        untitled.title = ""
        #expect(
            apiError { try client.attachDocument(.tenders, id: "t-ds", untitled) }?.description
                == "the tender API answered 422: body.title: This field is required.")
        let stranger = DocumentServiceClient(
            baseURL: sandbox.documentServiceURL, user: "broker", password: "wrong", settings: client.settings)
        #expect(apiError { _ = try stranger.upload(fileName: "x", contentType: "text/plain", contents: [1]) }?.status == 403)
        var unsigned = URLComponents(string: stored.url)!
        unsigned.queryItems = [URLQueryItem(name: "KeyID", value: "sandbox"), URLQueryItem(name: "Signature", value: "00")]
        #expect(
            blockingHTTP("GET", port: sandbox.port, path: unsigned.percentEncodedPath + "?" + unsigned.percentEncodedQuery!)?.status == 403)

        try putTender("t-ds", status: "complete")
        let late = apiError { try client.attachDocument(.tenders, id: "t-ds", stored) }
        #expect(late?.status == 403)
        #expect(late?.description.contains("Can't add document in current (complete) tender status") == true)
    }

    @Test func unknownTenderIsATypedNotFound() throws {
        #expect(
            throws: TenderAPIError.rejected(
                status: 404, errors: [APIErrorEntry(location: "url", name: "tender_id", description: "Not Found")])
        ) {
            try client.tender(.tenders, id: "no-such-tender")
        }
    }

    /// The error `call` ended with, if it was the API's.
    private func apiError(_ call: () throws -> Void) -> TenderAPIError? {
        do { try call() } catch { return error as? TenderAPIError }
        return nil
    }

    @Test func theAPIsValidationMessagesComeBackAsTypedErrors() throws {
        try putTender("t-validate")
        let short = try body([["id": "t-validate-bid1"]])
        let tooShort = apiError { try client.postResults(.tenders, id: "t-validate", lotId: nil, body: short) }
        #expect(tooShort?.status == 422)
        #expect(tooShort?.description.contains("Number of auction results did not match the number of tender bids") == true)
        let foreign = try body([["id": "x"], ["id": "y"], ["id": "z"]])
        let strangers = apiError { try client.postResults(.tenders, id: "t-validate", lotId: nil, body: foreign) }
        #expect(strangers?.description.contains("Auction bids should be identical to the tender bids") == true)
        try putTender("t-early", status: "active.tendering")
        let early = try body([["id": "t-early-bid1"], ["id": "t-early-bid2"], ["id": "t-early-bid3"]])
        let tooEarly = apiError { try client.postResults(.tenders, id: "t-early", lotId: nil, body: early) }
        #expect(tooEarly?.status == 403)
        #expect(tooEarly?.description.contains("Can't report auction results in current (active.tendering) tender status") == true)
    }

    @Test func serverErrorsAndRateLimitsAreRetriedUntilAnswered() throws {
        try putTender("t-retry")
        sandbox.fault(count: 2, status: 503)
        #expect(try client.tender(.tenders, id: "t-retry").id == "t-retry")
        sandbox.fault(count: 1, status: 429)
        #expect(try client.tender(.tenders, id: "t-retry").id == "t-retry")
        let statuses = sandbox.requests().filter { $0.path.hasSuffix("/t-retry") }.map(\.status)
        #expect(statuses == [503, 503, 200, 429, 200])
    }

    @Test func serverErrorsBeyondTheBudgetEndAsUnavailable() throws {
        sandbox.fault(count: 1000, status: 502)
        defer { sandbox.fault(count: 0) }
        guard case .unavailable(let reason) = apiError({ _ = try client.tender(.tenders, id: "whatever") }) else {
            Issue.record("502s did not end as unavailable")
            return
        }
        #expect(reason.contains("502"))
    }

    @Test func garbageIsUndecodableAndNothingIsUnavailable() throws {
        sandbox.fault(count: 1, status: 200, body: "<html>surprise</html>")
        #expect {
            try client.tender(.tenders, id: "anything")
        } throws: { error in
            if case .undecodable = error as? TenderAPIError { return true }
            return false
        }
        let nobody = TenderAPIClient(
            settings: TenderAPISettings(
                baseURL: "http://127.0.0.1:\(freeLoopbackPort())/api/2.5", token: "auction", timeout: .seconds(1),
                retryBudget: .milliseconds(300)))
        #expect {
            try nobody.tender(.tenders, id: "anything")
        } throws: { error in
            if case .unavailable = error as? TenderAPIError { return true }
            return false
        }
    }

    /// As the real API: the private view and the auction calls exist only in `active.auction`.
    @Test func outsideActiveAuctionThePrivateViewAndAResultsPostAre403WithTheAPIsWords() throws {
        var document = sampleTender(id: "t-moved-on", start: Timestamp(milliseconds: 1_795_000_000_000))
        document["status"] = "active.qualification"
        try sandbox.put(document)
        #expect {
            try client.auctionView(.tenders, id: "t-moved-on")
        } throws: { error in
            guard case .rejected(403, let errors) = error as? TenderAPIError else { return false }
            return errors.first?.description == "Can't get auction info in current (active.qualification) tender status"
        }
        let body = try JSONSerialization.data(withJSONObject: [
            "data": ["bids": [["id": "t-moved-on-bid1"], ["id": "t-moved-on-bid2"], ["id": "t-moved-on-bid3"]]]
        ])
        #expect {
            try client.postResults(.tenders, id: "t-moved-on", lotId: nil, body: body)
        } throws: { error in
            guard case .rejected(403, let errors) = error as? TenderAPIError else { return false }
            return errors.first?.description == "Can't report auction results in current (active.qualification) tender status"
        }
        // The public document is still there for anyone.
        #expect(try client.tender(.tenders, id: "t-moved-on").status == "active.qualification")
    }

    @Test func theListPagesByOffset() throws {
        let first = try client.tenderList(.auctions, offset: nil)
        #expect(first.data.isEmpty)
        for index in 1...3 {
            var document = sampleTender(id: "dgf-\(index)", criteria: .highestCost, start: Timestamp(milliseconds: 1_795_000_000_000))
            document["status"] = "active.auction"
            try sandbox.put(document, in: "auctions")
        }
        let page = try client.tenderList(.auctions, offset: first.next_page?.offset)
        #expect(page.data.map(\.id) == ["dgf-1", "dgf-2", "dgf-3"])
        #expect(page.data.allSatisfy { $0.status == "active.auction" })
        let next = try client.tenderList(.auctions, offset: page.next_page?.offset)
        #expect(next.data.isEmpty)
        #expect(next.next_page?.offset == page.next_page?.offset)
    }
}
