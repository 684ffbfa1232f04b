import AuctionCore
@testable import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import Testing

/// The bid script's one encoding, read back; anything else is not an answer.
@Suite struct BidScriptReplyTests {
    @Test func everyFormReadsAndNothingElseDoes() {
        #expect(
            BidScriptReply("accepted|7|1732000000000123|90000")
                == .verdict(.accepted(seq: 7, amount: Money(kopiyky: 90000), at: Timestamp(microseconds: 1_732_000_000_000_123))))
        #expect(BidScriptReply("cancelled|8|5") == .verdict(.cancelled(seq: 8, at: Timestamp(microseconds: 5))))
        #expect(BidScriptReply("rejected|turn_over|5") == .verdict(.rejected(.turnOver, at: Timestamp(microseconds: 5))))
        #expect(BidScriptReply("missing") == .missing)
        #expect(BidScriptReply("outage") == .outage)
        for text in ["", "accepted|7|5", "accepted|7|5|90000|x", "rejected|dancing|5", "rejected||5", "cancelled|x|5", "outage|1", "ok"] {
            #expect(BidScriptReply(text) == nil, "\(text)")
        }
    }
}
