// One service thread of the WebServer: an lws context on its own LWSServiceThread, owning every lws
// object of its share of the connections. Other threads talk to it only through commands, which
// wake its loop. The first thread also watches the listening socket and hands each accepted
// connection to the next thread in turn (WebServer.handOut).
import CLibWebSockets
import CShims
import LWSCore
import Foundation
import Synchronization

final class WebServerThread: @unchecked Sendable {
    enum Command {
        case send(OutgoingFrame, [UInt64], handedOver: (@Sendable () -> Void)?)
        case close(UInt64, CloseCode, String)
        case respond(UInt64, HTTPResponse)
        /// A connection the first thread accepted, for this one to serve.
        case adopt(Int32)
    }

    let configuration: WebServerConfiguration
    /// Which of how many threads this is: socket ids carry it (`index(of:among:)`).
    let index: Int
    let threadCount: Int
    /// How long a client whose queue overflowed has to read its close frame before it is dropped.
    static let slowClientGraceSeconds = 2
    /// How long a close the server started waits for the client's close frame before the
    /// connection is dropped (lws's own 5-s wait did not end it: it went on for 12 s and more).
    static let closeHandshakeGrace = Duration.seconds(2)
    let delegate: WebServerDelegate
    let service: LWSServiceThread<Command>
    private var started = false
    /// The first thread's: the listening socket (cshim_listen), and what to do with a connection
    /// accepted from it.
    var listener: (socket: Int32, handOut: (Int32) -> Void)?
    /// The context's vhost, which adopts connections (service thread only).
    var vhost: OpaquePointer?

    // Owned by the service thread.
    private var nextID: UInt64 = 0
    var sockets: [UInt64: SocketState] = [:]
    var transactions: [UInt64: HTTPTransaction] = [:]
    private var keepAlive = KeepAliveWheel()
    private let keepAlivePolicy: KeepAlivePolicy
    let lifetime = LifetimeArena()
    /// Scratch space for HTTP writes: LWS_PRE bytes, then one chunk. Used only on the service
    /// thread, one write at a time, so one buffer serves every response.
    let httpWriteBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: cshim_lws_pre() + WebServerThread.httpChunkSize)
    static let httpChunkSize = 16 * 1024
    /// Connections accepted in one go before the loop serves the others again.
    static let acceptsPerWakeUp = 256
    init(index: Int, of threadCount: Int, configuration: WebServerConfiguration, delegate: WebServerDelegate) {
        self.index = index
        self.threadCount = threadCount
        self.configuration = configuration
        self.delegate = delegate
        service = LWSServiceThread(name: "lws-service-\(index)")
        keepAlivePolicy = KeepAlivePolicy(
            pingAfter: .seconds(Int(configuration.pingAfterSeconds)), hangUpAfter: .seconds(Int(configuration.hangUpAfterSeconds)))
    }

    /// The thread that owns connection `id`: ids are numbered per thread, `count` apart.
    static func index(of id: UInt64, among count: Int) -> Int { Int(id % UInt64(count)) }

    /// A new id for a connection or request of this thread.
    func makeID() -> UInt64 {
        nextID += 1
        return nextID * UInt64(threadCount) + UInt64(index)
    }

    deinit { httpWriteBuffer.deallocate() }

    var eventLoop: String { service.eventLoopName }

    /// Starts the service thread; throws if lws cannot create the context (bad certificate).
    /// `listener`: the first thread's listening socket, which it then owns and lws closes.
    func start(listener: (socket: Int32, handOut: (Int32) -> Void)?) throws(WebServerError) {
        self.listener = listener
        let created = service.start(
            tick: (KeepAliveWheel.sweepInterval, { [unowned self] in sweepKeepAlive() }),
            createContext: { [unowned self] in
                guard let context = createContext() else { return nil }
                vhost = lws_get_vhost_by_name(context, "default")
                if let listener, cshim_adopt_listener(vhost, listener.socket, "http") == nil {
                    // lws may have closed the socket already: never close it twice.
                    self.listener = nil
                    lws_context_destroy(context)
                    return nil
                }
                return context
            },
            execute: { [unowned self] command in execute(command) },
            beforeDestroy: { [unowned self] serviceOnce in closeAll(serviceOnce) },
            afterDestroy: { [unowned self] in
                sockets.removeAll()
                transactions.removeAll()
            })
        guard created else {
            if let listener = self.listener { close(listener.socket) }
            throw WebServerError(
                description: "cannot start the server on \(configuration.host):\(configuration.port) (see lws's log above)")
        }
        started = true
    }

    /// Closes every WebSocket with 1001, finishes within about a second, and (the first thread)
    /// releases the port.
    func stop() {
        guard started else { return }
        service.stop()
    }

    /// Serves a connection the first thread accepted (from any thread; lws closes it if it cannot).
    func adopt(_ connection: Int32) { perform(.adopt(connection), ahead: true) }

    /// Queued in slices of `broadcastSlice` connections, so that the service thread can stop
    /// between them to read its sockets (10,000 deliveries are over 100 ms of writing).
    /// One frame to each thread's share of the connections: every thread but the first gets its
    /// own copy of the frame (lws writes the header into it), and `handedOver` runs when the last
    /// thread has handed its share over.
    static func broadcast(_ frame: OutgoingFrame, _ shares: [(WebServerThread, [UInt64])], handedOver: (@Sendable () -> Void)?) {
        var finished: (@Sendable () -> Void)?
        if let handedOver {
            let count = HandOverCount(shares.count, then: handedOver)
            finished = { count.oneFinished() }
        }
        for (index, (thread, ids)) in shares.enumerated() {
            thread.broadcast(index == 0 ? frame : frame.copy(), to: ids, handedOver: finished)
        }
    }

    func broadcast(_ frame: OutgoingFrame, to socketIDs: [UInt64], handedOver: (@Sendable () -> Void)?) {
        let slice = max(1, configuration.broadcastSlice)
        for start in stride(from: 0, to: socketIDs.count, by: slice) {
            let end = min(start + slice, socketIDs.count)
            perform(.send(frame, Array(socketIDs[start..<end]), handedOver: end == socketIDs.count ? handedOver : nil))
        }
    }

    /// Runs `command` now when called on the service thread, otherwise queues it and wakes lws
    /// (`ahead`: before the broadcasts queued; see LWSServiceThread).
    func perform(_ command: Command, ahead: Bool = false) { service.perform(command, ahead: ahead) }

    // MARK: - Service thread

    /// The graceful part of a stop: tell every client we are going away and give them a moment
    /// to read it.
    func closeAll(_ serviceOnce: () -> Void) {
        service.preconditionOnServiceThread()
        for id in sockets.keys { execute(.close(id, .goingAway, "server shutting down")) }
        let deadline = Date().addingTimeInterval(1)
        while !sockets.isEmpty, Date() < deadline {
            service.drain()
            serviceOnce()
        }
    }

    func execute(_ command: Command) {
        service.preconditionOnServiceThread()
        switch command {
        case .send(let frame, let ids, let handedOver):
            defer { handedOver?() }
            for id in ids {
                guard let socket = sockets[id], socket.pendingClose == nil else { continue }
                if socket.outbox.count >= configuration.maxQueuedFrames {
                    hangUp(socket, .policyViolation, "too slow: outgoing queue full")
                } else if socket.outbox.isEmpty, !socket.pingDue, !socket.receiving, lws_partial_buffered(socket.wsi) == 0 {
                    writeNow(frame, to: socket)
                } else {
                    socket.outbox.append(frame)
                    lws_callback_on_writable(socket.wsi)
                }
            }
        case .close(let id, let code, let reason):
            guard let socket = sockets[id], socket.pendingClose == nil else { return }
            socket.pendingClose = (code, reason)
            // A client closed for breaking the limits is not read any more: a flooder would keep
            // lws reading and dropping its frames through the close handshake's grace, on the
            // thread that serves everyone else. What we sent still goes out, the close frame last.
            if code == .policyViolation { lws_rx_flow_control(socket.wsi, 0) }
            lws_callback_on_writable(socket.wsi)
        case .respond(let id, let response):
            guard let transaction = transactions[id] else { return }  // the client left meanwhile
            transaction.response = response
            lws_callback_on_writable(transaction.wsi)
        case .adopt(let connection):
            _ = lws_adopt_socket_vhost(vhost, connection)
        }
    }

    /// Pings the connections whose check came that have been quiet for `pingAfterSeconds` (and not
    /// pinged since), hangs up those quiet for `hangUpAfterSeconds`, and files each for its next check.
    func sweepKeepAlive() {
        service.preconditionOnServiceThread()
        let now = ContinuousClock.now
        for id in keepAlive.takeDue(at: now) {
            guard let socket = sockets[id] else { continue }
            if let deadline = socket.closeDeadline {
                if now >= deadline { lws_set_timeout(socket.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC) }
                continue
            }
            guard socket.pendingClose == nil else { continue }
            switch keepAlivePolicy.action(lastHeard: socket.lastHeard, lastPinged: socket.lastPinged, now: now) {
            case .hangUp:
                hangUp(socket, .goingAway, "no answer to pings")
                continue
            case .ping:
                socket.lastPinged = now
                // Written in the WRITEABLE callback. Written at once outside it, as frames are, lws
                // 4.1 ended up spinning in its timer list in a `peak` run.
                socket.pingDue = true
                lws_callback_on_writable(socket.wsi)
            case .wait:
                break
            }
            keepAlive.schedule(id, at: keepAlivePolicy.nextCheck(lastHeard: socket.lastHeard, lastPinged: socket.lastPinged))
        }
    }

    /// Files the end of the close handshake lws now runs for `socket`: past the grace, the
    /// connection is dropped whether or not the client has answered.
    func awaitCloseHandshake(_ socket: SocketState) {
        let deadline = ContinuousClock.now + Self.closeHandshakeGrace
        socket.closeDeadline = deadline
        keepAlive.schedule(socket.socket.id, at: deadline)
    }

    /// Drops what is queued for `socket` and closes it with `code`. A client that reads nothing
    /// never takes the close frame, so lws drops it regardless after `slowClientGraceSeconds`.
    func hangUp(_ socket: SocketState, _ code: CloseCode, _ reason: String) {
        socket.outbox.removeAll()
        socket.pendingClose = (code, reason)
        socket.hungUp = true
        lws_set_timeout(socket.wsi, PENDING_TIMEOUT_USER_OK, Int32(Self.slowClientGraceSeconds))
        lws_callback_on_writable(socket.wsi)
    }

    fileprivate func callback(
        _ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
        _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        service.preconditionOnServiceThread()
        switch reason {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            service.drain()
            return 0
        case LWS_CALLBACK_RAW_RX_FILE:
            // The listening socket (see cshim_listen for why it is ours): connections wait.
            guard let listener else { return 0 }
            for _ in 0..<Self.acceptsPerWakeUp {
                let connection = cshim_accept(listener.socket)
                if connection < 0 { break }
                listener.handOut(connection)
            }
            return 0

        case LWS_CALLBACK_HTTP:
            return beginHTTP(wsi, user)
        case LWS_CALLBACK_HTTP_BODY:
            guard let transaction = transaction(user) else { return -1 }
            // lws reports an empty body (Content-Length: 0) as one call with no bytes.
            if let input, length > 0 { transaction.request.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length)) }
            if transaction.request.body.count > configuration.maxRequestBodyBytes {
                return rejectOversizeBody(wsi, transaction)
            }
            return 0
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            guard let transaction = transaction(user) else { return -1 }
            dispatchHTTP(transaction)
            return 0
        case LWS_CALLBACK_HTTP_WRITEABLE:
            guard let transaction = transaction(user), transaction.response != nil else {
                return lws_callback_http_dummy(wsi, reason, user, input, length)
            }
            return writeHTTP(wsi, transaction)
        case LWS_CALLBACK_CLOSED_HTTP:
            if let user { transactions[user.load(as: UInt64.self)] = nil }
            return lws_callback_http_dummy(wsi, reason, user, input, length)

        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            let request = readRequest(wsi, method: .get, path: uriPath(wsi) ?? "/")
            switch delegate.shouldUpgrade(request) {
            case .accept:
                return 0
            case .reject(let status, let message):
                _ = message.withCString { lws_return_http_status(wsi, UInt32(status), $0) }
                return 1
            }
        case LWS_CALLBACK_ESTABLISHED:
            guard let user else { return -1 }
            let id = makeID()
            user.storeBytes(of: id, as: UInt64.self)
            let request = readRequest(wsi, method: .get, path: uriPath(wsi) ?? "/")
            let state = SocketState(wsi: wsi, socket: WebSocket(id: id, request: request, server: self))
            sockets[id] = state
            keepAlive.schedule(id, at: state.lastHeard + keepAlivePolicy.pingAfter)
            delegate.opened(state.socket)
            return 0
        case LWS_CALLBACK_RECEIVE:
            guard let state = socketState(user) else { return -1 }
            state.lastHeard = ContinuousClock.now
            return receive(wsi, state, input, length)
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            // lws goes on reading after the client's close frame and would hand on what follows.
            socketState(user)?.peerClosed = true
            return 0
        case LWS_CALLBACK_RECEIVE_PONG:
            socketState(user)?.lastHeard = ContinuousClock.now
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let state = socketState(user) else { return -1 }
            return writeFrame(wsi, state)
        case LWS_CALLBACK_CLOSED:
            guard let user, let state = sockets.removeValue(forKey: user.load(as: UInt64.self)) else { return 0 }
            delegate.closed(state.socket)
            return 0

        default:
            // Keeps lws's own HTTP machinery (file mounts, upgrades) working.
            return lws_callback_http_dummy(wsi, reason, user, input, length)
        }
    }
}

/// Runs `then` when the last of `count` service threads has handed a broadcast over.
final class HandOverCount: Sendable {
    private let left: Atomic<Int>
    private let then: @Sendable () -> Void

    init(_ count: Int, then: @escaping @Sendable () -> Void) {
        left = Atomic(count)
        self.then = then
    }

    func oneFinished() {
        if left.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { then() }
    }
}

/// lws's entry point: finds the server through the context's user pointer.
func webServerCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let server = lws_context_user(context) else {
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
    return Unmanaged<WebServerThread>.fromOpaque(server).takeUnretainedValue().callback(wsi, reason, user, input, length)
}
