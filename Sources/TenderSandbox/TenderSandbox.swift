// The local stand-in for the tender API (PROTOCOL.md "Running it", SPEC §5): what the seeds document
// of the calls the auction service makes, on the project's own HTTP layer. Requests are answered on
// the lws thread: every one is a few dictionary operations.
import AuctionCore
import CryptoPrimitives
import Foundation
import WebServer

/// The API version path the sandbox serves, as the real API's current major version.
public let sandboxAPIVersion = "2.5"

public struct SandboxSettings: Sendable {
    /// The auction service's token (HTTP Basic user name).
    public var token: String
    /// Where documents are saved so that a restarted sandbox keeps them; nil keeps them in memory.
    public var stateDirectory: String?
    /// Answer a write without the `SERVER_ID` cookie with 412 and the cookie, as the real API does.
    public var requireServerCookie: Bool
    /// HTTP Basic credentials of the document service it also plays (`/upload`, `/get/{id}`).
    public var documentServiceUser: String
    public var documentServicePassword: String

    public init(
        token: String = "auction", stateDirectory: String? = nil, requireServerCookie: Bool = false, documentServiceUser: String = "broker",
        documentServicePassword: String = "broker"
    ) {
        self.token = token
        self.stateDirectory = stateDirectory
        self.requireServerCookie = requireServerCookie
        self.documentServiceUser = documentServiceUser
        self.documentServicePassword = documentServicePassword
    }
}

public final class TenderSandbox: WebServerDelegate {
    let settings: SandboxSettings
    let documents: SandboxDocuments
    /// Faults a test asked for: the next `count` API requests are answered with `status`.
    private let faults = FaultQueue()
    static let serverCookie = "SERVER_ID=sandbox-1"

    public init(settings: SandboxSettings) throws {
        self.settings = settings
        documents = try SandboxDocuments(stateDirectory: settings.stateDirectory)
    }

    /// Loads `DIR/tenders/*.json` and `DIR/auctions/*.json`, each `{"data": <document>}`.
    /// A document already known (from the state folder) is left as it is.
    public func loadFixtures(from directory: String) throws -> Int {
        var count = 0
        for resource in sandboxResources {
            let folder = directory + "/" + resource
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for name in names.sorted() where name.hasSuffix(".json") {
                let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
                guard let body = try JSONSerialization.jsonObject(with: data) as? JSONObject, let document = body["data"] as? JSONObject
                else {
                    throw SandboxError("\(folder)/\(name): expected {\"data\": <document>}")
                }
                if let id = document["id"] as? String, documents.document(resource, id) != nil { continue }
                _ = try store(resource, document)
                count += 1
            }
        }
        return count
    }

    // MARK: - Routing

    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let fault = request.path.hasPrefix("/api/") ? faults.next() : nil
        let response: HTTPResponse
        if let fault, let status = fault.status {
            response =
                fault.body.map { HTTPResponse(status: status, contentType: "application/json", text: $0) }
                ?? Self.apiError(status, "body", "sandbox", "A fault the test asked for")
        } else {
            response = answer(request)
        }
        if request.path.hasPrefix("/api/") || Self.isDocumentServicePath(request.path) {
            documents.record(request.method.rawValue, request.path, response.status)
        }
        guard let delay = fault?.delayMilliseconds, delay > 0 else { return responder.respond(response) }
        // Done, but answered late: the caller may give up or die before it hears the answer.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) { responder.respond(response) }
    }

    private func answer(_ request: HTTPRequest) -> HTTPResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        if parts.first == "sandbox" { return sandboxRoute(request, Array(parts.dropFirst())) }
        if Self.isDocumentServicePath(request.path) { return documentServiceRoute(request, parts) }
        guard parts.count >= 3, parts[0] == "api", parts[1] == sandboxAPIVersion, sandboxResources.contains(parts[2]) else {
            return Self.apiError(404, "url", "name", "Not Found")
        }
        let resource = parts[2]
        let rest = Array(parts.dropFirst(3))
        switch (request.method, rest.count) {
        case (.get, 0): return list(resource, request)
        case (.get, 1): return publicDocument(resource, rest[0])
        case (.get, 2) where rest[1] == "auction":
            if let refusal = authorization(request) { return refusal }
            return privateView(resource, rest[0])
        case (.patch, 2...3) where rest[1] == "auction", (.post, 2...3) where rest[1] == "auction":
            if let refusal = authorization(request) { return refusal }
            if settings.requireServerCookie, !(request.headers["cookie"] ?? "").contains(Self.serverCookie) {
                var response = Self.apiError(412, "header", "Cookie", "Precondition Failed")
                response.headers.append(("set-cookie", Self.serverCookie + "; Path=/"))
                return response
            }
            guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? JSONObject,
                let data = body["data"] as? JSONObject
            else {
                return Self.apiError(422, "body", "data", "Data not available")
            }
            let lotId = rest.count == 3 ? rest[2] : nil
            return request.method == .patch
                ? patchLinks(resource, rest[0], lotId: lotId, data: data)
                : postResults(resource, rest[0], lotId: lotId, data: data)
        case (.get, 2) where rest[1] == "documents":
            guard let tender = documents.document(resource, rest[0]) else { return notFound(resource) }
            return Self.json(200, ["data": tender["documents"] as? [JSONObject] ?? []])
        case (.get, 3) where rest[1] == "documents":
            return tenderFile(resource, rest[0], rest[2], download: request.query.first { $0.name == "download" }?.value)
        case (.post, 2) where rest[1] == "documents", (.put, 3) where rest[1] == "documents":
            if let refusal = authorization(request) { return refusal }
            return upload(resource, rest[0], replacing: rest.count == 3 ? rest[2] : nil, request)
        default:
            return Self.apiError(405, "url", "method", "Method not allowed")
        }
    }

    // MARK: - Documents (`001` "Uploading documentation")

    /// `POST …/documents` attaches a file, either uploaded here (multipart, part `file`) or held by
    /// the document service (JSON `{"data": {url, hash, title, format}}`, the API's step of `002`
    /// "Documents Uploading"); `PUT …/documents/{id}` puts a new version in its place
    /// (same id, new `url` and `dateModified`). As the real API, the auction module may do so only
    /// while the auction runs or the tender is being qualified.
    private func upload(_ resource: String, _ id: String, replacing documentId: String?, _ request: HTTPRequest) -> HTTPResponse {
        let host = request.headers["host"] ?? "127.0.0.1"
        let contentType = request.headers["content-type"] ?? ""
        var entry: JSONObject
        // A file uploaded here is served from the document's own URL, once its id is known.
        var downloadKey: String?
        if contentType.lowercased().hasPrefix("application/json") {
            switch documentServiceFile(request.body) {
            case .file(let described): entry = described
            case .refused(let refusal): return refusal
            }
        } else {
            let file: MultipartForm.Part
            switch MultipartForm.file(in: request.body, contentType: contentType) {
            case .success(let part): file = part
            case .failure(let problem): return Self.apiError(problem == .noFile ? 404 : 422, "body", "file", problem.description)
            }
            // Stored before the document is looked at (the store takes the same lock); a refused
            // upload leaves bytes nothing links to.
            let key = Self.newIdentifier()
            documents.storeFile(key, file.bytes)
            downloadKey = key
            entry = ["title": file.fileName, "format": file.contentType, "hash": "md5:" + MD5.hex(file.bytes)]
        }
        return documents.withDocument(resource, id) { document -> HTTPResponse in
            guard var tender = document else { return notFound(resource) }
            let status = tender["status"] as? String ?? ""
            guard ["active.auction", "active.qualification", "active.awarded"].contains(status) else {
                let verb = documentId == nil ? "add" : "update"
                return Self.apiError(403, "body", "data", "Can't \(verb) document in current (\(status)) tender status")
            }
            var files = tender["documents"] as? [JSONObject] ?? []
            let existing = documentId.flatMap { wanted in files.lastIndex { ($0["id"] as? String) == wanted } }
            if documentId != nil, existing == nil { return Self.apiError(404, "url", "document_id", "Not Found") }
            let now = Timestamp.now.iso8601
            let newId = documentId ?? Self.newIdentifier()
            entry["id"] = newId
            if let downloadKey {
                entry["url"] = "http://\(host)/api/\(sandboxAPIVersion)/\(resource)/\(id)/documents/\(newId)?download=\(downloadKey)"
            }
            entry["documentOf"] = "tender"
            entry["datePublished"] = now
            entry["dateModified"] = now
            if let existing {
                entry["datePublished"] = files[existing]["datePublished"] ?? now
                files[existing] = entry
            } else {
                files.append(entry)
            }
            tender["documents"] = files
            document = tender
            var response = Self.json(documentId == nil ? 201 : 200, ["data": entry])
            response.headers.append(("location", "http://\(host)/api/\(sandboxAPIVersion)/\(resource)/\(id)/documents/\(newId)"))
            return response
        }
    }

    /// `GET …/documents/{id}`: the document's entry, or with `download` its bytes.
    private func tenderFile(_ resource: String, _ id: String, _ documentId: String, download: String?) -> HTTPResponse {
        guard let tender = documents.document(resource, id) else { return notFound(resource) }
        guard let entry = (tender["documents"] as? [JSONObject] ?? []).last(where: { ($0["id"] as? String) == documentId }) else {
            return Self.apiError(404, "url", "document_id", "Not Found")
        }
        guard let download else { return Self.json(200, ["data": entry]) }
        guard (entry["url"] as? String)?.hasSuffix("download=" + download) == true, let bytes = documents.file(download) else {
            return Self.apiError(404, "url", "download", "Not Found")
        }
        return HTTPResponse(status: 200, contentType: entry["format"] as? String ?? "application/octet-stream", body: bytes)
    }

    static func newIdentifier() -> String {
        (0..<4).map { _ in String(format: "%08x", UInt32.random(in: 0...UInt32.max)) }.joined()
    }

    /// `POST /sandbox/{resource}` stores a document (replacing one with the same id);
    /// `POST /sandbox/faults` queues failures; `GET /sandbox/requests` lists what was asked.
    private func sandboxRoute(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse {
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? JSONObject
        switch (request.method, parts) {
        case (.post, let p) where p.count == 1 && sandboxResources.contains(p[0]):
            guard let document = body?["data"] as? JSONObject else {
                return Self.apiError(422, "body", "data", "Expected {\"data\": <document>}")
            }
            do { return Self.json(201, ["data": try store(p[0], document)]) } catch {
                return Self.apiError(422, "body", "data", "\(error)")
            }
        case (.post, ["faults"]):
            guard let data = body?["data"] as? JSONObject, let count = data["count"] as? Int, count >= 0 else {
                return Self.apiError(
                    422, "body", "data",
                    "Expected {\"data\": {\"count\": n, \"status\": 200-599, \"body\": text, \"delayMilliseconds\": ms}}")
            }
            let status = data["status"] as? Int
            if let status, !(200...599).contains(status) { return Self.apiError(422, "body", "status", "status must be 200-599") }
            let fault = Fault(status: status, body: data["body"] as? String, delayMilliseconds: data["delayMilliseconds"] as? Int)
            faults.set(fault, count: count)
            return Self.json(200, ["data": ["count": count]])
        case (.get, ["requests"]):
            let records = documents.requestLog().map {
                ["method": $0.method, "path": $0.path, "status": $0.status, "at": $0.at] as JSONObject
            }
            return Self.json(200, ["data": records])
        default:
            return Self.apiError(404, "url", "name", "Not Found")
        }
    }

    // MARK: - Reading

    private func list(_ resource: String, _ request: HTTPRequest) -> HTTPResponse {
        var offset: Timestamp?
        if let text = request.queryValue("offset"), !text.isEmpty {
            guard let parsed = Timestamp(iso8601: text) else { return Self.apiError(404, "params", "offset", "Offset expired/invalid") }
            offset = parsed
        }
        let limit = min(1000, max(1, request.queryValue("limit").flatMap { Int($0) } ?? 100))
        let fields = Set((request.queryValue("opt_fields") ?? "").split(separator: ",").map(String.init))
        let page = documents.list(resource, after: offset, limit: limit)
        let entries = page.map { document -> JSONObject in
            var entry: JSONObject = ["id": document["id"] ?? "", "dateModified": document["dateModified"] ?? ""]
            for field in fields where document[field] != nil { entry[field] = document[field] }
            return entry
        }
        let nextOffset = (page.last?["dateModified"] as? String) ?? request.queryValue("offset") ?? ""
        var path = "/api/\(sandboxAPIVersion)/\(resource)"
        if !nextOffset.isEmpty {
            path += "?offset=" + (nextOffset.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? nextOffset)
        }
        return Self.json(200, ["data": entries, "next_page": ["offset": nextOffset, "path": path, "uri": path]])
    }

    private func publicDocument(_ resource: String, _ id: String) -> HTTPResponse {
        guard let document = documents.document(resource, id) else { return notFound(resource) }
        return Self.json(200, ["data": Self.publicView(document)])
    }

    /// What anyone may read: bids never show their links; until the auction is over they show no
    /// prices, parameters or names either.
    static func publicView(_ document: JSONObject) -> JSONObject {
        var view = document
        let hidden = ["active.tendering", "active.pre-qualification", "active.pre-qualification.stand-still", "active.auction"]
            .contains(document["status"] as? String ?? "")
        view["bids"] = (document["bids"] as? [JSONObject])?.map { bid -> JSONObject in
            var shown = bid
            shown["participationUrl"] = nil
            if hidden { for key in ["value", "parameters", "tenderers"] { shown[key] = nil } }
            shown["lotValues"] = (bid["lotValues"] as? [JSONObject])?.map { lotValue -> JSONObject in
                var entry = lotValue
                entry["participationUrl"] = nil
                if hidden { entry["value"] = nil }
                return entry
            }
            if shown["lotValues"] == nil { shown.removeValue(forKey: "lotValues") }
            return shown
        }
        if view["bids"] == nil { view.removeValue(forKey: "bids") }
        return view
    }

    /// The auction module's view (`GET …/auction`): the bids with prices, dates, parameters,
    /// statuses and, once set, their links; no tenderers. Only in `active.auction` (403 otherwise).
    private func privateView(_ resource: String, _ id: String) -> HTTPResponse {
        guard var document = documents.document(resource, id) else { return notFound(resource) }
        // As the real API: the auction module reads bids only while the auction runs.
        let status = document["status"] as? String ?? ""
        guard status == "active.auction" else {
            return Self.apiError(403, "body", "data", "Can't get auction info in current (\(status)) tender status")
        }
        document["bids"] = (document["bids"] as? [JSONObject])?.map { bid -> JSONObject in
            var shown = bid
            shown["tenderers"] = nil
            return shown
        }
        if document["bids"] == nil { document.removeValue(forKey: "bids") }
        for key in ["awards", "documents", "questions", "complaints"] { document[key] = nil }
        return Self.json(200, ["data": document])
    }

    // MARK: - Writing (the auction service's calls)

    /// `PATCH …/auction[/{lotId}]`: `auctionUrl` and each bid's `participationUrl`.
    private func patchLinks(_ resource: String, _ id: String, lotId: String?, data: JSONObject) -> HTTPResponse {
        documents.withDocument(resource, id) { document -> HTTPResponse in
            guard var tender = document else { return notFound(resource) }
            if let refusal = Self.checkAuctionCall(tender, lotId: lotId, data: data, action: "update auction urls") { return refusal }
            let entries = data["bids"] as? [JSONObject] ?? []
            var bids = tender["bids"] as? [JSONObject] ?? []
            for index in bids.indices {
                let entry = entries[index]
                if let lotId {
                    let urls = (entry["lotValues"] as? [JSONObject] ?? []).filter { ($0["relatedLot"] as? String) == lotId }
                    guard let url = urls.first?["participationUrl"] as? String else { continue }
                    bids[index]["lotValues"] = (bids[index]["lotValues"] as? [JSONObject])?.map { lotValue -> JSONObject in
                        var changed = lotValue
                        if (lotValue["relatedLot"] as? String) == lotId { changed["participationUrl"] = url }
                        return changed
                    }
                } else if let url = entry["participationUrl"] as? String {
                    bids[index]["participationUrl"] = url
                }
            }
            tender["bids"] = bids
            if let lotId {
                let url = (data["lots"] as? [JSONObject])?.first { ($0["id"] as? String) == lotId }?["auctionUrl"] as? String
                tender["lots"] = (tender["lots"] as? [JSONObject])?.map { lot -> JSONObject in
                    var changed = lot
                    if (lot["id"] as? String) == lotId, let url { changed["auctionUrl"] = url }
                    return changed
                }
            } else if let url = data["auctionUrl"] as? String {
                tender["auctionUrl"] = url
            }
            document = tender
            return Self.json(200, ["data": tender])
        }
    }

    /// `POST …/auction[/{lotId}]`: the results. Once every auction of the tender has reported,
    /// the tender moves to `active.qualification` and gets its awards.
    private func postResults(_ resource: String, _ id: String, lotId: String?, data: JSONObject) -> HTTPResponse {
        documents.withDocument(resource, id) { document -> HTTPResponse in
            guard var tender = document else { return notFound(resource) }
            if let refusal = Self.checkAuctionCall(tender, lotId: lotId, data: data, action: "report auction results") { return refusal }
            let now = Timestamp.now.iso8601
            if let lotId, let lot = (tender["lots"] as? [JSONObject])?.first(where: { ($0["id"] as? String) == lotId }),
                (lot["auctionPeriod"] as? JSONObject)?["endDate"] != nil
            {
                return Self.apiError(403, "body", "data", "Can't report auction results twice for the same lot")
            }
            let entries = data["bids"] as? [JSONObject] ?? []
            var bids = tender["bids"] as? [JSONObject] ?? []
            for index in bids.indices {
                let entry = entries[index]
                if let lotId {
                    guard let result = (entry["lotValues"] as? [JSONObject])?.first(where: { ($0["relatedLot"] as? String) == lotId })
                    else { continue }
                    bids[index]["lotValues"] = (bids[index]["lotValues"] as? [JSONObject])?.map { lotValue -> JSONObject in
                        guard (lotValue["relatedLot"] as? String) == lotId else { return lotValue }
                        return Self.applyResult(result, to: lotValue)
                    }
                } else {
                    bids[index] = Self.applyResult(entry, to: bids[index])
                }
            }
            tender["bids"] = bids
            if let lotId {
                tender["lots"] = (tender["lots"] as? [JSONObject])?.map { lot -> JSONObject in
                    guard (lot["id"] as? String) == lotId else { return lot }
                    var changed = lot
                    var period = lot["auctionPeriod"] as? JSONObject ?? [:]
                    period["endDate"] = now
                    changed["auctionPeriod"] = period
                    return changed
                }
            } else {
                var period = tender["auctionPeriod"] as? JSONObject ?? [:]
                period["endDate"] = now
                tender["auctionPeriod"] = period
            }
            if Self.everyAuctionReported(tender) {
                tender["status"] = "active.qualification"
                tender["awards"] = Self.awards(for: tender, resource: resource, date: now)
            }
            document = tender
            return Self.json(200, ["data": tender])
        }
    }

    /// The checks the real API makes on the auction service's calls (SPEC §5.3).
    static func checkAuctionCall(_ tender: JSONObject, lotId: String?, data: JSONObject, action: String) -> HTTPResponse? {
        let status = tender["status"] as? String ?? ""
        guard status == "active.auction" else {
            return Self.apiError(403, "body", "data", "Can't \(action) in current (\(status)) tender status")
        }
        let lots = tender["lots"] as? [JSONObject] ?? []
        if let lotId {
            guard let lot = lots.first(where: { ($0["id"] as? String) == lotId }) else {
                return Self.apiError(404, "url", "lot_id", "Not Found")
            }
            guard (lot["status"] as? String ?? "active") == "active" else {
                return Self.apiError(403, "body", "data", "Can \(action) only in active lot status")
            }
        } else if !lots.isEmpty {
            return Self.apiError(403, "body", "data", "Can't \(action) for a tender with lots: name the lot")
        }
        let tenderBids = tender["bids"] as? [JSONObject] ?? []
        guard let entries = data["bids"] as? [JSONObject] else {
            return Self.apiError(422, "body", "bids", "This field is required.")
        }
        guard entries.count == tenderBids.count else {
            return Self.apiError(422, "body", "bids", "Number of auction results did not match the number of tender bids")
        }
        guard entries.map({ $0["id"] as? String ?? "" }) == tenderBids.map({ $0["id"] as? String ?? "" }) else {
            return Self.apiError(422, "body", "bids", "Auction bids should be identical to the tender bids")
        }
        return nil
    }

    /// A result entry's `date` and `value.amount` written into a bid (or lot value).
    private static func applyResult(_ result: JSONObject, to target: JSONObject) -> JSONObject {
        var changed = target
        if let amount = (result["value"] as? JSONObject)?["amount"] {
            var value = target["value"] as? JSONObject ?? [:]
            value["amount"] = amount
            changed["value"] = value
        }
        if let date = result["date"] { changed["date"] = date }
        return changed
    }

    /// Every active lot that had an auction has reported (or, without lots, the tender has).
    private static func everyAuctionReported(_ tender: JSONObject) -> Bool {
        let lots = tender["lots"] as? [JSONObject] ?? []
        if lots.isEmpty { return (tender["auctionPeriod"] as? JSONObject)?["endDate"] != nil }
        return lots.allSatisfy { lot in
            guard (lot["status"] as? String ?? "active") == "active", let period = lot["auctionPeriod"] as? JSONObject,
                period["startDate"] != nil
            else {
                return true
            }
            return period["endDate"] != nil
        }
    }

    /// The awards after the auction: the best bid of each auction is awarded (lowest price for
    /// lowestCost, highest for highestCost; MEAT by price over coefficient). DGF (`002` l.3504-3508): the first candidate is
    /// `pending.verification`, the second `pending.waiting`; a candidate below starting price +
    /// minimal step is not awarded (its award is `unsuccessful`).
    static func awards(for tender: JSONObject, resource: String, date: String) -> [JSONObject] {
        let highest = (tender["awardCriteria"] as? String).map { $0 == "highestCost" } ?? (resource == "auctions")
        let lots = (tender["lots"] as? [JSONObject] ?? []).filter { ($0["status"] as? String ?? "active") == "active" }
        let scopes: [String?] = lots.isEmpty ? [nil] : lots.map { $0["id"] as? String }
        var awards: [JSONObject] = []
        for lotId in scopes {
            let lot = lots.first { ($0["id"] as? String) == lotId }
            let value = (lot?["value"] ?? tender["value"]) as? JSONObject
            let step = (lot?["minimalStep"] ?? tender["minimalStep"]) as? JSONObject
            var candidates: [(bid: JSONObject, amount: Double, value: JSONObject)] = []
            for bid in tender["bids"] as? [JSONObject] ?? [] where (bid["status"] as? String ?? "active") == "active" {
                let offer: JSONObject?
                if let lotId {
                    offer =
                        (bid["lotValues"] as? [JSONObject])?.first {
                            ($0["relatedLot"] as? String) == lotId && ($0["status"] as? String ?? "active") != "unsuccessful"
                        }?["value"] as? JSONObject
                } else {
                    offer = bid["value"] as? JSONObject
                }
                guard let offer, let amount = (offer["amount"] as? NSNumber)?.doubleValue else { continue }
                candidates.append((bid, amount / coefficient(of: bid, in: tender, lotId: lotId), offer))
            }
            candidates.sort { highest ? $0.amount > $1.amount : $0.amount < $1.amount }
            let minimum = ((value?["amount"] as? NSNumber)?.doubleValue ?? 0) + ((step?["amount"] as? NSNumber)?.doubleValue ?? 0)
            for (rank, candidate) in candidates.prefix(highest ? 2 : 1).enumerated() {
                var status = "pending"
                if highest {
                    status =
                        ((candidate.value["amount"] as? NSNumber)?.doubleValue ?? 0) < minimum
                        ? "unsuccessful" : (rank == 0 ? "pending.verification" : "pending.waiting")
                }
                var award: JSONObject = [
                    "id": UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""),
                    "bid_id": candidate.bid["id"] ?? "", "status": status, "date": date, "value": candidate.value,
                    "suppliers": candidate.bid["tenderers"] ?? [],
                ]
                if let lotId { award["lotID"] = lotId }
                awards.append(award)
            }
        }
        return awards
    }

    /// MEAT (SPEC §4): the bid's coefficient `1 + Σ parameters / (1 − Σ largest options)` over the
    /// features of the tenderer, this lot and its items; awards compare `amount / coefficient`.
    /// In doubles: the sandbox only ranks, the service's own arithmetic is exact.
    static func coefficient(of bid: JSONObject, in tender: JSONObject, lotId: String?) -> Double {
        let items = Set(
            (tender["items"] as? [JSONObject] ?? []).filter { lotId == nil || ($0["relatedLot"] as? String) == lotId }.compactMap {
                $0["id"] as? String
            })
        var largest: [String: Double] = [:]
        for feature in tender["features"] as? [JSONObject] ?? [] {
            let related = feature["relatedItem"] as? String
            let applies =
                switch feature["featureOf"] as? String {
                case "tenderer": true
                case "lot": lotId == nil || related == lotId
                case "item": related.map(items.contains) ?? false
                default: false
                }
            guard applies, let code = feature["code"] as? String else { continue }
            largest[code] = (feature["enum"] as? [JSONObject] ?? []).compactMap { ($0["value"] as? NSNumber)?.doubleValue }.max() ?? 0
        }
        guard !largest.isEmpty else { return 1 }
        let given = (bid["parameters"] as? [JSONObject] ?? []).reduce(0.0) { sum, parameter in
            guard let code = parameter["code"] as? String, largest[code] != nil else { return sum }
            return sum + ((parameter["value"] as? NSNumber)?.doubleValue ?? 0)
        }
        return 1 + given / (1 - largest.values.reduce(0, +))
    }

    // MARK: - Storing documents from tests and fixtures

    /// Stores a document (a new id when it has none). `startDate`s written `now+Ns` (`now-Ns`)
    /// become that many seconds from now (ago), so fixtures can always start soon, or late.
    func store(_ resource: String, _ document: JSONObject) throws -> JSONObject {
        var document = document
        let id = document["id"] as? String ?? UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        document["id"] = id
        document["auctionPeriod"] = try Self.resolvingRelativeStart(document["auctionPeriod"])
        if let lots = document["lots"] as? [JSONObject] {
            document["lots"] = try lots.map { lot -> JSONObject in
                var changed = lot
                changed["auctionPeriod"] = try Self.resolvingRelativeStart(lot["auctionPeriod"])
                return changed
            }
        }
        return documents.withDocument(resource, id) { stored in
            stored = document
            return stored ?? document
        }
    }

    private static func resolvingRelativeStart(_ period: Any?) throws -> Any? {
        guard var period = period as? JSONObject else { return period }
        if let text = period["startDate"] as? String, text.hasPrefix("now+") || text.hasPrefix("now-") {
            guard text.hasSuffix("s"), let seconds = Double(text.dropFirst(4).dropLast()) else {
                throw SandboxError("startDate '\(text)' must be an ISO date, now+<seconds>s or now-<seconds>s")
            }
            let sign: Double = text.hasPrefix("now-") ? -1 : 1
            period["startDate"] = Timestamp.now.adding(microseconds: Int64(sign * seconds * 1_000_000)).iso8601
        }
        return period
    }

    // MARK: - Answers

    private func authorization(_ request: HTTPRequest) -> HTTPResponse? {
        Self.basicAuthorization(request) { user, _ in user == settings.token }
    }

    /// HTTP Basic: 401 without credentials, 403 when `accepts` refuses the user and password.
    static func basicAuthorization(_ request: HTTPRequest, accepts: (String, String) -> Bool) -> HTTPResponse? {
        guard let header = request.headers["authorization"], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) })
        else { return apiError(401, "header", "Authorization", "Authentication required") }
        let parts = decoded.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard accepts(parts[0], parts.count > 1 ? parts[1] : "") else { return apiError(403, "url", "permission", "Forbidden") }
        return nil
    }

    private func notFound(_ resource: String) -> HTTPResponse {
        Self.apiError(404, "url", resource == "auctions" ? "auction_id" : "tender_id", "Not Found")
    }

    /// The API's error format (`001` l.384-393).
    static func apiError(_ status: Int, _ location: String, _ name: String, _ description: String) -> HTTPResponse {
        Self.json(status, ["status": "error", "errors": [["location": location, "name": name, "description": description]]])
    }

    static func json(_ status: Int, _ object: JSONObject) -> HTTPResponse {
        let body =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return HTTPResponse(status: status, contentType: "application/json; charset=utf-8", body: Array(body))
    }

    // The sandbox has no WebSocket endpoints.
    public func shouldUpgrade(_ request: HTTPRequest) -> UpgradeDecision { .reject(status: 404, message: "no WebSocket here") }
    public func opened(_ socket: WebSocket) {}
    public func received(_ text: String, from socket: WebSocket) {}
    public func receivedTooLarge(from socket: WebSocket) {}
    public func closed(_ socket: WebSocket) {}
}

/// What `POST /sandbox/faults` asks of the next API requests: answer `status` (with `body`, or the
/// API's error format) instead of doing the work, and/or answer only after a delay.
struct Fault: Sendable {
    var status: Int?
    var body: String?
    var delayMilliseconds: Int?
}

final class FaultQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var fault = Fault()
    private var remaining = 0

    func set(_ fault: Fault, count: Int) {
        lock.lock()
        defer { lock.unlock() }
        (self.fault, remaining) = (fault, count)
    }

    func next() -> Fault? {
        lock.lock()
        defer { lock.unlock() }
        guard remaining > 0 else { return nil }
        remaining -= 1
        return fault
    }
}
