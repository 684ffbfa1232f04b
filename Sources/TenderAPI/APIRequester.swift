// The HTTP exchange the tender API's client and the document service's client share: one
// kept-alive transport to one origin, HTTP Basic, the API's server cookie, and the retry of what
// may succeed later (5xx, 429, 409, 412, time-outs) within the retry budget.
import AuctionCore
import Foundation
import Locking

final class APIRequester: Sendable {
    let settings: TenderAPISettings
    /// nil when the base URL cannot be used; every call then answers `unavailable` with why.
    private let transport: Result<HTTPTransport, TransportProblem>
    private let authorization: String
    /// The API pins a client to one of its servers with a `SERVER_ID` cookie and answers 412 to a
    /// write that lacks it; the cookie it sets is sent from then on.
    private let serverCookie = Locked<String?>(nil)

    /// - Parameters:
    ///   - baseURL: the origin and the path the routes hang under.
    ///   - settings: the time-out, the retry budget and backoff, and the certificates to trust.
    init(baseURL: String, user: String, password: String, settings: TenderAPISettings) {
        self.settings = settings
        transport = Result { () throws(TransportProblem) in
            try HTTPTransport(origin: HTTPOrigin(baseURL: baseURL), trustedCertificatesFile: settings.trustedCertificatesFile)
        }
        authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// `send`, and the 2xx body read as `type`.
    func decoded<T: Decodable>(
        _ type: T.Type, _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String = "application/json"
    ) throws(TenderAPIError) -> T {
        try decode(type, send(method, path, query: query, body: body, contentType: contentType))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws(TenderAPIError) -> T {
        do { return try JSONDecoder().decode(type, from: body) } catch {
            throw .undecodable("\(error)")
        }
    }

    /// Sends one request, retrying what may succeed later; returns a 2xx body.
    func send(
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
