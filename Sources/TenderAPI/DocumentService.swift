// The document service (the seeds' `002` "Documents Uploading"): where a tender's files are kept
// when the API takes documents by reference. A file is uploaded here first, and the API is then given
// its `url` and `hash` (`TenderAPIClient.attachDocument`).
import AuctionCore
import Foundation

/// A file as the document service describes it after an upload, and as the API is given it.
public struct StoredFile: Codable, Sendable, Equatable {
    /// The service's permanent, signed address of the file.
    public var url: String
    /// `md5:` and 32 hex digits, of the bytes uploaded.
    public var hash: String
    public var title: String
    public var format: String

    public init(url: String, hash: String, title: String, format: String) {
        self.url = url
        self.hash = hash
        self.title = title
        self.format = format
    }
}

/// Where the service's documents go: the API's own multipart upload, or the document service.
public enum DocumentUpload: Sendable {
    case multipart
    case documentService(DocumentServiceClient)
}

public final class DocumentServiceClient: Sendable {
    private let requester: APIRequester

    /// - Parameters:
    ///   - baseURL: the service's address (`https://upload.docs…`), its routes `/upload` and
    ///     `/get/{id}` under it.
    ///   - user, password: HTTP Basic credentials at the service.
    ///   - settings: the time-outs, retries and certificates of the tender API's client.
    public init(baseURL: String, user: String, password: String, settings: TenderAPISettings) {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        requester = APIRequester(baseURL: base, user: user, password: password, settings: settings)
    }

    private struct UploadAnswer: Decodable {
        var data: StoredFile
    }

    /// `POST /upload` (multipart, part `file`): the file stored, as the API is to be given it.
    /// A file uploaded twice is two files at the service; only the one attached is linked from the
    /// tender.
    public func upload(fileName: String, contentType: String, contents: [UInt8]) throws(TenderAPIError) -> StoredFile {
        let form = MultipartFile(fileName: fileName, contentType: contentType, contents: contents)
        return try requester.decoded(UploadAnswer.self, "POST", "/upload", body: form.body, contentType: form.contentType)
            .data
    }
}

/// One file as a `multipart/form-data` body with the part `file` (RFC 7578), as both the API and
/// the document service take it.
struct MultipartFile {
    let body: Data
    let contentType: String

    init(fileName: String, contentType fileType: String, contents: [UInt8]) {
        let boundary = "auctiond-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let safeName = fileName.replacingOccurrences(of: "\"", with: "_").replacingOccurrences(of: "\r", with: "_")
            .replacingOccurrences(of: "\n", with: "_")
        var bytes = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(safeName)\"\r\n".utf8)
        bytes += Array("Content-Type: \(fileType)\r\n\r\n".utf8) + contents + Array("\r\n--\(boundary)--\r\n".utf8)
        body = Data(bytes)
        contentType = "multipart/form-data; boundary=\(boundary)"
    }
}
