import AuctionTesting
import Foundation
import Testing

@testable import AuctionCore

@Suite struct BidRuleTests {
    @Test func lowestCostBidMustBeAtMostOwnPriceLessStep() {
        let own = Money(kopiyky: 95_000)
        let step = Money(kopiyky: 1_000)
        #expect(checkStep(amount: Money(kopiyky: 94_000), own: own, step: step, criteria: .lowestCost) == nil)
        #expect(checkStep(amount: Money(kopiyky: 94_001), own: own, step: step, criteria: .lowestCost)?.code == .tooHigh)
        #expect(checkStep(amount: .zero, own: own, step: step, criteria: .lowestCost)?.code == .tooLow)
        #expect(checkStep(amount: Money(kopiyky: -150), own: own, step: step, criteria: .lowestCost)?.code == .tooLow)
    }

    @Test func highestCostBidMustBeAtLeastOwnPricePlusStep() {
        let own = Money(kopiyky: 12_000)
        let step = Money(kopiyky: 500)
        #expect(checkStep(amount: Money(kopiyky: 12_500), own: own, step: step, criteria: .highestCost) == nil)
        #expect(checkStep(amount: Money(kopiyky: 12_499), own: own, step: step, criteria: .highestCost)?.code == .tooLow)
    }

    @Test func minusOneCancelsAndNonsenseIsInvalid() {
        #expect(readBidIntent(.number(-1)) == .success(.cancel))
        #expect(readBidIntent(.text("-1")) == .success(.cancel))
        #expect(readBidIntent(.text("480.50")) == .success(.place(Money(kopiyky: 48_050))))
        #expect(readBidIntent(.number(480.5)) == .success(.place(Money(kopiyky: 48_050))))
        for bad in [AmountInput.text("abc"), .text("1.005"), .text("NaN"), .number(.nan), .number(1e308), .text("12,50")] {
            guard case .failure(let rejection) = readBidIntent(bad) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(rejection.code == .invalidAmount)
        }
    }

    @Test func rejectionCodesAreTheProtocols() {
        #expect(
            BidRejectionCode.allCases.map(\.rawValue) == [
                "too_high", "too_low", "not_your_turn", "not_bidding_stage", "turn_over", "invalid_amount", "observer", "request_id_reused",
            ])
        #expect(BidRejection(.tooHigh).message == "Too high value")
        #expect(BidRejection(.notYourTurn).message == "Not valid bidder")
        #expect(BidRejection(.notBiddingStage).message == "Stage not for bidding")
    }
}
