import Dispatch
import Foundation

/// Blocks until the process gets SIGTERM or SIGINT (a server's main thread waits here, then stops
/// gracefully). The signals are handled, not fatal, from the first call on.
public func waitForStopSignal() {
    let stop = DispatchSemaphore(value: 0)
    let sources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { stop.signal() }
        source.resume()
        return source
    }
    stop.wait()
    sources.forEach { $0.cancel() }
}
