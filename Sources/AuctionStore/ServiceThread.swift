import Foundation
import Synchronization

/// A named thread that runs one loop until asked to stop, and whose `stop` waits for the loop to
/// end (the clock and the feed: each owns a Redis connection that only its thread touches).
public final class ServiceThread: Sendable {
    private let name: String
    private let state = Mutex((running: false, stopping: false))
    private let finished = DispatchSemaphore(value: 0)

    public init(name: String) { self.name = name }

    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// Starts `loop` once; later calls do nothing.
    public func start(_ loop: @escaping @Sendable () -> Void) {
        let alreadyRunning = state.withLock { state in
            defer { state.running = true }
            return state.running
        }
        guard !alreadyRunning else { return }
        let thread = Thread { [finished] in
            loop()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to stop, calls `wake` so that a sleeping loop notices, and waits for it.
    public func stop(wake: () -> Void = {}) {
        let wasRunning = state.withLock { state in
            state.stopping = true
            return state.running
        }
        wake()
        if wasRunning { finished.wait() }
    }
}
