import AuctionTesting
import Foundation
import RedisClient
import Testing

@testable import AuctionStore

@Suite struct FlatJSONObjectTests {
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
            let members = try #require(FlatJSONObject.decode(payload), "\(payload)")
            #expect(members == ["type": "bidAccepted", "requestId": text, "seq": "7"])
            #expect(members == (try JSONDecoder().decode([String: String].self, from: Data(payload.utf8))))
        }
    }

    @Test func readsEscapesAndSurrogatePairsAsJSONDoes() throws {
        let payload = #" { "a" : "\u0041\u00e9\u0416\ud83e\udd8a" , "b":"\"\\\/\b\f\n\r\t" } "#
        let members = try #require(FlatJSONObject.decode(payload))
        #expect(members == (try JSONDecoder().decode([String: String].self, from: Data(payload.utf8))))
        #expect(members["a"] == "AéЖ🦊")
        #expect(FlatJSONObject.decode("{}") == [:])
    }

    /// Anything else is left to JSONDecoder (nil here), never half read.
    @Test func refusesWhatIsNotAFlatObjectOfStrings() {
        for text in [
            "", "[]", #"{"a":1}"#, #"{"a":{"b":"c"}}"#, #"{"a":"b""#, #"{"a":"b",}"#, #"{"a":"b"} x"#, #"{"a":"\x"}"#,
            #"{"a":"\ud83e"}"#, #"{"a":"\udd8a"}"#, #"{"a":"\u12"}"#, "{\"a\":\"line\nbreak\"}", #"{a:"b"}"#, #"{"a":"b","a":"c"}"#,
        ] {
            #expect(FlatJSONObject.decode(text) == nil, "\(text)")
        }
    }
}
