import AuctionCore
import AuctionRuntime
import Foundation
import Locking
import Logging
import Synchronization
import Testing

/// A record of what a loop's work saw, shared with the test.
final class Journal: Sendable {
    let passes = Locked<[UInt]>([])  // the thread of each pass
    let finishedOn = Locked<UInt?>(nil)
    var count: Int { passes.withLock { $0.count } }

    func waitFor(passes wanted: Int, within limit: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now + limit
        while count < wanted, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        return count >= wanted
    }
}

struct ScriptedWork: LoopWork {
    let journal: Journal
    /// The outcome of each pass in turn: nil succeeds with the loop's interval.
    var script: [Result<Duration?, TestFailure>]

    struct TestFailure: Error {}

    mutating func pass(_ loop: ServiceLoop) throws -> Duration? {
        loop.preconditionOnLoop()
        journal.passes.withLock { $0.append(UInt(pthread_self())) }
        return try (script.isEmpty ? .success(nil) : script.removeFirst()).get()
    }

    mutating func finish() {
        journal.finishedOn.withLock { $0 = UInt(pthread_self()) }
    }
}

@Suite struct ServiceLoopTests {
    @Test func runsItsWorkOnItsOwnNamedThreadAndStopWaitsForTheFinish() {
        let journal = Journal()
        let loop = ServiceLoop(name: "test-loop", interval: .milliseconds(1))
        loop.start { ScriptedWork(journal: journal, script: []) }
        #expect(journal.waitFor(passes: 3))
        loop.stop()
        let threads = journal.passes.withLock { Set($0) }
        #expect(threads.count == 1 && !threads.contains(UInt(pthread_self())), "every pass on the loop's one thread")
        #expect(journal.finishedOn.withLock { $0 } == threads.first)
        let after = journal.count
        Thread.sleep(forTimeInterval: 0.05)
        #expect(journal.count == after, "no pass after stop returned")
    }

    /// `top -H`, `perf` and /proc show which loop a thread is: the kernel keeps 15 bytes of a name,
    /// so the process's own prefix is left out.
    @Test func theKernelKnowsTheThreadByTheLoopsName() {
        final class Seen: Sendable { let name = Locked<String?>(nil) }
        struct ReadsItsName: LoopWork {
            let seen: Seen
            mutating func pass(_ loop: ServiceLoop) throws -> Duration? {
                let name = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
                seen.name.withLock { $0 = name?.trimmingCharacters(in: .newlines) }
                return nil
            }
        }
        let seen = Seen()
        let loop = ServiceLoop(name: "auctiond.worker.12", interval: .seconds(3600))
        loop.start { ReadsItsName(seen: seen) }
        let deadline = ContinuousClock.now + .seconds(10)
        while seen.name.withLock({ $0 }) == nil, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        loop.stop()
        #expect(seen.name.withLock { $0 } == "worker.12")
    }

    @Test func wakeEndsTheSleepAtOnceAndStopDoesNotWaitForTheInterval() {
        let journal = Journal()
        let loop = ServiceLoop(name: "sleepy", interval: .seconds(3600))
        loop.start { ScriptedWork(journal: journal, script: []) }
        #expect(journal.waitFor(passes: 1))
        loop.wake()
        #expect(journal.waitFor(passes: 2), "a wake-up runs the next pass without waiting an hour")
        let stopping = ContinuousClock.now
        loop.stop()
        #expect(ContinuousClock.now - stopping < .seconds(60))
    }

    @Test func aFailedPassIsReportedAndTheNextComesAfterTheBackoffNotTheInterval() {
        let journal = Journal()
        let failures = Locked(0)
        let loop = ServiceLoop(
            name: "failing", interval: .seconds(3600), backoff: Backoff(first: .milliseconds(1), maximum: .milliseconds(2)),
            report: { _ in failures.withLock { $0 += 1 } })
        loop.start {
            ScriptedWork(
                journal: journal,
                script: [.failure(.init()), .failure(.init()), .success(.milliseconds(1)), .success(nil)])
        }
        #expect(journal.waitFor(passes: 4), "two failures and a short wait, then the hour-long interval")
        Thread.sleep(forTimeInterval: 0.05)
        loop.stop()
        #expect(journal.count == 4)
        #expect(failures.withLock { $0 } == 2)
    }

    @Test func stopBeforeStartAndTwiceReturns() {
        let loop = ServiceLoop(name: "never", interval: .seconds(1))
        loop.stop()
        loop.stop()
        #expect(loop.isStopping)
    }
}
