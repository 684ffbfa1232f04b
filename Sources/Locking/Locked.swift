// The lock of the project: Synchronization's `Mutex`, with its hand-over told to ThreadSanitizer.
// On Linux the standard library's Mutex waits on a futex that TSan cannot see, so under
// `--sanitize=thread` every access a Mutex guarded was reported as a race and the real ones were
// lost among them. Outside a TSan build the annotations are a call that does nothing.
import CThreadSanitizer
import Synchronization

public struct Locked<Value: ~Copyable>: ~Copyable {
    private let mutex: Mutex<Value>
    /// An address of this lock's own, for the annotations (a ~Copyable value has none to lend).
    private let witness: Int

    public init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
        witness = Int(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))
    }

    deinit { UnsafeMutableRawPointer(bitPattern: witness)?.deallocate() }

    /// Runs `body` with the value while holding the lock (Mutex.withLock).
    public borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            let address = UnsafeMutableRawPointer(bitPattern: witness)
            locking_acquired(address)
            defer { locking_releasing(address) }
            return try body(&value)
        }
    }
}

extension Locked: Sendable where Value: ~Copyable {}
