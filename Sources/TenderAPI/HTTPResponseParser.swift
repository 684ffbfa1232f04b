// Reads an HTTP/1.1 answer from bytes as they arrive (RFC 9112): the status line, the headers,
// and a body framed by Content-Length, by chunks, or by the end of the connection. Pure: the
// transport feeds it and asks whether the answer is whole.

/// One whole answer.
struct HTTPResponse: Sendable, Equatable {
    var status: Int
    /// Header names in lower case; a repeated header's values joined with ", " (RFC 9110 §5.3),
    /// except Set-Cookie, whose values are kept apart in `setCookies`.
    var headers: [String: String]
    var setCookies: [String]
    var body: [UInt8]
    /// Whether the connection may carry the next request.
    var keepAlive: Bool
}

/// Why bytes are not an HTTP answer.
struct HTTPResponseError: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct HTTPResponseParser {
    private enum Stage {
        case head
        /// `remaining` bytes of the body still to come: all of it (`chunked` false) or one chunk.
        case bodyBytes(remaining: Int, chunked: Bool)
        case chunkSize
        case chunkEnd
        case trailers
        case untilClose
        case done
    }

    let maxHeadBytes: Int
    let maxBodyBytes: Int
    private var stage = Stage.head
    private var input: [UInt8] = []
    private var position = 0
    private var response = HTTPResponse(status: 0, headers: [:], setCookies: [], body: [], keepAlive: true)

    init(maxHeadBytes: Int = 64 * 1024, maxBodyBytes: Int = 64 * 1024 * 1024) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// The answer, once whole.
    var whole: HTTPResponse? {
        if case .done = stage { response } else { nil }
    }

    /// Takes the next bytes of the connection; true once the answer is whole (bytes after it
    /// are an error: the client sends one request at a time).
    mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(HTTPResponseError) -> Bool {
        if case .done = stage, !bytes.isEmpty { throw HTTPResponseError("bytes after the end of the answer") }
        input.append(contentsOf: bytes)
        try advance()
        if position > 0 {
            input.removeFirst(position)
            position = 0
        }
        return whole != nil
    }

    /// The connection ended: true if that completes the answer (a body read until the close).
    mutating func endOfInput() throws(HTTPResponseError) -> Bool {
        switch stage {
        case .done: return true
        case .untilClose:
            response.keepAlive = false
            stage = .done
            return true
        case .head where input.isEmpty: throw HTTPResponseError("the connection closed before any answer")
        default: throw HTTPResponseError("the connection closed before the answer was whole")
        }
    }

    private mutating func advance() throws(HTTPResponseError) {
        while true {
            switch stage {
            case .head:
                guard let end = find(crlfcrlf) else {
                    if input.count - position > maxHeadBytes { throw HTTPResponseError("headers longer than \(maxHeadBytes) bytes") }
                    return
                }
                let head = Array(input[position..<end])
                position = end + 4
                try readHead(head)
            case .bodyBytes(let remaining, let chunked):
                let take = min(remaining, input.count - position)
                response.body.append(contentsOf: input[position..<position + take])
                position += take
                guard take == remaining else {
                    stage = .bodyBytes(remaining: remaining - take, chunked: chunked)
                    return
                }
                stage = chunked ? .chunkEnd : .done
            case .chunkSize:
                guard let end = find(crlf) else {
                    if input.count - position > 1024 { throw HTTPResponseError("a chunk size line longer than 1024 bytes") }
                    return
                }
                let line = input[position..<end].prefix { $0 != UInt8(ascii: ";") }
                position = end + 2
                guard let size = Int(String(decoding: line, as: UTF8.self).trimmingSpaces, radix: 16), size >= 0 else {
                    throw HTTPResponseError("a chunk size that is not hexadecimal: '\(String(decoding: line, as: UTF8.self))'")
                }
                guard response.body.count + size <= maxBodyBytes else {
                    throw HTTPResponseError("a body longer than \(maxBodyBytes) bytes")
                }
                stage = size == 0 ? .trailers : .bodyBytes(remaining: size, chunked: true)
            case .chunkEnd:
                guard input.count - position >= 2 else { return }
                guard input[position] == 13, input[position + 1] == 10 else { throw HTTPResponseError("a chunk not followed by CRLF") }
                position += 2
                stage = .chunkSize
            case .trailers:
                // Trailer fields end with an empty line; none of them is used.
                guard let end = find(crlf) else { return }
                let empty = end == position
                position = end + 2
                if empty { stage = .done }
            case .untilClose:
                guard response.body.count + input.count - position <= maxBodyBytes else {
                    throw HTTPResponseError("a body longer than \(maxBodyBytes) bytes")
                }
                response.body.append(contentsOf: input[position...])
                position = input.count
                return
            case .done:
                if position < input.count { throw HTTPResponseError("bytes after the end of the answer") }
                return
            }
        }
    }

    private mutating func readHead(_ head: [UInt8]) throws(HTTPResponseError) {
        let lines = head.split(separator: 10, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
        }
        // "HTTP/1.1 200 OK": the version, a three-digit status, and a reason that may be empty.
        let statusLine = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), statusLine[1].count == 3,
            let status = Int(statusLine[1]), (100..<600).contains(status)
        else { throw HTTPResponseError("not an HTTP/1.x status line: '\(lines[0].prefix(100))'") }
        var headers: [String: String] = [:]
        var setCookies: [String] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), line.first != " ", line.first != "\t" else {
                throw HTTPResponseError("a header line without a name: '\(line.prefix(100))'")
            }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingSpaces
            if name == "set-cookie" {
                setCookies.append(value)
            } else {
                headers[name] = headers[name].map { $0 + ", " + value } ?? value
            }
        }
        // An interim answer (100 Continue, 103 Early Hints) comes before the real one.
        if (100..<200).contains(status) {
            guard status != 101 else { throw HTTPResponseError("the server switched protocols") }
            return
        }
        let http10 = statusLine[0] == "HTTP/1.0"
        let connection = Set((headers["connection"] ?? "").lowercased().split(separator: ",").map { $0.trimmingSpaces })
        response = HTTPResponse(
            status: status, headers: headers, setCookies: setCookies, body: [],
            keepAlive: http10 ? connection.contains("keep-alive") : !connection.contains("close"))
        if status == 204 || status == 304 {
            stage = .done
        } else if let coding = headers["transfer-encoding"] {
            guard coding.lowercased().split(separator: ",").last?.trimmingSpaces == "chunked" else {
                // Not chunked last: the body runs to the end of the connection (RFC 9112 §6.3).
                response.keepAlive = false
                stage = .untilClose
                return
            }
            stage = .chunkSize
        } else if let lengthText = headers["content-length"] {
            // Repeated equal lengths arrive joined ("12, 12"); different ones are an error.
            let lengths = Set(lengthText.split(separator: ",").map { $0.trimmingSpaces })
            guard lengths.count == 1, let text = lengths.first, !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let length = Int(text)
            else { throw HTTPResponseError("a Content-Length that is not one number: '\(lengthText.prefix(100))'") }
            guard length <= maxBodyBytes else { throw HTTPResponseError("a body of \(length) bytes, over \(maxBodyBytes)") }
            stage = length == 0 ? .done : .bodyBytes(remaining: length, chunked: false)
        } else {
            response.keepAlive = false
            stage = .untilClose
        }
    }

    private let crlf: [UInt8] = [13, 10]
    private let crlfcrlf: [UInt8] = [13, 10, 13, 10]

    /// Where `pattern` starts in the unread input, if it is there.
    private func find(_ pattern: [UInt8]) -> Int? {
        guard input.count - position >= pattern.count else { return nil }
        var index = position
        let last = input.count - pattern.count
        while index <= last {
            if input[index] == pattern[0] {
                var matched = true
                for offset in 1..<pattern.count where input[index + offset] != pattern[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
