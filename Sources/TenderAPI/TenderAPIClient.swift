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
    private let requester: APIRequester

    public init(settings: TenderAPISettings) {
        self.settings = settings
        requester = APIRequester(baseURL: settings.baseURL, user: settings.token, password: "", settings: settings)
    }

    // MARK: - The calls of SPEC §5

    /// `GET /{resource}/{id}`: the public document.
    public func tender(_ resource: TenderResource, id: String) throws(TenderAPIError) -> TenderDocument {
        try requester.decoded(APIEnvelope<TenderDocument>.self, "GET", "/\(resource.rawValue)/\(id)").data
    }

    /// `GET /{resource}/{id}/auction`: the private view with the bids' prices.
    public func auctionView(_ resource: TenderResource, id: String) throws(TenderAPIError) -> TenderDocument {
        try requester.decoded(APIEnvelope<TenderDocument>.self, "GET", "/\(resource.rawValue)/\(id)/auction").data
    }

    /// `PATCH /{resource}/{id}/auction[/{lotId}]` with `{"data": …}`: the links.
    @discardableResult
    public func patchAuction(_ resource: TenderResource, id: String, lotId: String?, body: Data) throws(TenderAPIError) -> TenderDocument {
        try requester.decoded(APIEnvelope<TenderDocument>.self, "PATCH", Self.auctionPath(resource, id, lotId), body: body).data
    }

    /// `POST /{resource}/{id}/auction[/{lotId}]` with the results.
    @discardableResult
    public func postResults(_ resource: TenderResource, id: String, lotId: String?, body: Data) throws(TenderAPIError) -> TenderDocument {
        try requester.decoded(APIEnvelope<TenderDocument>.self, "POST", Self.auctionPath(resource, id, lotId), body: body).data
    }

    /// `GET /{resource}?offset=…`: the tenders changed after `offset`, oldest first.
    public func tenderList(_ resource: TenderResource, offset: String?) throws(TenderAPIError) -> TenderListPage {
        var query = [("opt_fields", "status")]
        if let offset { query.append(("offset", offset)) }
        return try requester.decoded(TenderListPage.self, "GET", "/\(resource.rawValue)", query: query)
    }

    /// `GET /{resource}/{id}/documents`: the tender's documents, the latest version of each.
    public func documents(_ resource: TenderResource, id: String) throws(TenderAPIError) -> [TenderFile] {
        try requester.decoded(APIEnvelope<[TenderFile]>.self, "GET", "/\(resource.rawValue)/\(id)/documents").data
    }

    /// Attaches a file to the tender (`POST /{resource}/{id}/documents`, multipart, as the API's
    /// "Uploading documentation" shows), or puts a new version in place of the document
    /// `replacing` (`PUT …/documents/{documentId}`), so that a file sent again is not a second one.
    @discardableResult
    public func uploadDocument(
        _ resource: TenderResource, id: String, replacing documentId: String? = nil, fileName: String, contentType: String,
        contents: [UInt8]
    ) throws(TenderAPIError) -> TenderFile {
        let form = MultipartFile(fileName: fileName, contentType: contentType, contents: contents)
        return try requester.decoded(
            APIEnvelope<TenderFile>.self,
            documentId == nil ? "POST" : "PUT", Self.documentPath(resource, id, documentId), body: form.body,
            contentType: form.contentType
        ).data
    }

    /// Attaches a file the document service holds (`POST …/documents`, or `PUT …/documents/{id}`
    /// in place of `replacing`, with its `url`, `hash`, `title` and `format` as JSON: the second
    /// step of the seeds' "Upload document with registration").
    @discardableResult
    public func attachDocument(
        _ resource: TenderResource, id: String, replacing documentId: String? = nil, _ stored: StoredFile
    ) throws(TenderAPIError) -> TenderFile {
        let body: Data
        do { body = try JSONEncoder().encode(APIEnvelope(data: stored)) } catch { throw .undecodable("\(error)") }
        return try requester.decoded(
            APIEnvelope<TenderFile>.self, documentId == nil ? "POST" : "PUT", Self.documentPath(resource, id, documentId), body: body
        ).data
    }

    static func auctionPath(_ resource: TenderResource, _ id: String, _ lotId: String?) -> String {
        "/\(resource.rawValue)/\(id)/auction" + (lotId.map { "/\($0)" } ?? "")
    }

    static func documentPath(_ resource: TenderResource, _ id: String, _ documentId: String?) -> String {
        "/\(resource.rawValue)/\(id)/documents" + (documentId.map { "/\($0)" } ?? "")
    }
}
