import Foundation
import WebServer

/// JSON bodies of HTTP answers, from Codable values: keys sorted and slashes as they are, so the
/// same value is always the same bytes.
enum JSONBody {
    static func response(status: Int = 200, _ value: some Encodable) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return HTTPResponse(
            status: status, contentType: "application/json; charset=utf-8", headers: [("cache-control", "no-store")], body: Array(data))
    }
}
