import Testing

@testable import AuctionServer

@Suite struct AddressRateLimiterTests {
    @Test func aBurstOfTwiceTheRateThenTheRate() {
        var limiter = AddressRateLimiter(perSecond: 5)
        let burst = (0..<12).map { _ in limiter.admit("10.0.0.1", nowMilliseconds: 1000) }
        #expect(burst == Array(repeating: true, count: 10) + [false, false])
        let other = limiter.admit("10.0.0.2", nowMilliseconds: 1000)
        #expect(other, "another address has its own allowance")
        let later = [1199, 1200, 1200].map { limiter.admit("10.0.0.1", nowMilliseconds: Int64($0)) }
        #expect(later == [false, true, false], "a token takes 200 ms to come back")
        let afterAQuietMinute = (0..<11).map { _ in limiter.admit("10.0.0.1", nowMilliseconds: 61_200) }
        #expect(afterAQuietMinute.filter { $0 }.count == 10, "a quiet address gets its whole burst back, no more")
    }

    @Test func zeroIsNoLimit() {
        var limiter = AddressRateLimiter(perSecond: 0)
        let admitted = (0..<10_000).filter { _ in limiter.admit("10.0.0.1", nowMilliseconds: 0) }
        #expect(admitted.count == 10_000)
        #expect(limiter.trackedAddresses == 0)
    }

    @Test func quietAddressesAreForgottenSoTheTableStaysBounded() {
        var limiter = AddressRateLimiter(perSecond: 10, sweepAbove: 100)
        for second in 0..<50 {
            for n in 0..<100 { _ = limiter.admit("10.\(second).0.\(n)", nowMilliseconds: Int64(second) * 1000) }
        }
        #expect(limiter.trackedAddresses <= 400, "\(limiter.trackedAddresses) of 5,000 addresses seen")
        // Forgetting a full bucket changes no answer: a forgotten address starts with its burst.
        let again = (0..<21).map { _ in limiter.admit("10.0.0.0", nowMilliseconds: 50_000) }
        #expect(again == Array(repeating: true, count: 20) + [false])
    }
}
