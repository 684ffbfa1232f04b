import AuctionCore
import AuctionRuntime
import Foundation
import Locking
import Logging
import Synchronization
import Testing

@Suite struct LifecycleTests {
    struct Refusal: Error {}

    @Test func startsInOrderAndStopsInReverse() throws {
        let journal = Locked<[String]>([])
        func part(_ name: String) -> Lifecycle.Part {
            .init(
                name, start: { journal.withLock { $0.append("start \(name)") } }, stop: { journal.withLock { $0.append("stop \(name)") } })
        }
        try Lifecycle([part("store"), part("clock"), part("server")], logger: Logger(label: "test")).run {
            journal.withLock { $0.append("running") }
        }
        #expect(
            journal.withLock { $0 } == ["start store", "start clock", "start server", "running", "stop server", "stop clock", "stop store"])
    }

    @Test func aPartThatRefusesToStartStopsThoseBeforeItAndNothingRuns() {
        let journal = Locked<[String]>([])
        let parts: [Lifecycle.Part] = [
            .init(
                "store", start: { journal.withLock { $0.append("start store") } }, stop: { journal.withLock { $0.append("stop store") } }),
            .init("server", start: { throw Refusal() }, stop: { journal.withLock { $0.append("stop server") } }),
        ]
        #expect(throws: Refusal.self) {
            try Lifecycle(parts, logger: Logger(label: "test")).run { journal.withLock { $0.append("running") } }
        }
        #expect(journal.withLock { $0 } == ["start store", "stop store"])
    }
}
