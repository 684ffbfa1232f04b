import AuctionStore
import Testing

@Suite struct KeyLayoutTests {
    @Test func keysOfOneAuctionShareItsHashTag() {
        #expect(auctionKeyPrefix("abc_1") == "auction:{abc_1}")
    }
}
