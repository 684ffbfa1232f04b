// Client of the Open Procurement tender API (SPEC §5): the one place that speaks HTTP to it.
// Calls block the calling thread (the planner, the feed and the reporter each run on their own
// thread); transient failures are retried here so callers see either an answer or a typed error.
import AuctionCore
import Foundation
import Locking
import Synchronization

/// The API collections an auction can live in (SPEC §2: tenders, and DGF auctions).
public enum TenderResource: String, Sendable, CaseIterable, Codable {
    case tenders
    case auctions
}

public struct TenderAPISettings: Sendable {
    /// The API base with its version, e.g. `http://127.0.0.1:6543/api/2.5`.
    public var baseURL: String
    /// The service's token: the HTTP Basic user name.
    public var token: String
    /// The longest one request may take, its whole answer included (not only while idle).
    public var timeout: Duration
    /// For an https API: a PEM file of the certificate authorities to trust in place of the
    /// system's (which `SSL_CERT_FILE` also changes).
    public var trustedCertificatesFile: String?
    /// How long to keep retrying 5xx, 429, 409, 412 and time-outs before giving up with `.unavailable`.
    public var retryBudget: Duration
    public var firstBackoff: Duration
    public var maximumBackoff: Duration

    public init(
        baseURL: String, token: String, timeout: Duration = .seconds(10), retryBudget: Duration = .seconds(30),
        firstBackoff: Duration = .milliseconds(100), maximumBackoff: Duration = .seconds(5), trustedCertificatesFile: String? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.timeout = timeout
        self.retryBudget = retryBudget
        self.firstBackoff = firstBackoff
        self.maximumBackoff = maximumBackoff
        self.trustedCertificatesFile = trustedCertificatesFile
    }
}

/// One entry of the API's error format `{"status": "error", "errors": [...]}` (`001` l.384-393).
public struct APIErrorEntry: Codable, Sendable, Equatable, CustomStringConvertible {
    public var location: String?
    public var name: String?
    /// A sentence, or (for field errors) a list or mapping of them: kept as JSON text.
    public var description: String

    enum CodingKeys: String, CodingKey { case location, name, description }

    public init(location: String?, name: String?, description: String) {
        self.location = location
        self.name = name
        self.description = description
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        location = try container.decodeIfPresent(String.self, forKey: .location)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        if let text = try? container.decode(String.self, forKey: .description) {
            description = text
        } else if let any = try? container.decode(JSONFragment.self, forKey: .description) {
            description = any.text
        } else {
            description = ""
        }
    }
}

/// Any JSON value, kept as its text (error descriptions may be nested lists).
struct JSONFragment: Decodable {
    let text: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self.text = text
            return
        }
        if let list = try? container.decode([JSONFragment].self) {
            text = list.map(\.text).joined(separator: "; ")
            return
        }
        if let map = try? container.decode([String: JSONFragment].self) {
            text = map.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.text)" }.joined(separator: "; ")
            return
        }
        if let number = try? container.decode(Double.self) {
            text = "\(number)"
            return
        }
        text = ""
    }
}

public enum TenderAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The API answered with an error status and (usually) its error format.
    case rejected(status: Int, errors: [APIErrorEntry])
    /// No usable answer within the retry budget: down, time-outs, 5xx or 429 all along.
    case unavailable(String)
    /// A 2xx answer whose body is not what the API documents.
    case undecodable(String)

    public var description: String {
        switch self {
        case .rejected(let status, let errors):
            let details = errors.map { entry in
                [entry.location, entry.name].compactMap { $0 }.joined(separator: ".") + ": " + entry.description
            }
            return "the tender API answered \(status)" + (details.isEmpty ? "" : ": " + details.joined(separator: "; "))
        case .unavailable(let reason): return "the tender API is unavailable: \(reason)"
        case .undecodable(let reason): return "the tender API answered something unreadable: \(reason)"
        }
    }

    /// The HTTP status of a rejection.
    public var status: Int? {
        if case .rejected(let status, _) = self { status } else { nil }
    }

    /// A 4xx that sending again will not change (403, 404, 422, …). 409, 412 and 429 are retried
    /// by the client itself and end as `unavailable`.
    public var isFinalRefusal: Bool {
        status.map { (400..<500).contains($0) } ?? false
    }
}

/// One page of the tender list (`001` l.995-1007).
public struct TenderListPage: Decodable, Sendable {
    public struct Entry: Decodable, Sendable, Equatable {
        public var id: String
        public var dateModified: String
        /// Present when asked for with `opt_fields=status`.
        public var status: String?

        public init(id: String, dateModified: String, status: String?) {
            self.id = id
            self.dateModified = dateModified
            self.status = status
        }
    }

    public struct NextPage: Decodable, Sendable {
        public var offset: String?
    }

    public var data: [Entry]
    public var next_page: NextPage?
}

/// A document attached to a tender, as the API lists it (`…/documents`).
public struct TenderFile: Codable, Sendable, Equatable {
    public var id: String
    public var title: String?
    public var format: String?
    public var url: String?
    public var hash: String?
    public var datePublished: String?
    public var dateModified: String?
}

public final class TenderAPIClient: Sendable {
    public let settings: TenderAPISettings
    /// nil when the base URL cannot be used; every call then answers `unavailable` with why.
    private let transport: Result<HTTPTransport, TransportProblem>
    private let authorization: String
    /// The API pins a client to one of its servers with a `SERVER_ID` cookie and answers 412 to a
    /// write that lacks it; the cookie it sets is sent from then on.
    private let serverCookie = Locked<String?>(nil)

    public init(settings: TenderAPISettings) {
        self.settings = settings
        transport = Result { () throws(TransportProblem) in
            try HTTPTransport(origin: HTTPOrigin(baseURL: settings.baseURL), trustedCertificatesFile: settings.trustedCertificatesFile)
        }
        authorization = "Basic " + Data("\(settings.token):".utf8).base64EncodedString()
    }

    // MARK: - The calls of SPEC §5

    /// `GET /{resource}/{id}`: the public document.
    public func tender(_ resource: TenderResource, id: String) throws(TenderAPIError) -> TenderDocument {
        try decode(APIEnvelope<TenderDocument>.self, send("GET", "/\(resource.rawValue)/\(id)")).data
    }

    /// `GET /{resource}/{id}/auction`: the private view with the bids' prices.
    public func auctionView(_ resource: TenderResource, id: String) throws(TenderAPIError) -> TenderDocument {
        try decode(APIEnvelope<TenderDocument>.self, send("GET", "/\(resource.rawValue)/\(id)/auction")).data
    }

    /// `PATCH /{resource}/{id}/auction[/{lotId}]` with `{"data": …}`: the links.
    @discardableResult
    public func patchAuction(_ resource: TenderResource, id: String, lotId: String?, body: Data) throws(TenderAPIError) -> TenderDocument {
        try decode(APIEnvelope<TenderDocument>.self, send("PATCH", Self.auctionPath(resource, id, lotId), body: body)).data
    }

    /// `POST /{resource}/{id}/auction[/{lotId}]` with the results.
    @discardableResult
    public func postResults(_ resource: TenderResource, id: String, lotId: String?, body: Data) throws(TenderAPIError) -> TenderDocument {
        try decode(APIEnvelope<TenderDocument>.self, send("POST", Self.auctionPath(resource, id, lotId), body: body)).data
    }

    /// `GET /{resource}?offset=…`: the tenders changed after `offset`, oldest first.
    public func tenderList(_ resource: TenderResource, offset: String?) throws(TenderAPIError) -> TenderListPage {
        var query = [("opt_fields", "status")]
        if let offset { query.append(("offset", offset)) }
        return try decode(TenderListPage.self, send("GET", "/\(resource.rawValue)", query: query))
    }

    /// `GET /{resource}/{id}/documents`: the tender's documents, the latest version of each.
    public func documents(_ resource: TenderResource, id: String) throws(TenderAPIError) -> [TenderFile] {
        try decode(APIEnvelope<[TenderFile]>.self, send("GET", "/\(resource.rawValue)/\(id)/documents")).data
    }

    /// Attaches a file to the tender (`POST /{resource}/{id}/documents`, multipart, as the API's
    /// "Uploading documentation" shows), or puts a new version in place of the document
    /// `replacing` (`PUT …/documents/{documentId}`), so that a file sent again is not a second one.
    @discardableResult
    public func uploadDocument(
        _ resource: TenderResource, id: String, replacing documentId: String? = nil, fileName: String, contentType: String,
        contents: [UInt8]
    ) throws(TenderAPIError) -> TenderFile {
        let boundary = "auctiond-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let safeName = fileName.replacingOccurrences(of: "\"", with: "_").replacingOccurrences(of: "\r", with: "_")
            .replacingOccurrences(of: "\n", with: "_")
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(safeName)\"\r\n".utf8)
        body += Array("Content-Type: \(contentType)\r\n\r\n".utf8) + contents + Array("\r\n--\(boundary)--\r\n".utf8)
        let path = "/\(resource.rawValue)/\(id)/documents" + (documentId.map { "/\($0)" } ?? "")
        return try decode(
            APIEnvelope<TenderFile>.self,
            send(documentId == nil ? "POST" : "PUT", path, body: Data(body), contentType: "multipart/form-data; boundary=\(boundary)")
        ).data
    }

    static func auctionPath(_ resource: TenderResource, _ id: String, _ lotId: String?) -> String {
        "/\(resource.rawValue)/\(id)/auction" + (lotId.map { "/\($0)" } ?? "")
    }

    // MARK: - Transport

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws(TenderAPIError) -> T {
        do { return try JSONDecoder().decode(type, from: body) } catch {
            throw .undecodable("\(error)")
        }
    }

    /// Sends one request, retrying what may succeed later; returns a 2xx body.
    private func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil, contentType: String = "application/json"
    ) throws(TenderAPIError) -> Data {
        let transport: HTTPTransport
        switch self.transport {
        case .success(let ready): transport = ready
        case .failure(let problem): throw .unavailable(problem.reason)
        }
        let target =
            transport.origin.basePath + path
            + (query.isEmpty ? "" : "?" + query.map { "\(Self.percentEncoded($0))=\(Self.percentEncoded($1))" }.joined(separator: "&"))
        let deadline = ContinuousClock.now + settings.retryBudget
        // Jitter spreads the retries of many auctions after an outage.
        var backoff = Backoff(first: settings.firstBackoff, maximum: settings.maximumBackoff, jitter: 0.5)
        var lastProblem = "no attempt"
        let bodyBytes = body.map { [UInt8]($0) }
        while true {
            var headers = [("Authorization", authorization), ("Accept", "application/json"), ("User-Agent", "auctiond")]
            if bodyBytes != nil { headers.append(("Content-Type", contentType)) }
            let sentCookie = serverCookie.withLock { $0 }
            if let sentCookie { headers.append(("Cookie", sentCookie)) }

            var wait = backoff.next()
            let exchanged = Result { () throws(TransportProblem) in
                try transport.exchange(
                    method: method, target: target, headers: headers, body: bodyBytes, deadline: .now + settings.timeout)
            }
            switch exchanged {
            case .failure(let problem):
                lastProblem = problem.reason
            case .success(let response):
                let (status, headers, data) = (response.status, response.headers, Data(response.body))
                for setCookie in response.setCookies {
                    if let pair = setCookie.split(separator: ";").first, pair.hasPrefix("SERVER_ID=") {
                        serverCookie.withLock { $0 = String(pair) }
                    }
                }
                switch status {
                case 200..<300:
                    return data
                case 300..<400:
                    // Not followed: a write sent on to another address is not the API's
                    // contract, and the API's own addresses do not move.
                    lastProblem = "\(status), sent on to \(headers["location"] ?? "nowhere"): set the API URL to where the API is"
                case 412:
                    // Sent again at once only with a cookie just received; a 412 that keeps
                    // coming whatever we send backs off like any failure.
                    lastProblem = "412 precondition failed"
                    if serverCookie.withLock({ $0 }) != sentCookie { wait = .zero }
                case 409:
                    // A conflicting write at the API (the document changed meanwhile): later.
                    lastProblem = "409 conflict"
                case 429:
                    lastProblem = "429 too many requests"
                    if let seconds = headers["retry-after"].flatMap(Double.init) { wait = max(wait, .milliseconds(Int64(seconds * 1000))) }
                case 500..<600:
                    lastProblem = "\(status) " + (String(data: data.prefix(200), encoding: .utf8) ?? "")
                default:
                    throw .rejected(status: status, errors: Self.errors(in: data, status: status))
                }
            }
            if ContinuousClock.now + wait >= deadline { throw .unavailable("\(method) \(path): \(lastProblem)") }
            Thread.sleep(forTimeInterval: wait.inSeconds)
        }
    }

    /// A query value as RFC 3986 leaves it: unreserved characters as they are, all others as
    /// %XX (offsets carry `+02:00`, which a server would read as a space).
    static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }

    private static func errors(in data: Data, status: Int) -> [APIErrorEntry] {
        struct ErrorBody: Decodable { var errors: [APIErrorEntry] }
        if let body = try? JSONDecoder().decode(ErrorBody.self, from: data) { return body.errors }
        let text = String(data: data.prefix(300), encoding: .utf8) ?? "\(data.count) bytes"
        return [APIErrorEntry(location: "body", name: nil, description: "HTTP \(status), not the API's error format: \(text)")]
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
