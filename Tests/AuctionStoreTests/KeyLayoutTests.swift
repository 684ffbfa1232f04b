import AuctionCore
@testable import AuctionStore
import AuctionTesting
import Foundation
import RedisClient
import Synchronization
import Testing

@Suite struct KeyLayoutTests {
    @Test func keysOfOneAuctionShareItsHashTag() {
        let keys = AuctionKeys("abc_1")
        for key in [keys.plan, keys.live, keys.log, keys.pending, keys.requests, keys.bidders, keys.lease, keys.report, keys.channel] {
            #expect(key.hasPrefix("auction:{abc_1}:"))
        }
    }
}
