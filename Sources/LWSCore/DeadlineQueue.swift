/// Work due at given instants, earliest first; work due at the same instant comes out in the
/// order it went in. A binary heap: the load generator keeps thousands of timers (one per
/// waiting reconnect or bid), each added and taken once.
package struct DeadlineQueue<Work> {
    private struct Entry {
        let deadline: ContinuousClock.Instant
        let order: Int
        let work: Work
    }
    private var heap: [Entry] = []
    private var added = 0

    package init() {}

    package var isEmpty: Bool { heap.isEmpty }
    package var count: Int { heap.count }
    /// The earliest deadline, if any work waits.
    package var nextDeadline: ContinuousClock.Instant? { heap.first?.deadline }

    package mutating func add(_ work: Work, at deadline: ContinuousClock.Instant) {
        added += 1
        heap.append(Entry(deadline: deadline, order: added, work: work))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Takes out, in order, the work due at or before `now`.
    package mutating func takeDue(at now: ContinuousClock.Instant) -> [Work] {
        var due: [Work] = []
        while let first = heap.first, first.deadline <= now { due.append(popFirst()) }
        return due
    }

    private func before(_ a: Entry, _ b: Entry) -> Bool { (a.deadline, a.order) < (b.deadline, b.order) }

    private mutating func popFirst() -> Work {
        let first = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first.work }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, before(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, before(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return first.work }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
