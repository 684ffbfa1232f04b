import AuctionProtocol
import Foundation

/// A deliberately small RFC 6455 client over a blocking POSIX socket, written independently of
/// lws so that tests do not check the server against its own library. It can also misbehave on
/// purpose: binary frames, hand-made fragmentation, oversize messages.
public final class TestWebSocketClient {
    public enum Frame: Equatable {
        case text(String)
        case binary([UInt8])
        case close(code: UInt16?, reason: String)
    }

    public struct HandshakeRefused: Error, CustomStringConvertible {
        public let status: Int
        public let response: String
        public var description: String { "WebSocket handshake refused with HTTP \(status): \(response)" }
    }

    public struct ConnectionError: Error, CustomStringConvertible {
        public let description: String
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects (from the local address `source`, if given) and completes the opening handshake
    /// for `path` (which may carry a query).
    public init(host: String = "127.0.0.1", port: Int, path: String, timeout: Duration = .seconds(5), from source: String? = nil) throws {
        guard let descriptor = openTCP(port: port, host: host, from: source) else {
            throw ConnectionError(description: "cannot connect to \(host):\(port)\(source.map { " from \($0)" } ?? ""): errno \(errno)")
        }
        fd = descriptor
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        setTimeout(timeout)

        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let request =
            "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try writeAll(Array(request.utf8))
        let head = try readHead()
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        guard status == 101 else { throw HandshakeRefused(status: status, response: head) }
    }

    deinit { close(fd) }

    public func setTimeout(_ timeout: Duration) { setTimeout(SO_RCVTIMEO, timeout) }

    private func setTimeout(_ option: Int32, _ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The text frames up to the server's close frame, and its code.
    public func receiveUntilClose() throws -> (texts: [String], code: UInt16?) {
        var texts: [String] = []
        while true {
            switch try receive() {
            case .text(let text): texts.append(text)
            case .close(let code, _): return (texts, code)
            case .binary: break
            }
        }
    }

    /// Sends 1 KiB text frames through a small send buffer of its own until the server stops
    /// taking them (a send waits `patience` in vain); returns the bytes the server's side took in
    /// meanwhile, roughly: what a flooder can push into a server that no longer reads it.
    public func pushUntilBlocked(patience: Duration = .milliseconds(300)) -> Int {
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        setTimeout(SO_SNDTIMEO, patience)
        let frame = frameBytes(opcode: 0x1, payload: Array(repeating: UInt8(ascii: "x"), count: 1024), final: true)
        var pushed = 0
        while pushed < 64 << 20 {
            let written = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { break }
            pushed += written
        }
        return pushed
    }

    public func send(text: String) throws { try sendFrame(opcode: 0x1, payload: Array(text.utf8), final: true) }
    public func send(binary: [UInt8]) throws { try sendFrame(opcode: 0x2, payload: binary, final: true) }

    /// Sends `text` as several frames: a text frame then continuation frames of `pieceSize` bytes.
    public func send(text: String, fragmentedInto pieceSize: Int) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        repeat {
            let end = min(offset + pieceSize, bytes.count)
            try sendFrame(opcode: offset == 0 ? 0x1 : 0x0, payload: Array(bytes[offset..<end]), final: end == bytes.count)
            offset = end
        } while offset < bytes.count
    }

    /// A frame for `send(together:)`.
    public enum RawFrame {
        /// A text frame (`first`) or a continuation, final or not.
        case text(String, first: Bool, final: Bool)
        case close(UInt16)
    }

    /// Several frames in one write, so that the server reads them in one go.
    public func send(together frames: [RawFrame]) throws {
        try writeAll(
            frames.flatMap { frame in
                switch frame {
                case .text(let text, let first, let final): frameBytes(opcode: first ? 0x1 : 0x0, payload: Array(text.utf8), final: final)
                case .close(let code): frameBytes(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xff)], final: true)
                }
            })
    }

    /// Starts the closing handshake.
    public func sendClose(code: UInt16 = 1000) throws {
        try sendFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xff)], final: true)
    }

    /// The next text, binary or close frame (continuations joined, pings answered). Throws when
    /// nothing arrives within the socket time-out or the connection ends without a close frame.
    public func receive() throws -> Frame {
        var message: [UInt8] = []
        var messageOpcode: UInt8 = 0
        while true {
            let header = try readBytes(2)
            let final = header[0] & 0x80 != 0
            let opcode = header[0] & 0x0f
            var length = Int(header[1] & 0x7f)
            if length == 126 {
                let extended = try readBytes(2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                length = try readBytes(8).reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try readBytes(length)
            switch opcode {
            case 0x9:
                try sendFrame(opcode: 0xA, payload: payload, final: true)  // answer the server's ping
                continue
            case 0xA:
                continue
            case 0x8:
                let code = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
                return .close(code: code, reason: String(decoding: payload.dropFirst(2), as: UTF8.self))
            case 0x0:
                message += payload
            default:
                messageOpcode = opcode
                message = payload
            }
            if final {
                return messageOpcode == 0x2 ? .binary(message) : .text(String(decoding: message, as: UTF8.self))
            }
        }
    }

    /// Sends a client message of the protocol.
    public func send(_ message: ClientMessage) throws { try send(text: message.text) }

    /// The next text frame as a server message of the protocol; a non-text frame or a message the
    /// protocol does not know is an error.
    public func receiveMessage() throws -> ServerMessage {
        let frame = try receive()
        guard case .text(let text) = frame else { throw ConnectionError(description: "expected a text frame, got \(frame)") }
        do { return try ServerMessage.decode(text) } catch {
            throw ConnectionError(description: "not a server message of the protocol: \(text.prefix(200)): \(error)")
        }
    }

    /// The next text frame as a JSON object (for tests of the wire itself), skipping nothing: a
    /// non-text frame is an error.
    public func receiveJSON() throws -> [String: Any] {
        let frame = try receive()
        guard case .text(let text) = frame,
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else { throw ConnectionError(description: "expected a JSON text frame, got \(frame)") }
        return object
    }

    // MARK: - Wire

    private func sendFrame(opcode: UInt8, payload: [UInt8], final: Bool) throws {
        try writeAll(frameBytes(opcode: opcode, payload: payload, final: final))
    }

    private func frameBytes(opcode: UInt8, payload: [UInt8], final: Bool) -> [UInt8] {
        var frame: [UInt8] = [(final ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xffff {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xff) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw ConnectionError(description: "send failed: errno \(errno)") }
            offset += written
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count == 0 { throw ConnectionError(description: "connection closed by the server") }
        if count < 0 { throw ConnectionError(description: "receive failed or timed out: errno \(errno)") }
        buffer += chunk.prefix(count)
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        defer { buffer.removeFirst(count) }
        return Array(buffer.prefix(count))
    }

    private func readHead() throws -> String {
        let terminator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let range = buffer.firstRange(of: terminator) {
                let head = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<range.upperBound)
                return head
            }
            try fill()
        }
    }
}
