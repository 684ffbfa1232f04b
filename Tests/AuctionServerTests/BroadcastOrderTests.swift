import Testing

@testable import AuctionServer

/// A public state is written to the auction's bidders before its observers.
@Suite struct BroadcastOrderTests {
    @Test func biddersComeBeforeObserversInTheirOwnOrder() {
        let connections = [(1, false), (2, true), (3, false), (4, false), (5, true), (6, false)]
        #expect(biddersFirst(connections) { $0.1 }.map(\.0) == [2, 5, 1, 3, 4, 6])
        #expect(biddersFirst([(Int, Bool)]()) { $0.1 }.isEmpty)
    }
}
