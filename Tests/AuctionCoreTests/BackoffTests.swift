import AuctionCore
import Testing

@Suite struct BackoffTests {
    @Test func doublesUpToTheMaximumAndStartsAgainAfterReset() {
        var backoff = Backoff(first: .milliseconds(20), maximum: .milliseconds(100))
        #expect((0..<5).map { _ in backoff.next() } == [20, 40, 80, 100, 100].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.next() == .milliseconds(20))
    }

    @Test func jitterDrawsEachWaitBetweenItsFractionAndTheNominalWait() {
        var backoff = Backoff(first: .seconds(1), maximum: .seconds(8), jitter: 0.5)
        var generator = SystemRandomNumberGenerator()
        for nominal in [1, 2, 4, 8, 8] {
            let wait = backoff.next(using: &generator)
            #expect(wait >= .milliseconds(nominal * 500) && wait <= .seconds(nominal))
        }
    }
}
