import Testing

@testable import TenderAPI

/// The transport's reading of answers, fed as a socket might deliver them.
@Suite struct HTTPResponseParserTests {
    /// Feeds `text` in pieces of `piece` bytes, then the end of the connection if `close`.
    func parse(_ text: String, piece: Int = .max, close: Bool = false) throws -> HTTPResponse? {
        var parser = HTTPResponseParser(maxHeadBytes: 1024, maxBodyBytes: 4096)
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + min(piece, bytes.count))
            _ = try bytes[offset..<end].withUnsafeBytes { try parser.consume($0) }
            offset = end
        }
        if close { _ = try parser.endOfInput() }
        return parser.whole
    }

    func refusal(_ text: String, close: Bool = false) -> String {
        do {
            _ = try parse(text, close: close)
            return "no error"
        } catch { return "\(error)" }
    }

    @Test func aBodyOfAGivenLengthInOnePieceOrByteByByte() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"data\":{}}"
        for piece in [1, 2, 7, .max] {
            let response = try #require(try parse(text, piece: piece))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "{\"data\":{}}")
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.keepAlive)
        }
        #expect(try parse(String(text.dropLast())) == nil, "one byte short is not whole")
    }

    @Test func aChunkedBodyWithExtensionsAndTrailers() throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;name=x\r\nWiki\r\nA\r\npedia in 1\r\n0\r\nExpires: never\r\n\r\n"
        for piece in [1, 3, .max] {
            let response = try #require(try parse(text, piece: piece))
            #expect(String(decoding: response.body, as: UTF8.self) == "Wikipedia in 1")
            #expect(response.keepAlive)
        }
    }

    @Test func withoutALengthTheBodyRunsToTheEndOfTheConnection() throws {
        let text = "HTTP/1.1 200 OK\r\n\r\nall of it"
        #expect(try parse(text) == nil)
        let response = try #require(try parse(text, close: true))
        #expect(String(decoding: response.body, as: UTF8.self) == "all of it")
        #expect(!response.keepAlive)
    }

    @Test func interimAnswersAreSkippedAnd204Or304HaveNoBody() throws {
        let continued = try #require(try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"))
        #expect(continued.status == 201 && continued.body == Array("ok".utf8))
        #expect(try parse("HTTP/1.1 204 No Content\r\n\r\n")?.status == 204)
        #expect(try parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")?.body == [])
    }

    @Test func whetherTheConnectionMayCarryTheNextRequest() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")?.keepAlive == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")?.keepAlive == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")?.keepAlive == true)
    }

    @Test func cookiesAreKeptApartAndRepeatedHeadersJoined() throws {
        let response = try #require(
            try parse(
                "HTTP/1.1 200 OK\r\nSet-Cookie: SERVER_ID=abc; Path=/\r\nSet-Cookie: other=1\r\nVary: a\r\nVary: b\r\n"
                    + "Content-Length: 0\r\n\r\n"))
        #expect(response.setCookies == ["SERVER_ID=abc; Path=/", "other=1"])
        #expect(response.headers["vary"] == "a, b")
        #expect(response.headers["set-cookie"] == nil)
    }

    @Test func whatIsNotAnAnswerIsAnErrorThatSaysWhy() {
        #expect(refusal("SSH-2.0-OpenSSH\r\n\r\n") == "not an HTTP/1.x status line: 'SSH-2.0-OpenSSH'")
        #expect(refusal("HTTP/1.1 20 OK\r\n\r\n") == "not an HTTP/1.x status line: 'HTTP/1.1 20 OK'")
        #expect(refusal("HTTP/1.1 200 OK\r\n no name\r\n\r\n") == "a header line without a name: ' no name'")
        #expect(
            refusal("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
                == "a Content-Length that is not one number: '5, 6'")
        #expect(refusal("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") == "a Content-Length that is not one number: '-1'")
        #expect(refusal("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n") == "a body of 5000 bytes, over 4096")
        #expect(
            refusal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                == "a chunk size that is not hexadecimal: 'zz'")
        #expect(
            refusal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY")
                == "a chunk not followed by CRLF")
        #expect(refusal("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 2000)) == "headers longer than 1024 bytes")
        #expect(refusal("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokmore") == "bytes after the end of the answer")
        #expect(refusal("HTTP/1.1 101 Switching Protocols\r\n\r\n") == "the server switched protocols")
        #expect(refusal("", close: true) == "the connection closed before any answer")
        #expect(
            refusal("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", close: true)
                == "the connection closed before the answer was whole")
    }
}
