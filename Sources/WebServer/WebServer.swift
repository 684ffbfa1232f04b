// The one place that serves HTTP and WebSocket through libwebsockets: the public face. The work is
// done by `serviceThreads` WebServerThreads, each an lws context on its own thread that owns every
// lws object of its share of the connections; other threads talk to them only through commands.
// One listening socket: the first thread accepts, and hands the connections round the threads.
import CLibWebSockets
import CShims
import LWSCore
import Foundation
import Synchronization

/// Callbacks from the server, made on the service thread of the connection they concern: keep them
/// short and never block (hand slow work to another thread and answer through `HTTPResponder` /
/// `WebSocket`). With several service threads they come from several threads at once.
public protocol WebServerDelegate: AnyObject, Sendable {
    /// A complete HTTP request that no static folder served. Answer exactly once, from any thread.
    func handle(_ request: HTTPRequest, responder: HTTPResponder)
    /// A WebSocket handshake; the request carries the path, query and headers.
    func shouldUpgrade(_ request: HTTPRequest) -> UpgradeDecision
    func opened(_ socket: WebSocket)
    /// One whole text message (fragments already joined).
    func received(_ text: String, from socket: WebSocket)
    /// A message over `maxMessageBytes` arrived and was dropped.
    func receivedTooLarge(from socket: WebSocket)
    func closed(_ socket: WebSocket)
}

/// A text frame serialised once and written to any number of connections ("frame once, write
/// many"). The bytes sit behind LWS_PRE spare bytes, where lws writes the frame header; only one
/// service thread writes a frame, one connection after another, so sharing the buffer is safe (a
/// broadcast over several threads gives each its own copy).
public final class OutgoingFrame: @unchecked Sendable {
    let buffer: UnsafeMutableRawPointer
    let payload: UnsafeMutableRawPointer
    public let count: Int

    public init(_ bytes: some Collection<UInt8>) {
        let pre = cshim_lws_pre()
        count = bytes.count
        buffer = UnsafeMutableRawPointer.allocate(byteCount: pre + max(count, 1), alignment: 16)
        payload = buffer + pre
        UnsafeMutableRawBufferPointer(start: payload, count: count).copyBytes(from: bytes)
    }

    /// Copies the text's UTF-8 once, straight into the frame.
    public convenience init(text: String) { self.init(text.utf8) }

    /// The same bytes in a buffer of their own, for another service thread.
    func copy() -> OutgoingFrame { OutgoingFrame(UnsafeRawBufferPointer(start: payload, count: count)) }

    deinit { buffer.deallocate() }
}

/// A live WebSocket connection. Sending and closing are safe from any thread.
public final class WebSocket: Sendable, Hashable {
    public let id: UInt64
    /// The upgrade request: path, query, headers, peer address.
    public let request: HTTPRequest
    /// The service thread that owns the connection.
    let server: WebServerThread

    init(id: UInt64, request: HTTPRequest, server: WebServerThread) {
        self.id = id
        self.request = request
        self.server = server
    }

    /// A frame to this one connection is an answer to its client: it goes ahead of the broadcasts
    /// still queued for the service thread (so it can reach the client before a state queued
    /// earlier; frames sent this way keep their order among themselves).
    public func send(_ frame: OutgoingFrame) { server.perform(.send(frame, [id], handedOver: nil), ahead: true) }
    public func send(text: String) { send(OutgoingFrame(text: text)) }
    /// Sends what is queued, then closes with `code` and `reason` (at most 123 bytes).
    public func close(_ code: CloseCode, reason: String) { server.perform(.close(id, code, reason)) }

    /// One frame to many connections of one server: one wake-up of each service thread for a
    /// broadcast, not one per connection. `handedOver` runs once the frame is in every socket (or
    /// queued behind what a slow reader has not taken yet), on the service thread that finished
    /// last: how long a broadcast takes on the server, whatever the receivers do. Each thread
    /// writes its connections in the order given, all threads at once.
    public static func send(_ frame: OutgoingFrame, to sockets: [WebSocket], handedOver: (@Sendable () -> Void)? = nil) {
        guard let first = sockets.first?.server else { return }
        var shares = [(thread: WebServerThread?, ids: [UInt64])](repeating: (nil, []), count: first.threadCount)
        for socket in sockets {
            shares[socket.server.index].thread = socket.server
            shares[socket.server.index].ids.append(socket.id)
        }
        WebServerThread.broadcast(frame, shares.compactMap { share in share.thread.map { ($0, share.ids) } }, handedOver: handedOver)
    }

    public static func == (a: WebSocket, b: WebSocket) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// Answers one HTTP request, once, from any thread.
public final class HTTPResponder: Sendable {
    private let transaction: UInt64
    private let server: WebServerThread
    private let answered = Atomic<Bool>(false)

    init(transaction: UInt64, server: WebServerThread) {
        self.transaction = transaction
        self.server = server
    }

    public func respond(_ response: HTTPResponse) {
        guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
        server.perform(.respond(transaction, response), ahead: true)
    }
}

public final class WebServer: @unchecked Sendable {
    public let configuration: WebServerConfiguration
    private let threads: [WebServerThread]
    private let boundPort = Atomic<Int>(0)
    /// Which thread takes the next accepted connection (the first thread's only).
    private var nextThread = 0

    public init(configuration: WebServerConfiguration, delegate: WebServerDelegate) {
        self.configuration = configuration
        let count = max(1, configuration.serviceThreads)
        threads = (0..<count).map { WebServerThread(index: $0, of: count, configuration: configuration, delegate: delegate) }
    }

    /// The port the server listens on (the kernel's choice when configured with 0).
    public var port: Int { boundPort.load(ordering: .acquiring) }
    /// The kernel interface the event loops wait on: "epoll" (libev), or "poll" if libev failed.
    public var eventLoop: String { threads[0].eventLoop }

    /// Binds, then starts the service threads; throws if the address cannot be bound (port taken,
    /// no such address) or lws cannot create a context (bad certificate).
    public func start() throws(WebServerError) {
        var port: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        // An IPv6 address may come in brackets, as in a URL ("[::1]:8090").
        let host =
            configuration.host.hasPrefix("[") && configuration.host.hasSuffix("]")
            ? String(configuration.host.dropFirst().dropLast()) : configuration.host
        let listener = cshim_listen(host, Int32(configuration.port), configuration.shareListeningPort ? 1 : 0, &port, &error, error.count)
        guard listener >= 0 else {
            throw WebServerError(
                description:
                    "cannot listen on \(configuration.host):\(configuration.port): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))"
            )
        }
        boundPort.store(Int(port), ordering: .releasing)
        // The others first, so that the first thread has somewhere to hand connections to.
        var started: [WebServerThread] = []
        do throws(WebServerError) {
            for thread in threads.dropFirst() {
                try thread.start(listener: nil)
                started.append(thread)
            }
        } catch {
            close(listener)
            started.forEach { $0.stop() }
            throw error
        }
        do throws(WebServerError) {
            // From here the first thread owns the listening socket (and closes it if it fails).
            try threads[0].start(listener: (listener, { [unowned self] connection in handOut(connection) }))
        } catch {
            started.forEach { $0.stop() }
            throw error
        }
    }

    /// On the first thread: a connection it accepted, to the next thread in turn.
    private func handOut(_ connection: Int32) {
        let thread = threads[nextThread]
        nextThread = (nextThread + 1) % threads.count
        thread.adopt(connection)
    }

    /// Closes every WebSocket with 1001, finishes within about a second, and releases the port.
    /// The first thread stops first: it holds the listening socket.
    public func stop() {
        threads[0].stop()
        DispatchQueue.concurrentPerform(iterations: threads.count - 1) { threads[$0 + 1].stop() }
    }

    /// Sends one frame to many connections: the broadcast path.
    public func send(_ frame: OutgoingFrame, to socketIDs: [UInt64]) {
        var shares = [[UInt64]](repeating: [], count: threads.count)
        for id in socketIDs { shares[WebServerThread.index(of: id, among: threads.count)].append(id) }
        WebServerThread.broadcast(frame, zip(threads, shares).filter { !$0.1.isEmpty }, handedOver: nil)
    }
}
