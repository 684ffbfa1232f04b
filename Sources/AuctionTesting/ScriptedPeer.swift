import Foundation

/// A TCP peer on a free loopback port that accepts one connection, reads what the client sends
/// first, then does `answer` with the connection's descriptor: garbage, silence, or an answer
/// that trickles. For tests of how clients bear a peer that misbehaves.
public final class ScriptedPeer: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init(answer: @escaping @Sendable (Int32) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length)
                return getsockname(listener, pointer, &length)
            }
        }
        listen(listener, 4)
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = recv(client, &buffer, buffer.count, 0)
            answer(client)
            close(client)
        }
    }

    /// Answers `reply` (or nothing) and holds the connection open for 5 s.
    public convenience init(reply: String?) throws {
        try self.init { client in
            if let reply { _ = reply.withCString { send(client, $0, strlen($0), 0) } }
            Thread.sleep(forTimeInterval: 5)
        }
    }

    deinit { close(fd) }
}
