import AuctionCore
import AuctionProtocol
import AuctionTesting
import Foundation
import Testing

/// The hand-written `text` of each server message against the Codable path (JSONEncoder, keys
/// sorted): the same bytes, and decoding gives the message back.
@Suite struct ServerMessageTests {
    static let awkward = [
        #"say "hi""#, #"back\slash"#, "a/b", "tab\there\nnewline\r\u{8}\u{c}", "\u{1}\u{1f}", "Учасник №2", "🦊", "\u{7f}",
    ]

    static var messages: [ServerMessage] {
        var all: [ServerMessage] = [
            .welcome(.init(role: "observer", auctionId: "a-1", serverTime: 1_732_000_000_123, bidder: nil)),
            .welcome(.init(role: "bidder", auctionId: "a-1", serverTime: 5, bidder: .init(number: 2, coefficient: nil))),
            .welcome(.init(role: "bidder", auctionId: "a-1", serverTime: 5, bidder: .init(number: 3, coefficient: "0.95"))),
            .bidAccepted(requestId: nil, amount: "900.00", serverTime: 7),
            .bidCancelled(requestId: "c-1", serverTime: -1),
            .bidRejected(requestId: nil, code: "too_high", message: "The amount is higher than your own price less the step."),
            .pendingBid(amount: "1 000.00"),
            .pong(clientTime: nil, serverTime: 9), .pong(clientTime: 1_732_000_000_000, serverTime: 9),
            .pong(clientTime: 0.5, serverTime: 9),
            .error(code: .unavailable, message: "Send it again.", requestId: "r"), .error(code: .badJSON, message: "x", requestId: nil),
        ]
        for text in awkward {
            all.append(.bidAccepted(requestId: text, amount: text, serverTime: 1))
            all.append(.error(code: .invalidToken, message: text, requestId: nil))
            all.append(.welcome(.init(role: "bidder", auctionId: text, serverTime: 1, bidder: .init(number: 1, coefficient: text))))
        }
        return all
    }

    @Test(arguments: messages) func theFastTextIsTheCodableText(message: ServerMessage) throws {
        #expect(message.text == ServerMessage.canonical(message))
        #expect(try ServerMessage.decode(message.text) == message)
    }

    @Test func aStateIsTheCodableTextAndReadsBack() throws {
        var view = try samplePlannedAuction(criteria: .lowestCost, start: Timestamp(milliseconds: 1_732_000_000_000))
            .publicView(serverTime: Timestamp(milliseconds: 5))
        view.title = #"Лот "{1}" [a]: "stages":["#
        let message = ServerMessage.state(seq: 3, auction: view)
        #expect(message.text.hasPrefix(#"{"auction":{"#) && message.text.hasSuffix(#""seq":3,"type":"state"}"#))
        #expect(try ServerMessage.decode(message.text) == message)
    }
}
