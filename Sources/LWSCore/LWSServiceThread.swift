// The thread that owns an lws context, shared by WebServer and WebSocketClientPool. lws objects
// may only be touched on it (lws is built with LWS_MAX_SMP 1); other threads hand it work as
// commands: queued here, then an `ev_async` wakes the loop and runs `drain` on this thread. (On
// lws's own loop, the fallback, `lws_cancel_service` wakes it and the owner calls `drain` on
// LWS_CALLBACK_EVENT_WAIT_CANCELLED.)
//
// Two lanes: commands marked `ahead` (an answer to one client's own request) run before the
// others, and one drain runs the others for about `drainBudget` before the loop serves its sockets
// again (see `drain`), so that a bid is never read, or answered, behind a whole broadcast.
//
// The loop is libev's (epoll), made here and handed to lws as a foreign loop: lws's own loop is
// poll(), which walks every socket on each wake-up. libev, not libuv: lws closes
// libuv handles asynchronously, so on a libuv loop close frames were lost at stop and a failed
// context crashed in clean-up; libev's watchers stop at once. A loop lws made itself would carry a
// SIGINT watcher, which libev refuses to attach to a second loop in the same process.
import CLibWebSockets
import CShims
import Foundation
import Locking
import Synchronization

package final class LWSServiceThread<Command: Sendable>: @unchecked Sendable {
    private let name: String
    private let lanes = Locked<Lanes>(Lanes())
    /// How long one drain runs queued work before the loop serves its sockets again, and up to
    /// how many waiting commands it may leave for the next drain.
    static var drainBudget: Duration { .milliseconds(1) }
    static var deferLimit: Int { 1024 }
    /// What a drain took from the queue and has not run yet, from `carriedNext` on (service
    /// thread only).
    private var carried: [Command] = []
    private var carriedNext = 0
    private var lastDrainEnded = ContinuousClock.now
    private var lastDrainStoppedEarly = false

    private struct Lanes {
        /// Answers: run first, and between the others.
        var ahead: [Command] = []
        var queue: [Command] = []
        var isEmpty: Bool { ahead.isEmpty && queue.isEmpty }
    }
    private let stopRequested = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)
    /// How other threads wake the loop (the only loop call they make).
    private let wakeTarget = Locked<WakeTarget?>(nil)
    /// What the libev wake-up runs on the service thread.
    private var woken: WokenHandler?
    /// What the libev timer runs on the service thread.
    private var ticking: WokenHandler?
    /// Work given a time to run (`run(at:)`), and the one-shot libev timer set for the earliest
    /// (service thread only).
    private var timed = DeadlineQueue<() -> Void>()
    private var timedTimer: UnsafeMutableRawPointer?
    private var timedFired: WokenHandler?
    private let stopped = DispatchSemaphore(value: 0)
    private var thread: Thread?
    /// The owner's part, set by `start` and cleared when the thread ends (they hold the owner).
    private var execute: ((Command) -> Void)?
    private var hooks: Hooks?

    private struct Hooks {
        let tick: (interval: Duration, run: () -> Void)?
        let createContext: () -> OpaquePointer?
        let beforeDestroy: (_ serviceOnce: () -> Void) -> Void
        let afterDestroy: () -> Void
    }

    /// The context while the thread runs; only for use on the service thread.
    package private(set) var context: OpaquePointer?
    /// The libev loop, handed to lws through `info.foreign_loops` (one per service thread).
    private let foreignLoops = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1)

    package init(name: String) {
        self.name = name
        foreignLoops.initialize(to: nil)
    }

    deinit { foreignLoops.deallocate() }

    /// Puts the context on this thread's libev loop; `createContext` calls it on `info`. Without
    /// a loop (libev failed to make one) lws keeps its own poll() loop.
    package func useEventLoop(_ info: inout lws_context_creation_info) {
        guard foreignLoops.pointee != nil else { return }
        info.options |= cshim_option_libev()
        info.foreign_loops = foreignLoops
    }

    /// "epoll" when the context runs on libev's epoll loop, "poll" on lws's own.
    package var eventLoopName: String {
        foreignLoops.pointee.map { String(cString: cshim_ev_backend_name($0)) } ?? "poll"
    }

    package var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Stops a debug build when called off the service thread: lws objects, and what the owner
    /// keeps about them, belong to that thread alone (lws is built with LWS_MAX_SMP 1).
    package func preconditionOnServiceThread(file: StaticString = #fileID, line: UInt = #line) {
        assert(
            threadID.load(ordering: .acquiring) == UInt(pthread_self()), "\(name): lws state touched off its service thread", file: file,
            line: line)
    }

    /// Starts the thread and returns once the context exists (false if lws could not create it).
    /// - Parameters:
    ///   - createContext: on the thread: `lws_create_context`.
    ///   - execute: runs one command, on the thread.
    ///   - beforeDestroy: on the thread once `stop` was asked for; may run the loop a while longer
    ///     through the function it gets (each call serves one round of events).
    ///   - afterDestroy: on the thread, after the context is gone.
    ///   - tick: runs on the thread every `interval` (a libev timer; on lws's own poll() loop,
    ///     after the first round of events past each `interval`).
    package func start(
        tick: (interval: Duration, run: () -> Void)? = nil,
        createContext: @escaping () -> OpaquePointer?,
        execute: @escaping (Command) -> Void,
        beforeDestroy: @escaping (_ serviceOnce: () -> Void) -> Void = { _ in },
        afterDestroy: @escaping () -> Void = {}
    ) -> Bool {
        self.execute = execute
        hooks = Hooks(tick: tick, createContext: createContext, beforeDestroy: beforeDestroy, afterDestroy: afterDestroy)
        let ready = DispatchSemaphore(value: 0)
        let created = Atomic<Bool>(false)
        let thread = Thread { [self] in
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            // What top -H and perf show (Foundation's Thread.name does not reach the kernel on Linux).
            try? String(decoding: name.utf8.prefix(15), as: UTF8.self).write(
                toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            foreignLoops.pointee = cshim_ev_loop_new()
            guard let hooks, let context = hooks.createContext() else {
                destroyLoop()
                forgetOwner()
                ready.signal()
                stopped.signal()
                return
            }
            self.context = context
            let target = makeWakeTarget(context)
            wakeTarget.withLock { $0 = target }
            let ticker = startTicker(hooks.tick)
            created.store(true, ordering: .releasing)
            ready.signal()
            var nextTick = hooks.tick.map { ContinuousClock.now + $0.interval }
            while !isStopRequested {
                if !serviceOnce(context, within: 0) { break }
                if ticker == nil, let tick = hooks.tick, let due = nextTick, ContinuousClock.now >= due {
                    tick.run()
                    nextTick = ContinuousClock.now + tick.interval
                }
                if timedTimer == nil, let due = timed.nextDeadline, ContinuousClock.now >= due { runTimedWork() }
            }
            hooks.beforeDestroy { _ = serviceOnce(context, within: 0.05) }
            if let loop = foreignLoops.pointee {
                if let ticker { cshim_ev_timer_free(loop, ticker) }
                if let timedTimer { cshim_ev_timer_free(loop, timedTimer) }
            }
            ticking = nil
            timedTimer = nil
            timedFired = nil
            timed = DeadlineQueue()
            wakeTarget.withLock { $0 = nil }
            if case .libev(let loop, let wake) = target { cshim_ev_wake_free(loop, wake) }
            woken = nil
            lws_context_destroy(context)
            self.context = nil
            destroyLoop()
            hooks.afterDestroy()
            forgetOwner()
            stopped.signal()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
        ready.wait()
        return created.load(ordering: .acquiring)
    }

    /// Asks the loop to end and waits until the context is destroyed. Only the first call acts.
    package func stop() {
        guard thread != nil, !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake()
        stopped.wait()
    }

    /// Runs `command` now when called on the service thread, otherwise queues it and wakes lws;
    /// `ahead` puts it before the commands queued without it.
    /// Only the command that finds the queue empty wakes it: the ones queued behind it are run by
    /// the same `drain`: a wake-up is a write, a loop round and (on the poll() fallback) a walk
    /// over every socket, once for a burst of broadcasts rather than once for each.
    package func perform(_ command: Command, ahead: Bool = false) {
        if threadID.load(ordering: .acquiring) == UInt(pthread_self()) {
            execute?(command)
        } else {
            let first = lanes.withLock { lanes in
                defer { if ahead { lanes.ahead.append(command) } else { lanes.queue.append(command) } }
                return lanes.isEmpty
            }
            if first { wake() }
        }
    }

    /// Runs the queued commands: on the libev wake-up, and from the owner's
    /// LWS_CALLBACK_EVENT_WAIT_CANCELLED on the poll() fallback. The answers first and between
    /// the others. After `drainBudget` (or, after a drain that stopped early, as long as the loop
    /// was away, if that was longer), while no more than `deferLimit` commands wait, what is left
    /// waits for the next drain and the loop is woken again, so it reads its sockets before it
    /// goes on. A longer backlog is run straight through: a loop that spends its rounds reading
    /// must not let the queue grow without bound.
    package func drain() {
        guard let execute else { return }
        let began = ContinuousClock.now
        defer { lastDrainEnded = ContinuousClock.now }
        // After a drain that stopped early, the loop did not sleep (it was woken at once), so the
        // time since then was spent reading: write for at least as long, so that a loop whose
        // rounds are long with reading still gives half its time to writing.
        let budget = lastDrainStoppedEarly ? max(Self.drainBudget, began - lastDrainEnded) : Self.drainBudget
        lastDrainStoppedEarly = false
        if carriedNext == carried.count {
            carried.removeAll(keepingCapacity: true)
            carriedNext = 0
            lanes.withLock { lanes in swap(&carried, &lanes.queue) }
        }
        runAnswers(execute)
        var ranOne = false
        while carriedNext < carried.count {
            if ranOne, carried.count - carriedNext <= Self.deferLimit, ContinuousClock.now - began >= budget {
                lastDrainStoppedEarly = true
                wake()
                return
            }
            let command = carried[carriedNext]
            carriedNext += 1
            execute(command)
            ranOne = true
            runAnswers(execute)
        }
        // A command queued while a drain ran the leftovers of the one before found the queue
        // empty and woke the loop, but that wake-up may have been this drain: wake again, or it
        // waits for the next command that happens to find the queue empty.
        if lanes.withLock({ !$0.isEmpty }) { wake() }
    }

    private func runAnswers(_ execute: (Command) -> Void) {
        let answers = lanes.withLock { lanes -> [Command] in
            guard !lanes.ahead.isEmpty else { return [] }
            defer { lanes.ahead.removeAll(keepingCapacity: true) }
            return lanes.ahead
        }
        answers.forEach(execute)
    }

    /// Runs `work` on this thread at `deadline`, or as soon after as the loop is free; work due at
    /// the same instant runs in the order given. Call it on the service thread (owners take
    /// requests from elsewhere as commands). On libev a one-shot timer is set for the earliest
    /// deadline; on lws's own poll() loop, due work runs after each round of events.
    package func run(at deadline: ContinuousClock.Instant, _ work: @escaping () -> Void) {
        preconditionOnServiceThread()
        let earliest = timed.nextDeadline
        timed.add(work, at: deadline)
        if earliest.map({ deadline < $0 }) ?? true { armTimedTimer() }
    }

    private func runTimedWork() {
        for work in timed.takeDue(at: .now) { work() }
        armTimedTimer()
    }

    /// Sets the one timer for the earliest deadline. A timer that fires early (libev counts from
    /// the loop's cached time) finds nothing due and is set again for what remains.
    private func armTimedTimer() {
        guard let deadline = timed.nextDeadline, let loop = foreignLoops.pointee else { return }
        let seconds = Self.seconds(max(.zero, deadline - .now))
        if let timedTimer {
            cshim_ev_timer_rearm(loop, timedTimer, seconds)
            return
        }
        let handler = WokenHandler { [unowned self] in runTimedWork() }
        timedFired = handler
        let owner = Unmanaged.passUnretained(handler).toOpaque()
        guard let timer = cshim_ev_timer_new(loop, seconds, 0, { owner in WokenHandler.fire(owner) }, owner) else {
            fatalError("no memory for the event loop's timer")
        }
        timedTimer = timer
    }

    private func wake() {
        wakeTarget.withLock { target in
            switch target {
            case .lws(let context): lws_cancel_service(context)
            case .libev(let loop, let wake): cshim_ev_wake(loop, wake)
            case nil: break
            }
        }
    }

    /// On libev, an ev_async that drains the queue (lws 4.1 leaves its own wake-up pipe out of a
    /// foreign loop); on lws's poll() loop, `lws_cancel_service`.
    private func makeWakeTarget(_ context: OpaquePointer) -> WakeTarget {
        guard let loop = foreignLoops.pointee else { return .lws(context) }
        let handler = WokenHandler { [unowned self] in drain() }
        woken = handler
        let owner = Unmanaged.passUnretained(handler).toOpaque()
        // lws_cancel_service cannot stand in: lws does not watch its pipe on a foreign loop.
        guard let wake = cshim_ev_wake_new(loop, { owner in WokenHandler.fire(owner) }, owner) else {
            fatalError("no memory for the event loop's wake-up")
        }
        return .libev(loop: loop, wake: wake)
    }

    /// A repeating libev timer for `tick`, on libev; nil on lws's own loop.
    private func startTicker(_ tick: (interval: Duration, run: () -> Void)?) -> UnsafeMutableRawPointer? {
        guard let tick, let loop = foreignLoops.pointee else { return nil }
        let handler = WokenHandler(tick.run)
        ticking = handler
        let owner = Unmanaged.passUnretained(handler).toOpaque()
        let seconds = Self.seconds(tick.interval)
        guard let timer = cshim_ev_timer_new(loop, seconds, seconds, { owner in WokenHandler.fire(owner) }, owner) else {
            fatalError("no memory for the event loop's timer")
        }
        return timer
    }

    /// libev counts time in seconds.
    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// One round of events; with `seconds` > 0 it returns within that time on libev (lws's own
    /// poll() loop has timeouts of its own). False when lws gives up.
    private func serviceOnce(_ context: OpaquePointer, within seconds: Double) -> Bool {
        guard let loop = foreignLoops.pointee else { return lws_service(context, 0) >= 0 }
        cshim_ev_run_once(loop, seconds)
        return true
    }

    private func destroyLoop() {
        if let loop = foreignLoops.pointee { cshim_ev_loop_destroy(loop) }
        foreignLoops.pointee = nil
    }

    private func forgetOwner() {
        execute = nil
        hooks = nil
    }
}

/// How another thread wakes the loop; the pointers cross threads only for these thread-safe calls
/// (`lws_cancel_service`, `ev_async_send`).
private enum WakeTarget: @unchecked Sendable {
    case lws(OpaquePointer)
    case libev(loop: UnsafeMutableRawPointer, wake: UnsafeMutableRawPointer)
}

/// The Swift side of the libev wake-up: a C callback cannot capture, so it gets this object.
private final class WokenHandler {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }

    static func fire(_ owner: UnsafeMutableRawPointer?) {
        guard let owner else { return }
        Unmanaged<WokenHandler>.fromOpaque(owner).takeUnretainedValue().run()
    }
}
