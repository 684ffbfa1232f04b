// The document service the sandbox also plays (the seeds' `002` "Documents Uploading"; the routes
// as openprocurement.documentservice answers them): `POST /upload` keeps a file and answers its
// signed `url` and `md5:` hash, `GET /get/{id}` gives it back to whoever holds that url, and the
// API's `…/documents` takes such a url by reference and checks its signature.
import AuctionCore
import CryptoPrimitives
import Foundation
import WebServer

extension TenderSandbox {
    /// The key id the service's urls carry; the signature is the sandbox's own HMAC.
    static let documentServiceKeyId = "sandbox"
    private static let documentServiceKey = Array("tender-sandbox document service".utf8)

    static func isDocumentServicePath(_ path: String) -> Bool {
        path == "/upload" || path.hasPrefix("/get/")
    }

    /// The signature of a file's url: over its id and the hex of its MD5, so that a url names one
    /// file's bytes and a hash given beside it can be checked against it.
    static func documentSignature(id: String, md5Hex: String) -> String {
        HMACSHA256.authenticate(Array("\(id)\0\(md5Hex)".utf8), key: documentServiceKey).hexString
    }

    func documentServiceRoute(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse {
        switch (request.method, parts.count) {
        case (.post, 1) where parts[0] == "upload":
            if let refusal = documentServiceAuthorization(request) { return refusal }
            let file: MultipartForm.Part
            switch MultipartForm.file(in: request.body, contentType: request.headers["content-type"] ?? "") {
            case .success(let part): file = part
            case .failure(let problem): return Self.apiError(problem == .noFile ? 404 : 422, "body", "file", problem.description)
            }
            let id = Self.newIdentifier()
            documents.storeFile(id, file.bytes)
            let md5 = MD5.hex(file.bytes)
            let host = request.headers["host"] ?? "127.0.0.1"
            let url =
                "http://\(host)/get/\(id)?KeyID=\(Self.documentServiceKeyId)&Signature=\(Self.documentSignature(id: id, md5Hex: md5))"
            return Self.json(
                200, ["data": ["url": url, "hash": "md5:" + md5, "format": file.contentType, "title": file.fileName], "get_url": url])
        case (.get, 2) where parts[0] == "get":
            let id = parts[1]
            guard let bytes = documents.file(id) else { return Self.apiError(404, "url", "doc_id", "Not Found") }
            let signature = request.query.first { $0.name == "Signature" }?.value ?? ""
            guard request.query.first(where: { $0.name == "KeyID" })?.value == Self.documentServiceKeyId else {
                return Self.apiError(403, "url", "KeyID", "Key Id does not exist")
            }
            guard ConstantTime.equals(Array(signature.utf8), Array(Self.documentSignature(id: id, md5Hex: MD5.hex(bytes)).utf8)) else {
                return Self.apiError(403, "url", "Signature", "Signature does not match")
            }
            return HTTPResponse(status: 200, contentType: "application/octet-stream", body: bytes)
        default:
            return Self.apiError(405, "url", "method", "Method not allowed")
        }
    }

    enum DocumentReference {
        case file(JSONObject)
        case refused(HTTPResponse)
    }

    /// Reads `{"data": {url, hash, title, format}}` given to `…/documents`: a file the document
    /// service holds. Refused as the real API refuses: a url that is not the service's (403), a
    /// missing or malformed field (422), a url whose signature does not cover that hash (403).
    func documentServiceFile(_ body: [UInt8]) -> DocumentReference {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? JSONObject, let data = object["data"] as? JSONObject
        else {
            return .refused(Self.apiError(422, "body", "data", "Data not available"))
        }
        for field in ["title", "url", "hash", "format"] where (data[field] as? String ?? "").isEmpty {
            return .refused(Self.apiError(422, "body", field, "This field is required."))
        }
        let hash = data["hash"] as? String ?? ""
        let md5 = hash.dropFirst(4)
        guard hash.hasPrefix("md5:"), md5.count == 32, md5.allSatisfy({ "0123456789abcdef".contains($0) }) else {
            return .refused(Self.apiError(422, "body", "hash", "Hash value is wrong length or not md5: and hexadecimal."))
        }
        guard let url = URLComponents(string: data["url"] as? String ?? ""), url.path.hasPrefix("/get/"),
            url.queryItems?.first(where: { $0.name == "KeyID" })?.value == Self.documentServiceKeyId
        else {
            return .refused(Self.apiError(403, "body", "url", "Can add document only from document service."))
        }
        let id = String(url.path.dropFirst("/get/".count))
        let signature = url.queryItems?.first { $0.name == "Signature" }?.value ?? ""
        guard ConstantTime.equals(Array(signature.utf8), Array(Self.documentSignature(id: id, md5Hex: String(md5)).utf8)) else {
            return .refused(Self.apiError(403, "body", "url", "Document url signature invalid."))
        }
        var entry: JSONObject = [:]
        for field in ["title", "url", "hash", "format", "description", "documentType"] where data[field] != nil {
            entry[field] = data[field]
        }
        return .file(entry)
    }

    private func documentServiceAuthorization(_ request: HTTPRequest) -> HTTPResponse? {
        Self.basicAuthorization(request) { user, password in
            user == settings.documentServiceUser && password == settings.documentServicePassword
        }
    }
}
