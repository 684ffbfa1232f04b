import Foundation
import WebServer

/// A JSON response from plain values (strings, numbers, dictionaries, arrays). Keys are sorted so
/// that the same value always serialises to the same bytes.
public func jsonResponse(status: Int = 200, _ value: Any) -> HTTPResponse {
    let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8)
    return HTTPResponse(
        status: status, contentType: "application/json; charset=utf-8",
        headers: [("cache-control", "no-store")], body: Array(data))
}
