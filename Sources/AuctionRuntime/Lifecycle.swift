// The one owner of the process's long-running parts: starts them in order and stops them in the
// reverse order, so that what depends on a part stops before it.
import Logging

public struct Lifecycle: Sendable {
    /// One long-running part: how to start it (it may refuse) and how to stop it.
    public struct Part: Sendable {
        public let name: String
        let start: @Sendable () throws -> Void
        let stop: @Sendable () -> Void

        public init(_ name: String, start: @escaping @Sendable () throws -> Void, stop: @escaping @Sendable () -> Void) {
            self.name = name
            self.start = start
            self.stop = stop
        }
    }

    private let parts: [Part]
    private let logger: Logger

    /// - Parameter parts: in the order they start; each may use those before it.
    public init(_ parts: [Part], logger: Logger) {
        self.parts = parts
        self.logger = logger
    }

    /// Starts every part, waits for `untilStopped` to return, then stops them, last first. If a
    /// part refuses to start, those already started are stopped and the refusal is thrown.
    public func run(untilStopped wait: () -> Void) throws {
        var started: [Part] = []
        defer { stop(started) }
        for part in parts {
            try part.start()
            logger.info("started", metadata: ["part": "\(part.name)"])
            started.append(part)
        }
        wait()
        logger.info("shutting down")
    }

    private func stop(_ started: [Part]) {
        for part in started.reversed() {
            part.stop()
            logger.info("stopped", metadata: ["part": "\(part.name)"])
        }
    }
}
