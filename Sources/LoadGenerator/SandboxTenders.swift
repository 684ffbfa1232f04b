// Puts the profile's auctions into the tender sandbox and waits for the service to plan them: the
// load test joins through the same links a real bidder gets from the API.
import AuctionTesting
import Foundation

/// One auction of the run, as the load test knows it from the API.
public struct PlannedAuction: Sendable {
    public let resource: String
    public let tenderId: String
    /// The public page, `auctionUrl`.
    public let auctionURL: String
    public let bidders: [PlannedBidder]
    public let stepKopiyky: Int64
    public let rising: Bool

    public var auctionId: String { tenderId }
}

public struct PlannedBidder: Sendable {
    public let bidId: String
    public let participationURL: String
    public let initialKopiyky: Int64
}

/// The sandbox's HTTP API (loopback).
public struct SandboxTenders: Sendable {
    public let port: Int
    public let token: String
    public let fixtures: String

    public init(apiURL: String, token: String, fixtures: String) throws {
        guard let url = URLComponents(string: apiURL), let port = url.port, url.host == "127.0.0.1" || url.host == "localhost" else {
            throw LoadTestError("--api must be http://127.0.0.1:PORT/api/2.5 (the sandbox on this host), got '\(apiURL)'")
        }
        self.port = port
        self.token = token
        self.fixtures = fixtures
    }

    var basic: String { "Basic " + Data("\(token):".utf8).base64EncodedString() }

    /// Creates the profile's tenders from the fixture of its kind, `run` keeping the ids unique.
    public func create(_ profile: Profile, run: String) throws -> [String] {
        let file = profile.resource == "auctions" ? "auctions/dgf-other-assets.json" : "tenders/twostage-lowestcost.json"
        guard let data = FileManager.default.contents(atPath: "\(fixtures)/\(file)"),
            let template = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"] as? [String: Any],
            let templateBid = (template["bids"] as? [[String: Any]])?.first
        else { throw LoadTestError("cannot read the sandbox fixture \(fixtures)/\(file)") }
        let rising = template["awardCriteria"] as? String == "highestCost"
        let value = (template["value"] as? [String: Any])?["amount"] as? Double ?? 500
        var ids: [String] = []
        for index in 0..<profile.auctions {
            let id = Self.hexId(run: run, index: index)
            var tender = template
            tender["id"] = id
            tender["tenderID"] = "UA-LOAD-\(run)-\(index)"
            tender["title"] = "Навантажувальний тест \(index)"
            tender["title_en"] = "Load test \(index)"
            tender["procurementMethodDetails"] = "quick, accelerator=\(profile.accelerator)"
            let offset = profile.startSpreadSeconds * Double(index) / Double(max(profile.auctions, 1))
            var period = tender["auctionPeriod"] as? [String: Any] ?? [:]
            period["startDate"] = "now+\(profile.startAfterSeconds + Int(offset.rounded()))s"
            tender["auctionPeriod"] = period
            var bids: [[String: Any]] = []
            for number in 0..<profile.biddersPerAuction {
                var bid = templateBid
                bid["id"] = Self.hexId(run: run, index: index * 100 + number, kind: "b1d")
                bid["documents"] = nil
                // Distinct starting prices; below the value for lowestCost, above it for DGF.
                let amount = rising ? value + 20 + Double(number) * 5 : value - 20 - Double(number) * 5
                bid["value"] = ["amount": amount, "currency": "UAH", "valueAddedTaxIncluded": true]
                var tenderers = bid["tenderers"] as? [[String: Any]] ?? [[:]]
                tenderers[0]["name"] = "Учасник навантаження \(number + 1)"
                bid["tenderers"] = tenderers
                bids.append(bid)
            }
            tender["bids"] = bids
            tender["numberOfBids"] = bids.count
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["data": tender]), as: UTF8.self)
            guard
                let answer = blockingHTTP(
                    "POST", port: port, path: "/sandbox/\(profile.resource)", headers: ["Content-Type": "application/json"], body: body),
                answer.status == 201
            else { throw LoadTestError("the sandbox refused tender \(index) of \(profile.auctions)") }
            ids.append(id)
        }
        return ids
    }

    /// Waits until the service has written every link of every tender, reading the private views.
    public func waitForLinks(resource: String, tenderIds: [String], bidders: Int, timeout: Duration) throws -> [PlannedAuction] {
        let deadline = ContinuousClock.now + timeout
        var planned: [String: PlannedAuction] = [:]
        while planned.count < tenderIds.count {
            for id in tenderIds where planned[id] == nil {
                if let auction = try? plannedAuction(resource: resource, tenderId: id), auction.bidders.count == bidders {
                    planned[id] = auction
                }
            }
            if planned.count == tenderIds.count { break }
            guard ContinuousClock.now < deadline else {
                throw LoadTestError(
                    "only \(planned.count) of \(tenderIds.count) auctions got their links in time: is auctiond following the sandbox's feed?"
                )
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return tenderIds.compactMap { planned[$0] }
    }

    func plannedAuction(resource: String, tenderId: String) throws -> PlannedAuction? {
        guard let view = try privateView(resource: resource, tenderId: tenderId), let url = view["auctionUrl"] as? String else {
            return nil
        }
        let step = ScriptedBidder.kopiyky(jsonAmount: (view["minimalStep"] as? [String: Any])?["amount"])
        var bidders: [PlannedBidder] = []
        for bid in view["bids"] as? [[String: Any]] ?? [] {
            guard let link = bid["participationUrl"] as? String, let id = bid["id"] as? String else { return nil }
            bidders.append(
                PlannedBidder(
                    bidId: id, participationURL: link,
                    initialKopiyky: ScriptedBidder.kopiyky(jsonAmount: (bid["value"] as? [String: Any])?["amount"])))
        }
        return PlannedAuction(
            resource: resource, tenderId: tenderId, auctionURL: url, bidders: bidders, stepKopiyky: step,
            rising: view["awardCriteria"] as? String == "highestCost")
    }

    /// `GET …/{id}`: the public tender, whose bids show their prices once the auction is over (the
    /// private view is refused then, as the real API refuses it).
    public func publicTender(resource: String, tenderId: String) -> [String: Any]? {
        guard let answer = blockingHTTP("GET", port: port, path: "/api/2.5/\(resource)/\(tenderId)"), answer.status == 200 else {
            return nil
        }
        return (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
    }

    /// `GET …/{id}/auction` with the service's token: bids with their links and prices, while the
    /// tender is in `active.auction` (403 after, as the real API).
    public func privateView(resource: String, tenderId: String) throws -> [String: Any]? {
        guard
            let answer = blockingHTTP(
                "GET", port: port, path: "/api/2.5/\(resource)/\(tenderId)/auction", headers: ["Authorization": basic]),
            answer.status == 200
        else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
    }

    /// The tender's status (`active.auction` until the results arrive).
    public func status(resource: String, tenderId: String) -> String? {
        guard let answer = blockingHTTP("GET", port: port, path: "/api/2.5/\(resource)/\(tenderId)"), answer.status == 200 else {
            return nil
        }
        return ((try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["data"] as? [String: Any])?["status"]
            as? String
    }

    /// How many results POSTs the sandbox accepted for each tender (from its request log).
    public func acceptedResultPosts() -> [String: Int] {
        guard let answer = blockingHTTP("GET", port: port, path: "/sandbox/requests"), answer.status == 200,
            let entries = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [[String: Any]]
                ?? (((try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any])?["data"] as? [[String: Any]])
        else { return [:] }
        var counts: [String: Int] = [:]
        for entry in entries where entry["method"] as? String == "POST" && entry["status"] as? Int == 200 {
            guard let path = entry["path"] as? String else { continue }
            let parts = path.split(separator: "/")
            if let index = parts.firstIndex(where: { $0 == "tenders" || $0 == "auctions" }), parts.count > index + 1 {
                counts[String(parts[index + 1]), default: 0] += 1
            }
        }
        return counts
    }

    /// 32 hex characters, as the API's ids: a kind prefix, the run, the index.
    static func hexId(run: String, index: Int, kind: String = "10ad") -> String {
        let body = kind + run + String(format: "%012x", index)
        return String(body.prefix(32)).padding(toLength: 32, withPad: "0", startingAt: 0)
    }
}
