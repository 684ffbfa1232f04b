// HTTP/1.1 to the tender API over kept-alive sockets, with TLS from CryptoPrimitives for https:
// a blocking exchange with one deadline for the whole of it. It replaces URLSession, whose
// machinery (libdispatch and curl-multi on pool threads) cost more CPU per request than the
// requests' own work. The one file of the module that makes system calls.
import CryptoPrimitives
import Foundation
import Locking
import Synchronization

/// Where the API is: from `https://host:port/api/2.5`, the scheme, host, port and path.
struct HTTPOrigin: Sendable, Equatable {
    var secure: Bool
    var host: String
    var port: Int
    /// The path the API's routes hang under, without a trailing slash ("/api/2.5").
    var basePath: String

    init(baseURL: String) throws(TransportProblem) {
        guard let components = URLComponents(string: baseURL), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw TransportProblem("'\(baseURL)' is not an http or https URL") }
        guard components.query == nil, components.user == nil else {
            throw TransportProblem("'\(baseURL)' must not carry a query or a user: the token is given on its own")
        }
        secure = scheme == "https"
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? (secure ? 443 : 80)
        let path = components.percentEncodedPath
        basePath = path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// The Host header: the port only when it is not the scheme's own.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }
}

/// Why an exchange produced no HTTP answer (refused, timed out, reset, not HTTP).
struct TransportProblem: Error, CustomStringConvertible {
    let reason: String
    /// Nothing of an answer came: on a kept-alive connection, the server may have closed it
    /// while it was idle, and the request can go again on a new one.
    var beforeAnyAnswer = false
    init(_ reason: String, beforeAnyAnswer: Bool = false) {
        self.reason = reason
        self.beforeAnyAnswer = beforeAnyAnswer
    }
    var description: String { reason }
}

/// Sends requests to one origin, keeping connections open between them. Callable from any
/// thread; each exchange has a connection to itself.
final class HTTPTransport: Sendable {
    let origin: HTTPOrigin
    private let tls: TLSClientContext?
    private let idle = Locked<[HTTPConnection]>([])
    /// Connections kept beyond this are closed: the API's callers are a handful of threads.
    private let maxIdleConnections = 8

    /// - Parameter trustedCertificatesFile: for https, the certificate authorities to trust in
    ///   place of the system's.
    init(origin: HTTPOrigin, trustedCertificatesFile: String?) throws(TransportProblem) {
        self.origin = origin
        if origin.secure {
            do { tls = try TLSClientContext(trustedCertificatesFile: trustedCertificatesFile) } catch {
                throw TransportProblem("TLS cannot be set up: \(error)")
            }
        } else {
            tls = nil
        }
    }

    /// One request and its answer, all of it before `deadline`.
    /// - Parameters:
    ///   - target: the path and query, from the origin's root ("/api/2.5/tenders?offset=…").
    ///   - headers: sent after Host; Content-Length is added for a body.
    func exchange(
        method: String, target: String, headers: [(String, String)], body: [UInt8]?, deadline: ContinuousClock.Instant
    ) throws(TransportProblem) -> HTTPResponse {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: \(origin.hostHeader)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Length: \(body.count)\r\n" }
        request += "\r\n"
        var bytes = Array(request.utf8)
        if let body { bytes += body }

        if let reused = takeIdleConnection() {
            do { return try exchange(bytes, on: reused, deadline: deadline) } catch let problem where problem.beforeAnyAnswer {
                // The server closed the idle connection as the request went: once more, afresh.
            }
        }
        let connection = try HTTPConnection(origin: origin, tls: tls, deadline: deadline)
        return try exchange(bytes, on: connection, deadline: deadline)
    }

    private func exchange(
        _ request: [UInt8], on connection: HTTPConnection, deadline: ContinuousClock.Instant
    ) throws(TransportProblem)
        -> HTTPResponse
    {
        let response = try connection.exchange(request, deadline: deadline)
        if response.keepAlive { keepIdle(connection) }
        return response
    }

    private func takeIdleConnection() -> HTTPConnection? {
        while let connection = idle.withLock({ $0.popLast() }) {
            if connection.isReusable { return connection }
        }
        return nil
    }

    private func keepIdle(_ connection: HTTPConnection) {
        idle.withLock { connections in
            if connections.count < maxIdleConnections { connections.append(connection) }
        }
    }
}

/// One TCP connection, with TLS over it for https. It passes between threads through the
/// transport's idle list; one exchange at a time uses it, which `exchange` checks.
final class HTTPConnection: @unchecked Sendable {
    private let inUse = Atomic<Bool>(false)
    private let fd: Int32
    private let tls: TLSClientEngine?
    private let endpoint: String
    fileprivate var idleSince = ContinuousClock.now
    /// What the socket gave last, and (for https) what it decrypted to.
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var plaintext: [UInt8] = []
    /// A kept-alive connection idle longer than this is not used again: servers close theirs
    /// after a few seconds, and one of them closing as a request goes costs a retry.
    private static let longestIdle = Duration.seconds(4)

    init(origin: HTTPOrigin, tls context: TLSClientContext?, deadline: ContinuousClock.Instant) throws(TransportProblem) {
        endpoint = "\(origin.hostHeader)"
        fd = try Self.connect(host: origin.host, port: origin.port, deadline: deadline)
        guard let context else {
            tls = nil
            return
        }
        plaintext = [UInt8](repeating: 0, count: 64 * 1024)
        do { tls = try TLSClientEngine(context: context, serverName: origin.host) } catch {
            Glibc.close(fd)
            throw TransportProblem("TLS to \(endpoint): \(error)")
        }
        do { try handshake(deadline: deadline) } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit { Glibc.close(fd) }

    /// Neither closed by the server nor idle too long: nothing may be waiting to be read.
    fileprivate var isReusable: Bool {
        guard ContinuousClock.now - idleSince < Self.longestIdle else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }

    // MARK: Sockets

    private static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) throws(TransportProblem) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var found: UnsafeMutablePointer<addrinfo>?
        // Name resolution blocks without a deadline of its own (glibc's resolver has its own
        // time-outs); with an address for a host it is immediate.
        let resolved = getaddrinfo(host, String(port), &hints, &found)
        guard resolved == 0, let first = found else {
            throw TransportProblem("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(first) }
        var problem = "no address for \(host)"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let address = next {
            next = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                problem = "socket: \(String(cString: strerror(errno)))"
                continue
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var on: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            if errno == EINPROGRESS {
                do {
                    try wait(fd, for: Int16(POLLOUT), until: deadline, "connecting to \(host):\(port)")
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    if error == 0 { return fd }
                    problem = "connecting to \(host):\(port): \(String(cString: strerror(error)))"
                } catch { problem = error.reason }
            } else {
                problem = "connecting to \(host):\(port): \(String(cString: strerror(errno)))"
            }
            Glibc.close(fd)
        }
        throw TransportProblem(problem)
    }

    /// Waits until `fd` is ready for `events`, or throws at `deadline`.
    private static func wait(
        _ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, _ doing: String
    )
        throws(TransportProblem)
    {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw TransportProblem("\(doing): no whole answer in time") }
            let milliseconds = Int32(min(left.inSeconds * 1000 + 1, Double(Int32.max)))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw TransportProblem("\(doing): poll: \(String(cString: strerror(errno)))") }
        }
    }

    private func sendRaw(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(TransportProblem) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else if errno == EAGAIN || errno == EINTR {
                try Self.wait(fd, for: Int16(POLLOUT), until: deadline, "sending to \(endpoint)")
            } else {
                throw TransportProblem("sending to \(endpoint): \(String(cString: strerror(errno)))", beforeAnyAnswer: true)
            }
        }
    }

    /// Some bytes from the socket into `buffer`: their count, or 0 when the server closed.
    private func receiveRaw(deadline: ContinuousClock.Instant) throws(TransportProblem) -> Int {
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received >= 0 { return received }
            if errno == EAGAIN || errno == EINTR {
                try Self.wait(fd, for: Int16(POLLIN), until: deadline, "reading from \(endpoint)")
            } else {
                throw TransportProblem(
                    "reading from \(endpoint): \(String(cString: strerror(errno)))", beforeAnyAnswer: errno == ECONNRESET)
            }
        }
    }

    // MARK: TLS and HTTP over the socket

    private func handshake(deadline: ContinuousClock.Instant) throws(TransportProblem) {
        guard let tls else { return }
        do {
            while true {
                let progress = try tls.handshake()
                try sendRaw(tls.takeOutgoing(), deadline: deadline)
                if progress == .done { return }
                let count = try receiveRaw(deadline: deadline)
                guard count > 0 else { throw TransportProblem("\(endpoint) closed the connection during the TLS handshake") }
                buffer.withUnsafeBytes { tls.receive(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            }
        } catch let error as CryptoError {
            throw TransportProblem("TLS to \(endpoint): \(error)")
        } catch let error as TransportProblem {
            throw error
        } catch {
            throw TransportProblem("TLS to \(endpoint): \(error)")
        }
    }

    /// Sends `request` and reads its answer.
    func exchange(_ request: [UInt8], deadline: ContinuousClock.Instant) throws(TransportProblem) -> HTTPResponse {
        precondition(inUse.exchange(true, ordering: .acquiring) == false, "an HTTP connection used by two exchanges at once")
        defer {
            idleSince = .now
            inUse.store(false, ordering: .releasing)
        }
        try send(request, deadline: deadline)
        return try receiveResponse(deadline: deadline)
    }

    private func send(_ request: [UInt8], deadline: ContinuousClock.Instant) throws(TransportProblem) {
        guard let tls else { return try sendRaw(request, deadline: deadline) }
        do { try request.withUnsafeBytes { try tls.send($0) } } catch {
            throw TransportProblem("TLS to \(endpoint): \(error)")
        }
        try sendRaw(tls.takeOutgoing(), deadline: deadline)
    }

    private func receiveResponse(deadline: ContinuousClock.Instant) throws(TransportProblem) -> HTTPResponse {
        var parser = HTTPResponseParser()
        var receivedAny = false
        do {
            while true {
                let bytes = try receiveSome(deadline: deadline)
                let whole =
                    bytes.isEmpty
                    ? try parser.endOfInput()
                    : try bytes.withUnsafeBytes { try parser.consume($0) }
                receivedAny = receivedAny || !bytes.isEmpty
                if whole { return parser.whole! }
            }
        } catch let error as HTTPResponseError {
            throw TransportProblem("\(endpoint) answered: \(error)", beforeAnyAnswer: !receivedAny)
        } catch let problem as TransportProblem {
            throw TransportProblem(problem.reason, beforeAnyAnswer: problem.beforeAnyAnswer && !receivedAny)
        } catch {
            throw TransportProblem("reading from \(endpoint): \(error)")
        }
    }

    /// The next bytes of the answer (decrypted, for https); none when the server closed.
    private func receiveSome(deadline: ContinuousClock.Instant) throws(TransportProblem) -> ArraySlice<UInt8> {
        guard let tls else { return buffer[..<(try receiveRaw(deadline: deadline))] }
        while true {
            let decrypted: Int?
            do { decrypted = try plaintext.withUnsafeMutableBytes { try tls.read(into: $0) } } catch {
                throw TransportProblem("TLS from \(endpoint): \(error)")
            }
            if let decrypted { return plaintext[..<decrypted] }
            // The engine wants more of the server's bytes (and may have some of its own to send).
            try sendRaw(tls.takeOutgoing(), deadline: deadline)
            let count = try receiveRaw(deadline: deadline)
            guard count > 0 else { return [] }
            buffer.withUnsafeBytes { tls.receive(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }
}
