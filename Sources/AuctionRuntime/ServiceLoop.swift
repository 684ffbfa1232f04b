// The one way the service runs something for as long as it lives: a named thread that makes its
// work on that thread (so the work's Redis connection and state belong to it alone), runs one pass
// after another, sleeps between them until the next is due or someone wakes it, and backs off
// after a pass that failed.
import AuctionCore
import Foundation
import Locking
import Synchronization

/// What a `ServiceLoop` runs. Made on the loop's thread and touched by nothing else.
public protocol LoopWork {
    /// One pass. Returns how long until the next pass is wanted (nil: the loop's interval). A
    /// thrown error is reported, and the next pass comes after the loop's backoff instead.
    mutating func pass(_ loop: ServiceLoop) throws -> Duration?
    /// After the last pass, on the loop's thread (a lease to give up, a connection to close).
    mutating func finish()
}

extension LoopWork {
    public mutating func finish() {}
}

public final class ServiceLoop: Sendable {
    public let name: String
    public let interval: Duration
    private let firstBackoff: Backoff
    private let report: @Sendable (any Error) -> Void
    private let state = Locked(State())
    /// Sleeps wait on it; `wake` and `stop` signal it under its lock, so no wake-up is missed.
    private let sleeper = NSCondition()
    private let finished = DispatchSemaphore(value: 0)
    /// The loop's thread (`pthread_self`), for `preconditionOnLoop`.
    private let owner = Atomic<UInt>(0)

    private struct State {
        var started = false
        var stopping = false
        var wakeRequested = false
    }

    /// - Parameters:
    ///   - interval: the wait between passes when a pass does not say.
    ///   - backoff: the wait after a failed pass, growing while passes keep failing.
    ///   - report: told of each failed pass, on the loop's thread.
    public init(
        name: String, interval: Duration, backoff: Backoff = Backoff(first: .milliseconds(20), maximum: .seconds(1)),
        report: @escaping @Sendable (any Error) -> Void = { _ in }
    ) {
        self.name = name
        self.interval = interval
        self.firstBackoff = backoff
        self.report = report
    }

    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// Starts the thread; `makeWork` runs on it. Later calls do nothing.
    public func start<Work: LoopWork>(_ makeWork: @escaping @Sendable () -> Work) {
        let first = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        let thread = Thread { [self] in
            owner.store(UInt(pthread_self()), ordering: .releasing)
            // Foundation's Thread.name does not reach the kernel on Linux, whose name (what top -H,
            // perf and /proc show) holds 15 bytes: the process's prefix is left out.
            let kernelName = name.hasPrefix("auctiond.") ? String(name.dropFirst("auctiond.".count)) : name
            try? String(decoding: kernelName.utf8.prefix(15), as: UTF8.self).write(
                toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            var work = makeWork()
            run(&work)
            work.finish()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Ends the sleep in progress, or the next one, at once (new work has come).
    public func wake() {
        state.withLock { $0.wakeRequested = true }
        sleeper.lock()
        sleeper.broadcast()
        sleeper.unlock()
    }

    /// Asks the loop to stop after the pass in progress and waits until its work has finished.
    public func stop() {
        let started = state.withLock { state in
            state.stopping = true
            return state.started
        }
        wake()
        if started { finished.wait() }
    }

    /// Stops the calling code unless it runs on this loop's thread (debug builds): what the work
    /// owns must not be reached from another thread.
    public func preconditionOnLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(UInt(pthread_self()) == owner.load(ordering: .acquiring), "\(name): called off its loop's thread", file: file, line: line)
    }

    /// Sleeps `duration` on the loop's thread, unless woken or stopped first. Passes that wait in
    /// the middle of their work (a retry) use it, so that `stop` is never kept waiting.
    public func sleep(_ duration: Duration) {
        preconditionOnLoop()
        sleeper.lock()
        defer { sleeper.unlock() }
        let shouldSleep = state.withLock { state in
            defer { state.wakeRequested = false }
            return !state.stopping && !state.wakeRequested
        }
        guard shouldSleep, duration > .zero else { return }
        _ = sleeper.wait(until: Date(timeIntervalSinceNow: duration.inSeconds))
        state.withLock { $0.wakeRequested = false }
    }

    private func run<Work: LoopWork>(_ work: inout Work) {
        var backoff = firstBackoff
        while !isStopping {
            let wait: Duration
            do {
                wait = try work.pass(self) ?? interval
                backoff.reset()
            } catch {
                report(error)
                wait = backoff.next()
            }
            if isStopping { break }
            sleep(wait)
        }
    }
}
