import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import CryptoPrimitives
import Foundation
import RedisClient
import Testing

/// Redis + tender-sandbox + auctiond, all real processes, with the sandbox's demo fixtures made
/// quick (`accelerator=100`: a two-bidder tender runs in about 13 s).
final class TenderWorld: @unchecked Sendable {
    let redis: RedisServer
    let sandbox: SandboxProcess
    let daemon: AuctiondProcess

    /// - Parameter documentService: the audit document goes through the sandbox's document service.
    init(feed: Bool = true, documentService: Bool = false) throws {
        redis = try RedisServer()
        sandbox = try SandboxProcess()
        var environment = [
            "AUCTIOND_API_URL": sandbox.apiURL, "AUCTIOND_FEED": feed ? "on" : "off",
            "AUCTIOND_FEED_INTERVAL_MILLISECONDS": "200", "AUCTIOND_SYNC_INTERVAL_MILLISECONDS": "100",
            "AUCTIOND_API_RETRY_SECONDS": "1", "AUCTIOND_API_TIMEOUT_SECONDS": "2",
        ]
        if documentService {
            environment["AUCTIOND_AUDIT_UPLOAD"] = "documentService"
            environment["AUCTIOND_DOCUMENT_SERVICE_URL"] = sandbox.documentServiceURL
            environment["AUCTIOND_DOCUMENT_SERVICE_USER"] = "broker"
            environment["AUCTIOND_DOCUMENT_SERVICE_PASSWORD"] = "broker"
        }
        daemon = try AuctiondProcess(redisURL: redis.url, environment: environment)
    }

    /// A fixture of `Config/sandbox`, starting `seconds` from now, quick.
    static func fixture(_ path: String, startIn seconds: Int) throws -> [String: Any] {
        var document = try sandboxFixture(path)
        document["procurementMethodDetails"] = "quick, accelerator=100"
        if var period = document["auctionPeriod"] as? [String: Any] {
            period["startDate"] = "now+\(seconds)s"
            document["auctionPeriod"] = period
        }
        if let lots = document["lots"] as? [[String: Any]] {
            document["lots"] = lots.map { lot -> [String: Any] in
                var changed = lot
                changed["auctionPeriod"] = ["startDate": "now+\(seconds)s"]
                return changed
            }
        }
        return document
    }

    /// The bidders of one auction, from the links the service wrote into the sandbox.
    func bidders(resource: String, tenderId: String, lotId: String? = nil) throws -> [ScriptedBidder] {
        var found: [ScriptedBidder] = []
        guard
            waitUntil(
                timeout: .seconds(15),
                {
                    guard let view = sandbox.auctionView(resource, tenderId) else { return false }
                    found = (try? ScriptedBidder.bidders(inAuctionView: view, lotId: lotId)) ?? []
                    return found.count >= 2
                })
        else { throw LiveTestError(description: "no links for \(tenderId) \(lotId ?? ""):\n\(daemon.log.suffix(3000))") }
        return found
    }

    /// Runs every bidder on its own thread; returns the errors they ended with.
    static func run(_ bidders: [ScriptedBidder], untilLastTurn: Bool = false) -> [String] {
        let errors = Collected<String>()
        let group = DispatchGroup()
        for bidder in bidders {
            group.enter()
            Thread {
                do { try bidder.run(timeout: .seconds(90), untilLastTurn: untilLastTurn) } catch { errors.append("\(error)") }
                group.leave()
            }.start()
        }
        group.wait()
        return errors.all
    }

    /// Puts `tender` into the sandbox and plans it through the admin route (not the feed); returns
    /// its id once the links are written.
    func planOnRequest(_ tender: [String: Any]) throws -> String {
        try sandbox.put(tender)
        let id = tender["id"] as? String ?? ""
        let planned = blockingHTTP(
            "POST", port: daemon.port, path: "/api/v1/auctions/\(id)/plan",
            headers: ["Authorization": "Bearer \(AuctiondProcess.adminToken)"])
        guard planned?.status == 200 else {
            throw LiveTestError(description: "plan route answered \(planned?.status ?? 0): \(planned?.body ?? "")")
        }
        guard waitUntil({ sandbox.requests().contains { $0.method == "PATCH" && $0.status == 200 } }) else {
            throw LiveTestError(description: "no links for \(id):\n\(daemon.log.suffix(3000))")
        }
        return id
    }

    /// POSTs of results the sandbox answered, by status.
    func resultPosts(_ path: String) -> [Int] {
        sandbox.requests().filter { $0.method == "POST" && $0.path == path }.map(\.status)
    }

    func publicState(_ auctionId: String) -> [String: Any]? {
        daemon.get("/api/v1/auctions/\(auctionId)").flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any]
        }?["data"] as? [String: Any]
    }

    func waitForStatus(_ auctionId: String, _ status: String, timeout: Duration = .seconds(60)) -> Bool {
        waitUntil(timeout: timeout) { publicState(auctionId)?["status"] as? String == status }
    }
}

@Suite(.serialized) struct TenderAPIEndToEndTests {
    @Test func lowestCostHighestCostMEATAndTwoLotAuctionsRunToTheEndThroughTheFeed() throws {
        let world = try TenderWorld()
        let twoStage = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 5)
        let dgf = try TenderWorld.fixture("auctions/dgf-other-assets.json", startIn: 5)
        let meat = try TenderWorld.fixture("tenders/meat.json", startIn: 5)
        let lots = try TenderWorld.fixture("tenders/two-lots.json", startIn: 5)
        var reporting = try sandboxFixture("tenders/reporting.json")
        reporting["status"] = "active.auction"  // even there, a limited procedure gets no auction
        for document in [twoStage, meat, lots, reporting] { try world.sandbox.put(document) }
        try world.sandbox.put(dgf, in: "auctions")

        let lotIds = (lots["lots"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        let tenderId = { (document: [String: Any]) in document["id"] as? String ?? "" }
        var bidders = try world.bidders(resource: "tenders", tenderId: tenderId(twoStage))
        bidders += try world.bidders(resource: "auctions", tenderId: tenderId(dgf))
        bidders += try world.bidders(resource: "tenders", tenderId: tenderId(meat))
        for lot in lotIds { bidders += try world.bidders(resource: "tenders", tenderId: tenderId(lots), lotId: lot) }
        #expect(bidders.count == 10)
        let errors = TenderWorld.run(bidders)
        #expect(errors.isEmpty, "\(errors)")
        for bidder in bidders {
            #expect(
                bidder.accepted.count == 3,
                "\(bidder.auctionId) bidder \(bidder.number ?? 0): \(bidder.accepted) rejected \(bidder.rejections)")
        }

        // The sandbox holds the final prices: each bidder improved by one step in each of 3 rounds.
        func amounts(_ resource: String, _ id: String, lot: String? = nil) -> [String: Double] {
            var result: [String: Double] = [:]
            for bid in world.sandbox.tender(resource, id)?["bids"] as? [[String: Any]] ?? [] {
                let offer = lot.map { l in (bid["lotValues"] as? [[String: Any]])?.first { $0["relatedLot"] as? String == l } } ?? bid
                result[bid["id"] as? String ?? ""] = ((offer?["value"] as? [String: Any])?["amount"] as? NSNumber)?.doubleValue
            }
            return result
        }
        let twoStageId = tenderId(twoStage)
        let dgfId = tenderId(dgf)
        let meatId = tenderId(meat)
        let lotsId = tenderId(lots)
        #expect(
            waitUntil(timeout: .seconds(30)) { world.sandbox.tender("tenders", lotsId)?["status"] as? String == "active.qualification" })
        let twoStageFinal = world.sandbox.tender("tenders", twoStageId)
        #expect(twoStageFinal?["status"] as? String == "active.qualification")
        #expect(Set(amounts("tenders", twoStageId).values) == [370, 375, 490], "the unsuccessful bid keeps its price")
        let awards = twoStageFinal?["awards"] as? [[String: Any]] ?? []
        #expect(awards.map { $0["bid_id"] as? String } == ["64c6b855beba4212a4e8434cec225ff3"], "the lowest price wins")
        #expect(awards.first?["status"] as? String == "pending")

        let dgfFinal = world.sandbox.tender("auctions", dgfId)
        #expect(dgfFinal?["status"] as? String == "active.qualification")
        #expect(Set(amounts("auctions", dgfId).values) == [225, 240.5, 150], "the draft bid keeps its price")
        let dgfAwards = dgfFinal?["awards"] as? [[String: Any]] ?? []
        #expect(dgfAwards.first?["status"] as? String == "pending.verification", "the highest bid is the first candidate")
        #expect((dgfAwards.first?["value"] as? [String: Any])?["amount"] as? Double == 240.5)

        #expect(Set(amounts("tenders", meatId).values) == [970, 770, 490])
        // MEAT: 970 with coefficient 9/7 is 754.44 weighted, better than 770 without non-price criteria.
        let meatAwards = world.sandbox.tender("tenders", meatId)?["awards"] as? [[String: Any]] ?? []
        #expect(meatAwards.map { ($0["value"] as? [String: Any])?["amount"] as? Double } == [970])
        for lot in lotIds {
            let lotAmounts = amounts("tenders", lotsId, lot: lot)
            #expect(Set(lotAmounts.values) == (lot == lotIds[0] ? [375, 365] : [285, 275]), "lot \(lot)")
        }

        // Each report was accepted exactly once, and every page shows the names at the end.
        let auctions =
            ["tenders/\(twoStageId)/auction", "auctions/\(dgfId)/auction", "tenders/\(meatId)/auction"]
            + lotIds.map { "tenders/\(lotsId)/auction/\($0)" }
        for path in auctions { #expect(world.resultPosts("/api/2.5/" + path) == [200], "\(path)") }
        for id in [twoStageId, dgfId, meatId] + lotIds.map({ "\(lotsId)_\($0)" }) {
            #expect(world.waitForStatus(id, "announced", timeout: .seconds(15)), "\(id)")
            let names = (world.publicState(id)?["bidders"] as? [[String: Any]] ?? []).map { $0["name"] as? String }
            #expect(!names.isEmpty && names.allSatisfy { $0 != nil }, "\(id): \(names)")
        }

        // Each auction's audit document is on its tender once, in its last version (with the
        // names), verifies on its own, and ends at the head the page shows.
        let documentOf: [(resource: String, tender: String, auction: String)] =
            [("tenders", twoStageId, twoStageId), ("auctions", dgfId, dgfId), ("tenders", meatId, meatId)]
            + lotIds.map { ("tenders", lotsId, "\(lotsId)_\($0)") }
        for (resource, tender, auction) in documentOf {
            let title = "audit_\(auction).yaml"
            var entries: [[String: Any]] = []
            var document: AuditDocument?
            let attached = waitUntil(timeout: .seconds(20)) {
                entries = (world.sandbox.tender(resource, tender)?["documents"] as? [[String: Any]] ?? []).filter {
                    $0["title"] as? String == title
                }
                guard entries.count == 1, let url = entries[0]["url"] as? String,
                    let path = url.split(separator: ":").last.map(String.init),
                    let body = blockingHTTP("GET", port: world.sandbox.port, path: String(path.drop { $0 != "/" }))?.body,
                    let read = try? AuditDocument(yaml: body)
                else { return false }
                document = read
                return read.status == "announced"
            }
            #expect(attached, "\(auction): \(entries)")
            guard let document else { continue }
            #expect(entries.count == 1, "one document per auction, replaced, never a second")
            #expect(throws: Never.self) { try document.verify() }
            #expect(document.chainHead == world.publicState(auction)?["chainHead"] as? String)
            #expect(document.names?.count == document.initialBids.count)
        }

        // The reporting tender was refused with a reason and never scheduled.
        let reportingId = tenderId(reporting)
        #expect(world.daemon.get("/api/v1/auctions/\(reportingId)")?.status == 404)
        #expect(world.daemon.log.contains("is a limited procedure: it never has an auction"))
        #expect(world.sandbox.requests().allSatisfy { !$0.path.contains("\(reportingId)/auction") })
    }

    /// `auditUpload: documentService` (`002`): the audit document is uploaded to the document
    /// service and given to the tender by its url and md5; the tender's link serves bytes of that
    /// hash, and they verify.
    @Test func theAuditDocumentGoesThroughTheDocumentServiceWhenConfigured() throws {
        let world = try TenderWorld(feed: false, documentService: true)
        let id = try world.planOnRequest(TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 3))
        // The service's own route serves the same document, once the auction has ended.
        func auditRoute(_ auction: String) -> (status: Int, body: String)? { world.daemon.get("/api/v1/auctions/\(auction)/audit") }
        #expect(auditRoute(id)?.status == 409)
        #expect(auditRoute(id)?.body.contains("not_ended") == true)
        #expect(auditRoute("no-such-auction")?.status == 404)
        let errors = TenderWorld.run(try world.bidders(resource: "tenders", tenderId: id))
        #expect(errors.isEmpty, "\(errors)")
        var entries: [[String: Any]] = []
        var document: AuditDocument?
        let attached = waitUntil(timeout: .seconds(40)) {
            entries = (world.sandbox.tender("tenders", id)?["documents"] as? [[String: Any]] ?? []).filter {
                $0["title"] as? String == "audit_\(id).yaml"
            }
            guard entries.count == 1, let url = (entries[0]["url"] as? String).flatMap(URLComponents.init(string:)),
                url.path.hasPrefix("/get/"),
                let body = blockingHTTP(
                    "GET", port: world.sandbox.port, path: url.percentEncodedPath + "?" + (url.percentEncodedQuery ?? ""))?
                    .body,
                entries[0]["hash"] as? String == "md5:" + MD5.hex(Array(body.utf8)),
                let read = try? AuditDocument(yaml: body)
            else { return false }
            document = read
            return read.status == "announced"
        }
        #expect(attached, "\(entries)\n\(world.daemon.log.suffix(2000))")
        #expect(throws: Never.self) { try document?.verify() }
        #expect(document?.chainHead == world.publicState(id)?["chainHead"] as? String)
        let uploads = world.sandbox.requests().filter { $0.method == "POST" && $0.path == "/upload" }
        #expect(!uploads.isEmpty && uploads.allSatisfy { $0.status == 200 })
        #expect(!world.sandbox.requests().contains { $0.path.hasSuffix("/documents") && $0.status >= 400 })

        let served = auditRoute(id)
        #expect(served?.status == 200)
        let fromRoute = served.flatMap { try? AuditDocument(yaml: $0.body) }
        #expect(fromRoute?.chainHead == document?.chainHead)
        #expect(throws: Never.self) { try fromRoute?.verify() }
        // An event edited in Redis: the route names the broken record, never serves it as whole.
        let store = AuctionStore(endpoint: world.redis.endpoint)
        var edited = try store.record(of: id).entries
        let bid = try #require(edited.firstIndex { $0.type == "bidAccepted" })
        let amount = try #require(edited[bid].fields.firstIndex { $0.name == "amount" })
        edited[bid].fields[amount].value = "1"
        let redis = try world.redis.connect()
        try redis.execute("DEL", AuctionKeys(id).log)
        for entry in edited {
            try redis.execute(["XADD", AuctionKeys(id).log, "0-\(entry.seq)"] + entry.fields.flatMap { [$0.name, $0.value] })
        }
        let broken = auditRoute(id)
        #expect(broken?.status == 500)
        #expect(broken?.body.contains("record_broken") == true)
        #expect(broken?.body.contains("event \(edited[bid].seq) (bidAccepted) does not match") == true, "\(broken?.body ?? "")")
    }

    @Test func resultsPostedDuringAnAPIOutageArriveOnceItIsBack() throws {
        let world = try TenderWorld()
        let tender = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 2)
        try world.sandbox.put(tender)
        let id = tender["id"] as? String ?? ""
        #expect(world.waitForStatus(id, "active", timeout: .seconds(15)))
        world.sandbox.stop()
        // The last turn ends while the API is down: the report waits in Redis and is retried.
        #expect(waitUntil(timeout: .seconds(30)) { world.daemon.log.contains("results report queued") })
        #expect(waitUntil(timeout: .seconds(10)) { world.daemon.log.contains("results not posted yet") })
        try world.sandbox.restart()
        world.sandbox.fault(count: 2, status: 503)
        #expect(world.waitForStatus(id, "announced", timeout: .seconds(30)), "\(world.daemon.log.suffix(3000))")
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction").filter { $0 == 200 } == [200])
        #expect(world.sandbox.tender("tenders", id)?["status"] as? String == "active.qualification")
    }

    @Test func aRestartDuringTheReportStillPostsOnce() throws {
        let world = try TenderWorld(feed: false)
        let id = try world.planOnRequest(TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 3))
        // The next request is the report: the sandbox takes it but answers late, and the service
        // dies before it hears the answer.
        world.sandbox.fault(count: 1, delayMilliseconds: 4000)
        #expect(waitUntil(timeout: .seconds(30)) { world.resultPosts("/api/2.5/tenders/\(id)/auction") == [200] })
        world.daemon.kill9()
        try world.daemon.restart()
        // The restarted service posts again, is refused (403: the tender has moved on), finds its
        // results on the tender and counts the report done.
        #expect(world.waitForStatus(id, "announced", timeout: .seconds(30)), "\(world.daemon.log.suffix(3000))")
        #expect(world.resultPosts("/api/2.5/tenders/\(id)/auction") == [200, 403])
        #expect(world.daemon.log.contains("results already on the tender"))
    }

    @Test func theFeedMovesAStartAndCancelsALeavingTender() throws {
        let world = try TenderWorld()
        var tender = try TenderWorld.fixture("tenders/twostage-lowestcost.json", startIn: 60)
        try world.sandbox.put(tender)
        let id = tender["id"] as? String ?? ""
        #expect(world.daemon.waitForAuction(id))
        let firstStart = ((world.publicState(id)?["stages"] as? [[String: Any]])?.first?["start"] as? NSNumber)?.int64Value ?? 0

        tender["auctionPeriod"] = ["startDate": "now+120s"]
        try world.sandbox.put(tender)
        #expect(
            waitUntil(timeout: .seconds(10)) {
                let start = ((world.publicState(id)?["stages"] as? [[String: Any]])?.first?["start"] as? NSNumber)?.int64Value ?? 0
                return start > firstStart + 50_000
            })
        #expect(world.publicState(id)?["status"] as? String == "scheduled")
        #expect(world.sandbox.requests().filter { $0.method == "PATCH" }.count == 1, "the links stay the same")

        tender["status"] = "cancelled"
        try world.sandbox.put(tender)
        #expect(world.waitForStatus(id, "cancelled", timeout: .seconds(10)))
    }

    @Test func thePlanRouteAndCommandNameEveryRefusal() throws {
        let world = try TenderWorld(feed: false)
        func plan(_ id: String) -> (status: Int, body: String)? {
            blockingHTTP(
                "POST", port: world.daemon.port, path: "/api/v1/auctions/\(id)/plan",
                headers: ["Authorization": "Bearer \(AuctiondProcess.adminToken)"])
        }
        var reporting = try sandboxFixture("tenders/reporting.json")
        reporting["status"] = "active.auction"
        try world.sandbox.put(reporting)
        let refused = plan(reporting["id"] as? String ?? "")
        #expect(refused?.status == 422 && refused?.body.contains("not_auctionable") == true, "\(refused?.body ?? "")")
        var early = try TenderWorld.fixture("tenders/meat.json", startIn: 600)
        early["status"] = "active.tendering"
        try world.sandbox.put(early)
        let tooEarly = plan(early["id"] as? String ?? "")
        #expect(tooEarly?.status == 409 && tooEarly?.body.contains("not_in_auction") == true, "\(tooEarly?.body ?? "")")
        let unknown = plan("0123456789abcdef")
        #expect(unknown?.status == 404 && unknown?.body.contains("not_found") == true, "\(unknown?.body ?? "")")

        // `auctiond plan` plans a tender from the command line; a running auctiond takes it over.
        let dgf = try TenderWorld.fixture("auctions/dgf-other-assets.json", startIn: 600)
        try world.sandbox.put(dgf, in: "auctions")
        let (status, printed) = try runProgram(
            builtProduct("auctiond"), ["plan", dgf["id"] as? String ?? ""],
            environment: ProcessInfo.processInfo.environment.merging([
                "AUCTIOND_REDIS_URL": world.redis.url, "AUCTIOND_API_URL": world.sandbox.apiURL,
                "AUCTIOND_HASH_SECRETS": AuctiondProcess.hashSecret,
            ]) { $1 })
        #expect(status == 0, "\(printed)")
        #expect(printed.contains("planned"), "\(printed)")
        #expect(world.daemon.waitForAuction(dgf["id"] as? String ?? ""))

        world.sandbox.stop()
        let down = plan(early["id"] as? String ?? "")
        #expect(down?.status == 503 && down?.body.contains("tender_api_unavailable") == true, "\(down?.body ?? "")")
    }
}
