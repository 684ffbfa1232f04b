// The one part of a multipart/form-data body (RFC 7578) the API reads: the file.
import Foundation

enum MultipartForm {
    struct Part: Equatable {
        var fileName: String
        var contentType: String
        var bytes: [UInt8]
    }

    enum Problem: Error, Equatable, CustomStringConvertible {
        case notMultipart
        case noFile
        case malformed(String)

        var description: String {
            switch self {
            case .notMultipart: "Content-Type must be multipart/form-data with a boundary"
            case .noFile: "Not Found"
            case .malformed(let reason): "the multipart body cannot be read: \(reason)"
            }
        }
    }

    /// The part named `file`, with its file name and type.
    static func file(in body: [UInt8], contentType: String) -> Result<Part, Problem> {
        let parameters = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parameters.first?.lowercased() == "multipart/form-data",
            let boundaryParameter = parameters.first(where: { $0.lowercased().hasPrefix("boundary=") })
        else { return .failure(.notMultipart) }
        let boundary = Array(("--" + String(boundaryParameter.dropFirst("boundary=".count)).trimmingCharacters(in: ["\""])).utf8)
        guard boundary.count > 2 else { return .failure(.notMultipart) }
        var position = 0
        guard let first = find(boundary, in: body, from: 0) else { return .failure(.malformed("no boundary")) }
        position = first + boundary.count
        while true {
            // After a boundary: "--" ends the body, CRLF starts a part.
            if body[position...].starts(with: Array("--".utf8)) { return .failure(.noFile) }
            guard body[position...].starts(with: [13, 10]) else { return .failure(.malformed("a boundary not followed by CRLF")) }
            position += 2
            guard let headersEnd = find([13, 10, 13, 10], in: body, from: position) else {
                return .failure(.malformed("a part without headers' end"))
            }
            let headers = String(decoding: body[position..<headersEnd], as: UTF8.self).components(separatedBy: "\r\n")
            let contentStart = headersEnd + 4
            guard let next = find([13, 10] + boundary, in: body, from: contentStart) else {
                return .failure(.malformed("a part without its closing boundary"))
            }
            var name: String?
            var fileName: String?
            var type = "application/octet-stream"
            for header in headers {
                let lower = header.lowercased()
                if lower.hasPrefix("content-disposition:") {
                    name = parameter("name", in: header)
                    fileName = parameter("filename", in: header)
                } else if lower.hasPrefix("content-type:") {
                    type = header.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
                }
            }
            if name == "file" {
                return .success(Part(fileName: fileName ?? "file", contentType: type, bytes: Array(body[contentStart..<next])))
            }
            position = next + 2 + boundary.count
        }
    }

    private static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard piece.lowercased().hasPrefix(name + "=") else { continue }
            return String(piece.dropFirst(name.count + 1)).trimmingCharacters(in: ["\""])
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for index in start...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
        }
        return nil
    }
}
