import AuctionProtocol
import AuctionTesting
import Foundation
import RedisClient
import Testing

@Suite struct JSONScannerTests {
    /// Strings a requestId or a name may hold: quotes, backslashes, slashes, control characters,
    /// Cyrillic, emoji.
    static let awkward = [
        "", "c-1", #"say "hi""#, #"back\slash"#, "a/b", "tab\there\nnewline\r\u{8}\u{c}", "\u{1}\u{1f}",
        "Учасник №2", "🦊 and 👩🏽‍💻", "\u{7f}", String(repeating: "x", count: 64),
    ]

    /// What the scripts' cjson writes, read back: the real producer, not a hand-made sample.
    @Test func readsWhatCjsonWrites() throws {
        let redis = try RedisServer()
        let connection = try RedisConnection(endpoint: redis.endpoint)
        for text in Self.awkward {
            let reply = try connection.execute("EVAL", "return cjson.encode({type='bidAccepted', requestId=ARGV[1], seq='7'})", "0", text)
            let payload = try #require(reply.string)
            let members = try #require(JSONScanner.flatStrings(payload), "\(payload)")
            #expect(members == ["type": "bidAccepted", "requestId": text, "seq": "7"])
            #expect(members == (try JSONDecoder().decode([String: String].self, from: Data(payload.utf8))))
        }
    }

    @Test func readsEscapesAndSurrogatePairsAsJSONDoes() throws {
        let payload = #" { "a" : "\u0041\u00e9\u0416\ud83e\udd8a" , "b":"\"\\\/\b\f\n\r\t" } "#
        let members = try #require(JSONScanner.flatStrings(payload))
        #expect(members == (try JSONDecoder().decode([String: String].self, from: Data(payload.utf8))))
        #expect(members["a"] == "AéЖ🦊")
        #expect(JSONScanner.flatStrings("{}") == [:])
    }

    /// Anything else is left to JSONDecoder (nil here), never half read.
    @Test func refusesWhatIsNotAFlatObjectOfStrings() {
        for text in [
            "", "[]", #"{"a":1}"#, #"{"a":{"b":"c"}}"#, #"{"a":"b""#, #"{"a":"b",}"#, #"{"a":"b"} x"#, #"{"a":"\x"}"#,
            #"{"a":"\ud83e"}"#, #"{"a":"\udd8a"}"#, #"{"a":"\u12"}"#, "{\"a\":\"line\nbreak\"}", #"{a:"b"}"#, #"{"a":"b","a":"c"}"#,
        ] {
            #expect(JSONScanner.flatStrings(text) == nil, "\(text)")
        }
    }

    /// Members are found by name in any order; nested values are skipped whole, strings with
    /// brackets and quotes inside them included.
    @Test func readsMembersInAnyOrderAndSkipsNestedValues() throws {
        let text = #"{"z":[{"a":"]}"},2,[3]],"n":-1.5e2,"t":true,"f":false,"x":null,"o":{"s":"\"{\""},"type":"state"}"#
        let members = try #require(Array(text.utf8).withUnsafeBytes { JSONScanner($0).object() })
        #expect(members["type"] == .string("state"))
        #expect(members["n"]?.double == -150)
        #expect(members["t"] == .bool(true) && members["f"] == .bool(false) && members["x"] == .null)
        let inner: [String: JSONScanner.Value]? = Array(text.utf8).withUnsafeBytes { bytes in
            guard case .object(let range)? = JSONScanner(bytes).object()?["o"] else { return nil }
            return JSONScanner(bytes).object(at: range)
        }
        #expect(inner?["s"] == .string(#""{""#))
        let count: Int? = Array(text.utf8).withUnsafeBytes { bytes in
            guard case .array(let range)? = JSONScanner(bytes).object()?["z"] else { return nil }
            return JSONScanner(bytes).array(at: range)?.count
        }
        #expect(count == 3)
        for broken in [#"{"a":[1,2}"#, #"{"a":01x}"#, #"{"a":tru}"#, #"{"a":"b"}}"#, #"{"a":{"b":"c"}"#] {
            #expect(Array(broken.utf8).withUnsafeBytes { JSONScanner($0).object() } == nil, "\(broken)")
        }
    }
}
