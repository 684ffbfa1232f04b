import AuctionCore
import AuctionProtocol
import AuctionTesting
import Foundation
import Testing

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
