import AuctionRuntime
import AuctionServer
import AuctionTesting
import Foundation
import Testing

@Suite struct ParticipationTokenTests {
    @Test func aTokenIsTheFirst32HexDigitsOfTheHMACOfAuctionAndBid() {
        let tokens = ParticipationTokens(secrets: ["key"])
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") starts f7bc83f430538424b13298e6aa6fb143.
        #expect(tokens.token(auctionId: "The quick brown fox jumps over the lazy dog", bidId: "").count == 32)
        let token = tokens.token(auctionId: "a", bidId: "b")
        #expect(token.allSatisfy { $0.isHexDigit })
        #expect(tokens.verify(token, auctionId: "a", bidId: "b"))
        #expect(!tokens.verify(token, auctionId: "a", bidId: "c"))
        #expect(!tokens.verify(String(token.dropLast()), auctionId: "a", bidId: "b"))
        #expect(
            tokens.participationURL(auctionURL: "http://x/tenders/a", auctionId: "a", bidId: "b")
                == "http://x/tenders/a?key_for_bid=b&hash=\(token)")
    }

    @Test func everyConfiguredSecretVerifiesAndTheFirstSigns() {
        let old = ParticipationTokens(secrets: ["old"])
        let rotated = ParticipationTokens(secrets: ["new", "old"])
        #expect(rotated.verify(old.token(auctionId: "a", bidId: "b"), auctionId: "a", bidId: "b"))
        #expect(rotated.token(auctionId: "a", bidId: "b") == ParticipationTokens(secrets: ["new"]).token(auctionId: "a", bidId: "b"))
        #expect(!ParticipationTokens(secrets: ["other"]).verify(old.token(auctionId: "a", bidId: "b"), auctionId: "a", bidId: "b"))
    }
}
