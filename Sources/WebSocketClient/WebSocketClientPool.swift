// The client role of libwebsockets: many outgoing WebSocket connections served by one thread, for
// the load generator (auction-loadtest). Like WebServer, one LWSServiceThread owns every lws
// object; other threads hand it work as commands.
import CLibWebSockets
import CShims
import LWSCore
import Foundation
import Synchronization

/// Callbacks from the pool, all on its service thread: keep them short. Connections are named by
/// the caller's own small integers, so the caller can keep its per-connection state in an array.
public protocol WebSocketClientDelegate: AnyObject, Sendable {
    func connected(_ connection: Int)
    /// One whole message (fragments joined). The bytes are valid only during the call.
    func received(_ message: UnsafeRawBufferPointer, on connection: Int)
    /// The connection closed or never opened (`reason` says why when lws does).
    func disconnected(_ connection: Int, reason: String?)
}

/// Where a client connects: `ws://host:port/path` (or `wss://` with `tls`), optionally asking for a
/// subprotocol.
public struct WebSocketTarget: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var path: String
    public var subprotocol: String?
    /// wss. The pool measures a service, it does not authenticate one: a self-signed certificate
    /// (the load test makes one) is taken, and the name in it is not checked.
    public var tls: Bool
    /// The local address the connection comes from (nil: the system's choice). On the loopback
    /// any 127.x.y.z: many clients from many addresses, as a service sees them.
    public var source: String?

    public init(
        host: String = "127.0.0.1", port: Int, path: String, subprotocol: String? = nil, tls: Bool = false, source: String? = nil
    ) {
        self.host = host
        self.port = port
        self.path = path
        self.subprotocol = subprotocol
        self.tls = tls
        self.source = source
    }
}

public final class WebSocketClientPool: @unchecked Sendable {
    private enum Command {
        case connect(Int, WebSocketTarget)
        case send(Int, [UInt8])
        case close(Int)
        case run(@Sendable () -> Void)
        case runAt(ContinuousClock.Instant, @Sendable () -> Void)
    }

    private let delegate: WebSocketClientDelegate
    private let service = LWSServiceThread<Command>(name: "lws-clients")
    private var started = false

    // Owned by the service thread.
    private var connections: [Int: ClientConnection] = [:]
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private let lifetime = LifetimeArena()

    public init(delegate: WebSocketClientDelegate) {
        self.delegate = delegate
    }

    /// Creates the lws context and starts its thread.
    public func start() throws(WebSocketClientError) {
        let created = service.start(
            createContext: { [unowned self] in createContext() },
            execute: { [unowned self] command in execute(command) },
            afterDestroy: { [unowned self] in
                connections.removeAll()
                strings.forEach { free($0) }
            })
        guard created else { throw WebSocketClientError(description: "cannot create the lws client context") }
        started = true
    }

    /// Closes every connection without waiting for the peers and ends the thread.
    public func stop() {
        guard started else { return }
        service.stop()
    }

    /// Opens connection `id` (a closed id may be opened again: a reconnect).
    public func connect(_ id: Int, to target: WebSocketTarget) { perform(.connect(id, target)) }
    public func send(text: String, on id: Int) { perform(.send(id, Array(text.utf8))) }
    public func close(_ id: Int) { perform(.close(id)) }
    /// Runs `work` on the service thread, where the delegate's callbacks run.
    public func run(_ work: @escaping @Sendable () -> Void) { perform(.run(work)) }
    /// Runs `work` on the service thread at `deadline` (or as soon after as the thread is free).
    public func run(at deadline: ContinuousClock.Instant, _ work: @escaping @Sendable () -> Void) {
        perform(.runAt(deadline, work))
    }

    private func perform(_ command: Command) { service.perform(command) }

    // MARK: - Service thread

    private func execute(_ command: Command) {
        service.preconditionOnServiceThread()
        switch command {
        case .connect(let id, let target):
            open(id, target)
        case .send(let id, let bytes):
            guard let connection = connections[id], let wsi = connection.wsi, !connection.closing else { return }
            // At once when nothing waits before it (as WebServer does): waiting for writability
            // puts a bid behind every message the loop is still to read in this round, and that
            // wait was the tail of the load test's bid acknowledgements.
            if connection.established, connection.outbox.isEmpty, lws_partial_buffered(wsi) == 0 {
                if !write(bytes, on: wsi) {
                    connection.closing = true
                    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
                }
                return
            }
            connection.outbox.append(bytes)
            lws_callback_on_writable(wsi)
        case .close(let id):
            guard let connection = connections[id], let wsi = connection.wsi else { return }
            connection.closing = true
            lws_callback_on_writable(wsi)
        case .run(let work):
            work()
        case .runAt(let deadline, let work):
            service.run(at: deadline, work)
        }
    }

    private func open(_ id: Int, _ target: WebSocketTarget) {
        guard let context = service.context else { return }
        let connection = ClientConnection()
        connections[id] = connection
        var info = lws_client_connect_info()
        info.context = context
        info.address = keep(target.host)
        info.port = Int32(target.port)
        info.path = keep(target.path)
        info.host = info.address
        info.origin = info.address
        info.protocol = target.subprotocol.map(keep)
        info.iface = target.source.map(keep)
        info.local_protocol_name = keep("client")
        info.ietf_version_or_minus_one = -1
        if target.tls {
            info.ssl_connection = Int32(
                bitPattern: LCCSCF_USE_SSL.rawValue | LCCSCF_ALLOW_SELFSIGNED.rawValue | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK.rawValue)
        }
        info.retry_and_idle_policy = UnsafePointer(LWSContextRecipe.noValidityTimers)
        // The connection's id is the user pointer itself (never dereferenced, never freed by lws).
        info.userdata = UnsafeMutableRawPointer(bitPattern: id + 1)
        guard let opened = lws_client_connect_via_info(&info) else {
            // lws may already have reported the error through the callback.
            if connections[id] === connection {
                connections[id] = nil
                delegate.disconnected(id, reason: "lws refused to start the connection")
            }
            return
        }
        if connections[id] === connection { connection.wsi = opened }
    }

    /// Strings lws keeps pointers to until the connection is made: interned for the pool's life
    /// (targets repeat, so there are few).
    private var interned: [String: UnsafePointer<CChar>] = [:]
    private func keep(_ string: String) -> UnsafePointer<CChar> {
        if let existing = interned[string] { return existing }
        let copy = strdup(string)!
        strings.append(copy)
        interned[string] = UnsafePointer(copy)
        return UnsafePointer(copy)
    }

    fileprivate func callback(
        _ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
        _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        service.preconditionOnServiceThread()
        let id = Int(bitPattern: user) - 1
        switch reason {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            service.drain()
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            guard let connection = connections[id] else { return -1 }
            connection.wsi = wsi
            connection.established = true
            if !connection.outbox.isEmpty { lws_callback_on_writable(wsi) }
            delegate.connected(id)
        case LWS_CALLBACK_CLIENT_RECEIVE:
            guard let connection = connections[id] else { return -1 }
            let whole = lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0
            if whole, connection.assembly.isEmpty {
                // The usual case, a message in one piece: handed over from lws's buffer, uncopied.
                delegate.received(UnsafeRawBufferPointer(start: input, count: input == nil ? 0 : length), on: id)
                return 0
            }
            if let input { connection.assembly.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length)) }
            guard whole else { return 0 }
            connection.assembly.withUnsafeBytes { delegate.received($0, on: id) }
            connection.assembly.removeAll(keepingCapacity: true)
        case LWS_CALLBACK_CLIENT_WRITEABLE:
            guard let connection = connections[id] else { return -1 }
            if connection.closing { return -1 }
            guard !connection.outbox.isEmpty else { return 0 }
            if !write(connection.outbox.removeFirst(), on: wsi) { return -1 }
            if !connection.outbox.isEmpty { lws_callback_on_writable(wsi) }
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            let reason = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
            if let connection = connections[id], connection.wsi == wsi || connection.wsi == nil {
                connections[id] = nil
                delegate.disconnected(id, reason: reason ?? "connection error")
            }
        case LWS_CALLBACK_CLIENT_CLOSED:
            // A reconnect may already have put a new connection under this id.
            if let connection = connections[id], connection.wsi == wsi {
                connections[id] = nil
                delegate.disconnected(id, reason: nil)
            }
        default:
            break
        }
        return 0
    }

    /// One text frame, masked by lws in a copy with the headroom it needs; false if the socket
    /// failed (lws keeps and finishes a partial write itself).
    private func write(_ bytes: [UInt8], on wsi: OpaquePointer) -> Bool {
        var frame = [UInt8](repeating: 0, count: cshim_lws_pre())
        frame += bytes
        return frame.withUnsafeMutableBufferPointer {
            lws_write(wsi, $0.baseAddress! + cshim_lws_pre(), bytes.count, LWS_WRITE_TEXT) >= bytes.count
        }
    }

    private func createContext() -> OpaquePointer? {
        let recipe = LWSContextRecipe(
            protocolName: "client", callback: clientPoolCallback, receiveBufferSize: 64 * 1024, acceptsAdoptedConnections: false,
            timeoutSeconds: 30, options: cshim_option_disable_ipv6() | cshim_option_ssl_global_init(), logLevel: cshim_lll_err())
        return recipe.make(user: Unmanaged.passUnretained(self).toOpaque(), on: service, keeping: lifetime)
    }
}

private func clientPoolCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let pool = lws_context_user(context) else { return 0 }
    return Unmanaged<WebSocketClientPool>.fromOpaque(pool).takeUnretainedValue().callback(wsi, reason, user, input, length)
}

private final class ClientConnection {
    var wsi: OpaquePointer?
    /// Set at the handshake's end: before it, a frame waits for WRITEABLE.
    var established = false
    var outbox: [[UInt8]] = []
    var assembly: [UInt8] = []
    var closing = false
}

/// Why the pool could not start.
public struct WebSocketClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
