// The thread that owns an lws context, shared by WebServer and WebSocketClientPool. lws objects
// may only be touched on it (lws is built with LWS_MAX_SMP 1); other threads hand it work as
// commands: queued here, then `lws_cancel_service` wakes the loop and lws calls back with
// LWS_CALLBACK_EVENT_WAIT_CANCELLED on this thread, where the owner calls `drain`.
//
// The loop is lws's own, poll(): each wake-up walks every socket, which the `hot` load test shows
// as 40–50 % of the CPU with 10,000 connections. Debian's lws 4.1.6 has a libuv (epoll) plugin; on
// a foreign libuv loop run here, close frames were not sent before the TCP close and a failed
// context creation crashed (docs/PERFORMANCE.md) — so the switch waits.
import CLibWebSockets
import CShims
import Foundation
import Synchronization

final class LWSServiceThread<Command: Sendable>: @unchecked Sendable {
    private let name: String
    private let commands = Mutex<[Command]>([])
    private let stopRequested = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)
    /// The context, for `lws_cancel_service` from other threads (the only lws call they make).
    private let wakeTarget = Mutex<ContextPointer?>(nil)
    private let stopped = DispatchSemaphore(value: 0)
    private var thread: Thread?
    /// The owner's part, set by `start` and cleared when the thread ends (they hold the owner).
    private var execute: ((Command) -> Void)?
    private var hooks: Hooks?

    private struct Hooks {
        let createContext: () -> OpaquePointer?
        let beforeDestroy: (_ serviceOnce: () -> Void) -> Void
        let afterDestroy: () -> Void
    }

    /// The context while the thread runs; only for use on the service thread.
    private(set) var context: OpaquePointer?

    init(name: String) { self.name = name }

    var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Starts the thread and returns once the context exists (false if lws could not create it).
    /// - Parameters:
    ///   - createContext: on the thread: `lws_create_context`.
    ///   - execute: runs one command, on the thread.
    ///   - beforeDestroy: on the thread once `stop` was asked for; may run the loop a while longer
    ///     through the function it gets (each call serves one round of events).
    ///   - afterDestroy: on the thread, after the context is gone.
    func start(
        createContext: @escaping () -> OpaquePointer?,
        execute: @escaping (Command) -> Void,
        beforeDestroy: @escaping (_ serviceOnce: () -> Void) -> Void = { _ in },
        afterDestroy: @escaping () -> Void = {}
    ) -> Bool {
        self.execute = execute
        hooks = Hooks(createContext: createContext, beforeDestroy: beforeDestroy, afterDestroy: afterDestroy)
        let ready = DispatchSemaphore(value: 0)
        let created = Atomic<Bool>(false)
        let thread = Thread { [self] in
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            guard let hooks, let context = hooks.createContext() else {
                forgetOwner()
                ready.signal()
                stopped.signal()
                return
            }
            self.context = context
            wakeTarget.withLock { $0 = ContextPointer(pointer: context) }
            created.store(true, ordering: .releasing)
            ready.signal()
            while !isStopRequested {
                if lws_service(context, 0) < 0 { break }
            }
            hooks.beforeDestroy { _ = lws_service(context, 0) }
            wakeTarget.withLock { $0 = nil }
            lws_context_destroy(context)
            self.context = nil
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
    func stop() {
        guard thread != nil, !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake()
        stopped.wait()
    }

    /// Runs `command` now when called on the service thread, otherwise queues it and wakes lws.
    func perform(_ command: Command) {
        if threadID.load(ordering: .acquiring) == UInt(pthread_self()) {
            execute?(command)
        } else {
            commands.withLock { $0.append(command) }
            wake()
        }
    }

    /// Runs the queued commands; the owner calls it on LWS_CALLBACK_EVENT_WAIT_CANCELLED.
    func drain() {
        let pending = commands.withLock { queue -> [Command] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        guard let execute else { return }
        pending.forEach(execute)
    }

    private func wake() {
        wakeTarget.withLock { target in
            if let target { lws_cancel_service(target.pointer) }
        }
    }

    private func forgetOwner() {
        execute = nil
        hooks = nil
    }
}

/// An lws context pointer that may cross threads; only `lws_cancel_service` uses it off-thread.
private struct ContextPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}
