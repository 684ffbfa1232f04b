import Foundation

/// A loopback TCP port that was free a moment ago: the kernel picks it for a socket we then close.
/// Tests use it for processes that must be told their port up front (redis-server, auctiond).
public func freeLoopbackPort() -> Int { freePort(bindingTo: inet_addr("127.0.0.1")) }

/// A TCP port free on every local address a moment ago, for a server that listens on all of them
/// (`libwebsockets-test-server`): a port free on 127.0.0.1 may still be the local port of a
/// connection from another loopback address (the load test's clients each have their own), and
/// such a server's bind then fails with EADDRINUSE.
public func freePortOnEveryAddress() -> Int { freePort(bindingTo: INADDR_ANY) }

private func freePort(bindingTo host: in_addr_t) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket() failed: \(errno)")
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = host
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    precondition(bound == 0, "bind() failed: \(errno)")
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
public func waitUntil(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}
