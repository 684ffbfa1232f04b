import Foundation

/// A TCP peer on a free loopback port that accepts one connection, reads what the client sends
/// first, then does `answer` with the connection's descriptor: garbage, silence, or an answer
/// that trickles. For tests of how clients bear a peer that misbehaves.
public final class ScriptedPeer: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public convenience init(answer: @escaping @Sendable (Int32) -> Void) throws {
        try self.init(connections: 1) { client, _ in
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = recv(client, &buffer, buffer.count, 0)
            answer(client)
        }
    }

    /// Accepts `connections` connections, one after another, and hands each to `serve` with its
    /// number (from 0); the connection is closed when `serve` returns. Nothing is read for it:
    /// `readRequest` reads a request.
    public init(connections: Int, serve: @escaping @Sendable (Int32, Int) -> Void) throws {
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
        listen(listener, 16)
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            for index in 0..<connections {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                serve(client, index)
                close(client)
            }
        }
    }

    /// Reads one HTTP request from `client`: its head and a Content-Length body. nil when the
    /// client closed first.
    public static func readRequest(_ client: Int32) -> String? {
        var received: [UInt8] = []
        var byte: UInt8 = 0
        let endOfHead: [UInt8] = [13, 10, 13, 10]
        while !received.ends(with: endOfHead) {
            guard recv(client, &byte, 1, 0) == 1 else { return nil }
            received.append(byte)
        }
        let head = String(decoding: received, as: UTF8.self)
        let length =
            head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") })
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        var body = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let count = body.withUnsafeMutableBytes { recv(client, $0.baseAddress! + got, length - got, 0) }
            guard count > 0 else { return nil }
            got += count
        }
        return head + String(decoding: body, as: UTF8.self)
    }

    /// Sends all of `text` to `client`.
    public static func send(_ text: String, to client: Int32) {
        _ = text.withCString { Glibc.send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// Answers `reply` (or nothing) and holds the connection open for 5 s.
    public convenience init(reply: String?) throws {
        try self.init { client in
            if let reply { Self.send(reply, to: client) }
            Thread.sleep(forTimeInterval: 5)
        }
    }

    deinit { close(fd) }
}

extension Array where Element: Equatable {
    fileprivate func ends(with suffix: [Element]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
