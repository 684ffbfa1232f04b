import LWSCore
import Testing

@Suite struct DeadlineQueueTests {
    @Test func takesWhatIsDueEarliestFirstAndTiesInTheOrderGiven() {
        let start = ContinuousClock.now
        var queue = DeadlineQueue<Int>()
        #expect(queue.nextDeadline == nil)
        for (work, offset) in [(5, 50), (3, 30), (4, 30), (1, 10), (2, 20), (6, 60)] {
            queue.add(work, at: start + .milliseconds(offset))
        }
        #expect(queue.nextDeadline == start + .milliseconds(10))
        #expect(queue.takeDue(at: start).isEmpty)
        #expect(queue.takeDue(at: start + .milliseconds(30)) == [1, 2, 3, 4])
        #expect(queue.nextDeadline == start + .milliseconds(50))
        queue.add(0, at: start)
        #expect(queue.takeDue(at: start + .milliseconds(100)) == [0, 5, 6])
        #expect(queue.isEmpty)
    }

    @Test func keepsOrderAcrossManyRandomDeadlines() {
        let start = ContinuousClock.now
        var queue = DeadlineQueue<(offset: Int, index: Int)>()
        var generator = SystemRandomNumberGenerator()
        let offsets = (0..<2_000).map { _ in Int.random(in: 0..<100, using: &generator) }
        for (index, offset) in offsets.enumerated() { queue.add((offset, index), at: start + .milliseconds(offset)) }
        let taken = queue.takeDue(at: start + .seconds(1))
        #expect(taken.count == offsets.count)
        let expected = offsets.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.map(\.offset)
        #expect(taken.map(\.index) == expected)
    }
}
