import AuctionCore
import AuctionProtocol
import Testing

/// Bids and cancels are read by a flat fast path before JSONDecoder; for every text, good or
/// bad, the answer must be the one JSONDecoder alone gives.
@Suite struct ClientMessageTests {
    static let texts = [
        #"{"type":"bid","amount":"900.00","requestId":"r-1"}"#,
        #"{ "requestId" : "Запит \"1\" \u00e9 🦊", "type" : "bid", "amount" : "1 000,50" }"#,
        #"{"type":"bid","amount":900.5,"requestId":"n"}"#,
        #"{"type":"bid","amount":true,"requestId":"b"}"#,
        #"{"type":"bid","amount":"-1","requestId":"c"}"#,
        #"{"type":"cancel","requestId":"c"}"#,
        #"{"type":"cancel"}"#,
        #"{"type":"ping","clientTime":1732000000000}"#,
        #"{"type":"ping","clientTime":"soon"}"#,
        #"{"type":"resync","sinceSeq":17}"#,
        #"{"type":"resync","sinceSeq":"17"}"#,
        #"{"type":"dance"}"#,
        #"{"type":"bid","requestId":""}"#,
        "{\"type\":\"bid\",\"requestId\":\"" + String(repeating: "x", count: 65) + "\"}",
        #"{"type":"bid","amount":"1.00","extra":"ignored"}"#,
        #"{"type":"bid","type":"cancel","requestId":"twice"}"#,
        #"{"type":5}"#, #"{"amount":"1.00"}"#, "{not json", "[1,2]", "", #"{"type":"bid","amount":"\ud800"}"#,
    ]

    @Test(arguments: texts) func theFastPathAnswersAsJSONDecoderDoes(text: String) {
        #expect(ClientMessage.read(text) == ClientMessage.readWithDecoder(text), "\(text)")
    }

    @Test func aBidIsReadWithItsFields() {
        #expect(
            ClientMessage.read(#"{"type":"bid","amount":"900.00","requestId":"r-1"}"#)
                == .success(.bid(amount: .text("900.00"), requestId: "r-1")))
        #expect(ClientMessage.read(#"{"type":"cancel","requestId":"c"}"#) == .success(.cancel(requestId: "c")))
    }

    /// What the load generator and the test client send reads back as itself.
    @Test func aWrittenMessageReadsBackAsItself() {
        for message in [
            ClientMessage.bid(amount: .text("1 000,50"), requestId: #"Запит "1" \ 🦊"#), .bid(amount: .number(-1), requestId: "c"),
            .bid(amount: .number(900.5), requestId: nil), .cancel(requestId: "x"), .ping(clientTime: 1_732_000_000_000),
            .ping(clientTime: 0.25), .resync(sinceSeq: 17), .resync(sinceSeq: nil),
        ] {
            #expect(ClientMessage.read(message.text) == .success(message), "\(message.text)")
        }
    }
}
