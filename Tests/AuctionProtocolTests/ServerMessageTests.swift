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

/// What a client reads at a glance equals what decoding the whole message says.
@Suite struct ServerMessageGlanceTests {
    @Test func aStateAtAGlanceIsTheDecodedState() throws {
        var view = try samplePlannedAuction(criteria: .lowestCost, start: Timestamp(milliseconds: 1_732_000_000_000))
            .publicView(serverTime: Timestamp(milliseconds: 1_732_000_000_123))
        view.title = #"Лот "{1}" [a]: "stages":[ "seq":9 "status":"x""#
        view.stages[1].amount = "885.00"
        view.stages[1].normalizedAmount = "0.97"
        view.stages[1].changed = true
        let text = ServerMessage.state(seq: 17, auction: view).text
        let (glance, stages) = Array(text.utf8).withUnsafeBytes { bytes in
            let glance = ServerMessageGlance(bytes)
            return (glance, glance?.stages(in: bytes))
        }
        #expect(glance?.type == "state")
        #expect(glance?.seq == 17)
        #expect(glance?.currentStage == Int64(view.currentStage))
        #expect(glance?.serverTime == 1_732_000_000_123)
        #expect(glance?.status == view.status.rawValue)
        let expected = view.stages.map { stage in
            ServerMessageGlance.Stage(
                type: stage.type.rawValue, start: stage.start, end: stage.end ?? 0, bidder: stage.bidder, amount: stage.amount)
        }
        #expect(stages == expected)
    }

    @Test func theSmallMessagesAtAGlance() {
        func glance(_ message: ServerMessage) -> ServerMessageGlance? {
            Array(message.text.utf8).withUnsafeBytes { ServerMessageGlance($0) }
        }
        #expect(
            glance(.welcome(.init(role: "bidder", auctionId: "a", serverTime: 1, bidder: .init(number: 4, coefficient: nil))))?.bidderNumber
                == 4)
        #expect(glance(.welcome(.init(role: "observer", auctionId: "a", serverTime: 1, bidder: nil)))?.bidderNumber == nil)
        let accepted = glance(.bidAccepted(requestId: "r-1", amount: "900.00", serverTime: 77))
        #expect(
            accepted?.type == "bidAccepted" && accepted?.requestId == "r-1" && accepted?.amount == "900.00" && accepted?.serverTime == 77)
        #expect(glance(.bidRejected(requestId: "r", code: "turn_over", message: "m"))?.code == "turn_over")
        #expect(glance(.error(code: .rateLimited, message: "m", requestId: nil))?.code == "rate_limited")
        for broken in ["", "[]", #"{"type":5}"#, #"{"auction":{"#] {
            #expect(Array(broken.utf8).withUnsafeBytes { ServerMessageGlance($0) } == nil, "\(broken)")
        }
    }
}
