import Testing

@testable import RedisClient

/// hiredis's parser as the connections use it, fed by hand.
@Suite struct RedisReplyReaderTests {
    func feed(_ reader: RedisReplyReader, _ text: String) {
        Array(text.utf8).withUnsafeBufferPointer { reader.feed($0) }
    }

    @Test func repliesSplitAcrossFeedsAndSeveralInOneAreRead() throws {
        let reader = RedisReplyReader()
        feed(reader, "*3\r\n$5\r\nhel")
        #expect(try reader.next() == nil)
        feed(reader, "lo\r\n:42\r\n$-1\r\n+OK\r\n-ERR no\r\n")
        #expect(try reader.next() == .array([.bulk(Array("hello".utf8)), .integer(42), .null]))
        #expect(try reader.next() == .status("OK"))
        #expect(try reader.next() == .error("ERR no"))
        #expect(try reader.next() == nil)
    }

    @Test func bytesThatAreNotRESPAreAProtocolErrorNamingTheSource() throws {
        let reader = RedisReplyReader()
        feed(reader, "?what\r\n")
        #expect {
            try reader.next(source: "10.0.0.1:6379")
        } throws: { error in
            guard case .protocolError(let address, let reason) = error as? RedisError else { return false }
            return address == "10.0.0.1:6379" && reason.contains("Protocol error")
        }
    }

    /// hiredis 0.14 allocates an array's element table when its header arrives: a reply that
    /// announces 700 million elements (found by the RedisReply fuzz target) took 5.6 GB before a
    /// single element came. Past `RedisReplyReader.maxElements` it is a protocol error.
    @Test func anArrayAnnouncingMoreElementsThanTheLimitIsAProtocolError() throws {
        let reader = RedisReplyReader()
        feed(reader, "*3\r\n$8\r\nappended\r\n:5\r\n*700170005\r\n:10000\r\n")
        #expect {
            try reader.next()
        } throws: { error in
            guard case .protocolError(_, let reason) = error as? RedisError else { return false }
            return reason.contains("more than \(RedisReplyReader.maxElements) elements")
        }
        let fine = RedisReplyReader()
        feed(fine, "*2\r\n:1\r\n:2\r\n")
        #expect(try fine.next() == .array([.integer(1), .integer(2)]))
    }
}
