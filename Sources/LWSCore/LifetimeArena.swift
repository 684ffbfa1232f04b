import Foundation

/// Memory lws reads for the whole life of the context (protocol table, mounts, their strings):
/// allocated once, freed with the server.
package final class LifetimeArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    package func keep(_ string: String) -> UnsafePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    package func keep<T>(_ pointer: UnsafeMutablePointer<T>) {
        allocations.append(UnsafeMutableRawPointer(pointer))
    }

    package init() {}

    deinit {
        // Pointers from `allocate` and from `strdup` are both malloc-backed on Linux.
        allocations.forEach { free($0) }
    }
}
