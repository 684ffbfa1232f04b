// One service thread of the WebServer: an lws context on its own LWSServiceThread, owning every lws
// object of its share of the connections. Other threads talk to it only through commands, which
// wake its loop. The first thread also watches the listening socket and hands each accepted
// connection to the next thread in turn (WebServer.handOut).
import CLibWebSockets
import CShims
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
    private let delegate: WebServerDelegate
    private let service: LWSServiceThread<Command>
    private var started = false
    /// The first thread's: the listening socket (cshim_listen), and what to do with a connection
    /// accepted from it.
    private var listener: (socket: Int32, handOut: (Int32) -> Void)?
    /// The context's vhost, which adopts connections (service thread only).
    private var vhost: OpaquePointer?

    // Owned by the service thread.
    private var nextID: UInt64 = 0
    private var sockets: [UInt64: SocketState] = [:]
    private var transactions: [UInt64: HTTPTransaction] = [:]
    private var keepAlive = KeepAliveWheel()
    private let keepAlivePolicy: KeepAlivePolicy
    private let lifetime = LifetimeArena()
    /// Scratch space for HTTP writes: LWS_PRE bytes, then one chunk. Used only on the service
    /// thread, one write at a time, so one buffer serves every response.
    private let httpWriteBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: cshim_lws_pre() + WebServerThread.httpChunkSize)
    private static let httpChunkSize = 16 * 1024
    /// Connections accepted in one go before the loop serves the others again.
    private static let acceptsPerWakeUp = 256
    /// An lws retry policy with validity pings and hang-ups off (shared by every context).
    nonisolated(unsafe) static let noValidityTimers: UnsafeMutablePointer<lws_retry_bo_t> = {
        let policy = UnsafeMutablePointer<lws_retry_bo_t>.allocate(capacity: 1)
        policy.initialize(to: lws_retry_bo_t())
        return policy
    }()

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
    private func makeID() -> UInt64 {
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
    private func closeAll(_ serviceOnce: () -> Void) {
        service.preconditionOnServiceThread()
        for id in sockets.keys { execute(.close(id, .goingAway, "server shutting down")) }
        let deadline = Date().addingTimeInterval(1)
        while !sockets.isEmpty, Date() < deadline {
            service.drain()
            serviceOnce()
        }
    }

    private func execute(_ command: Command) {
        service.preconditionOnServiceThread()
        switch command {
        case .send(let frame, let ids, let handedOver):
            defer { handedOver?() }
            for id in ids {
                guard let socket = sockets[id], socket.pendingClose == nil else { continue }
                if socket.outbox.count >= configuration.maxQueuedFrames {
                    hangUp(socket, .policyViolation, "too slow: outgoing queue full")
                } else if socket.outbox.isEmpty, !socket.pingDue, lws_partial_buffered(socket.wsi) == 0 {
                    writeNow(frame, to: socket)
                } else {
                    socket.outbox.append(frame)
                    lws_callback_on_writable(socket.wsi)
                }
            }
        case .close(let id, let code, let reason):
            guard let socket = sockets[id], socket.pendingClose == nil else { return }
            socket.pendingClose = (code, reason)
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
    private func sweepKeepAlive() {
        service.preconditionOnServiceThread()
        let now = ContinuousClock.now
        for id in keepAlive.takeDue(at: now) {
            guard let socket = sockets[id], socket.pendingClose == nil else { continue }
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

    /// Drops what is queued for `socket` and closes it with `code`. A client that reads nothing
    /// never takes the close frame, so lws drops it regardless after `slowClientGraceSeconds`.
    private func hangUp(_ socket: SocketState, _ code: CloseCode, _ reason: String) {
        socket.outbox.removeAll()
        socket.pendingClose = (code, reason)
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

    // MARK: HTTP

    private func transaction(_ user: UnsafeMutableRawPointer?) -> HTTPTransaction? {
        guard let user else { return nil }
        return transactions[user.load(as: UInt64.self)]
    }

    private func beginHTTP(_ wsi: OpaquePointer, _ user: UnsafeMutableRawPointer?) -> Int32 {
        guard let user else { return -1 }
        var uri: UnsafeMutablePointer<CChar>?
        var uriLength: Int32 = 0
        let methodIndex = lws_http_get_uri_and_method(wsi, &uri, &uriLength)
        guard let method = Self.method(methodIndex) else {
            _ = lws_return_http_status(wsi, 405, "Method not allowed")
            return -1
        }
        let path = uri.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(uriLength)), as: UTF8.self) } ?? "/"
        let id = makeID()
        user.storeBytes(of: id, as: UInt64.self)
        let transaction = HTTPTransaction(wsi: wsi, id: id, request: readRequest(wsi, method: method, path: path))
        transactions[id] = transaction
        let declaredLength = Int(transaction.request.headers["content-length"] ?? "") ?? 0
        if declaredLength > configuration.maxRequestBodyBytes {
            return rejectOversizeBody(wsi, transaction)
        }
        if method.carriesBody && declaredLength > 0 {
            return 0  // wait for LWS_CALLBACK_HTTP_BODY_COMPLETION
        }
        dispatchHTTP(transaction)
        return 0
    }

    private func rejectOversizeBody(_ wsi: OpaquePointer, _ transaction: HTTPTransaction) -> Int32 {
        transactions[transaction.id] = nil
        _ = lws_return_http_status(wsi, 413, "Request body too large")
        return -1
    }

    private func dispatchHTTP(_ transaction: HTTPTransaction) {
        guard !transaction.dispatched else { return }
        transaction.dispatched = true
        delegate.handle(transaction.request, responder: HTTPResponder(transaction: transaction.id, server: self))
    }

    private func writeHTTP(_ wsi: OpaquePointer, _ transaction: HTTPTransaction) -> Int32 {
        guard let response = transaction.response else { return 0 }
        let chunkSize = Self.httpChunkSize
        let start = httpWriteBuffer + cshim_lws_pre()
        let sendsBody = transaction.request.method != .head

        if !transaction.headersSent {
            var cursor: UnsafeMutablePointer<UInt8>? = start
            let end = start + chunkSize - 1
            var failed =
                lws_add_http_common_headers(
                    wsi, UInt32(response.status), response.contentType, lws_filepos_t(response.body.count), &cursor, end) != 0
            for header in response.headers where !failed {
                failed = cshim_add_header(wsi, header.name + ":", header.value, &cursor, end) != 0
            }
            if failed || lws_finalize_write_http_header(wsi, start, &cursor, end) != 0 { return -1 }
            transaction.headersSent = true
            if !sendsBody || response.body.isEmpty { return completeHTTP(wsi, transaction) }
            lws_callback_on_writable(wsi)
            return 0
        }

        let remaining = response.body.count - transaction.bodyOffset
        let count = min(remaining, chunkSize)
        response.body.withUnsafeBufferPointer { body in
            start.update(from: body.baseAddress! + transaction.bodyOffset, count: count)
        }
        let isLast = count == remaining
        let written = lws_write(wsi, start, count, isLast ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
        if written != count { return -1 }
        transaction.bodyOffset += count
        if isLast { return completeHTTP(wsi, transaction) }
        lws_callback_on_writable(wsi)
        return 0
    }

    private func completeHTTP(_ wsi: OpaquePointer, _ transaction: HTTPTransaction) -> Int32 {
        transactions[transaction.id] = nil
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }

    /// lws's method index (LWSHUMETH_*, an anonymous C enum) as our method.
    private static func method(_ index: Int32) -> HTTPMethod? {
        switch Int(index) {
        case Int(LWSHUMETH_GET): .get
        case Int(LWSHUMETH_POST): .post
        case Int(LWSHUMETH_OPTIONS): .options
        case Int(LWSHUMETH_PUT): .put
        case Int(LWSHUMETH_PATCH): .patch
        case Int(LWSHUMETH_DELETE): .delete
        case Int(LWSHUMETH_HEAD): .head
        default: nil
        }
    }

    /// The headers the service reads; lws parses these into fixed tokens.
    private static let readHeaders: [(name: String, token: lws_token_indexes)] = {
        var table: [(name: String, token: lws_token_indexes)] = []
        table.append(("host", WSI_TOKEN_HOST))
        table.append(("authorization", WSI_TOKEN_HTTP_AUTHORIZATION))
        table.append(("content-type", WSI_TOKEN_HTTP_CONTENT_TYPE))
        table.append(("content-length", WSI_TOKEN_HTTP_CONTENT_LENGTH))
        table.append(("origin", WSI_TOKEN_ORIGIN))
        table.append(("x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR))
        table.append(("user-agent", WSI_TOKEN_HTTP_USER_AGENT))
        table.append(("accept", WSI_TOKEN_HTTP_ACCEPT))
        table.append(("cookie", WSI_TOKEN_HTTP_COOKIE))
        return table
    }()

    private func uriPath(_ wsi: OpaquePointer) -> String? {
        header(wsi, WSI_TOKEN_GET_URI)
    }

    private func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let length = lws_hdr_total_length(wsi, token)
        guard length > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(length) + 1)
        guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func readRequest(_ wsi: OpaquePointer, method: HTTPMethod, path: String) -> HTTPRequest {
        var headers: [String: String] = [:]
        for (name, token) in Self.readHeaders {
            if let value = header(wsi, token) { headers[name] = value }
        }
        // lws splits the query into url-decoded "name=value" fragments.
        var query: [(name: String, value: String)] = []
        var buffer = [CChar](repeating: 0, count: 1024)
        var index: Int32 = 0
        while true {
            let length = lws_hdr_copy_fragment(wsi, &buffer, Int32(buffer.count), WSI_TOKEN_HTTP_URI_ARGS, index)
            if length < 0 { break }
            let fragment = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let equals = fragment.firstIndex(of: "=") {
                query.append((String(fragment[..<equals]), String(fragment[fragment.index(after: equals)...])))
            } else {
                query.append((fragment, ""))
            }
            index += 1
        }
        var peer = [CChar](repeating: 0, count: 64)
        let peerName = lws_get_peer_simple(wsi, &peer, peer.count).map { String(cString: $0) } ?? ""
        return HTTPRequest(method: method, path: path, query: query, headers: headers, peer: peerName)
    }

    // MARK: WebSocket

    private func socketState(_ user: UnsafeMutableRawPointer?) -> SocketState? {
        guard let user else { return nil }
        return sockets[user.load(as: UInt64.self)]
    }

    private func receive(
        _ wsi: OpaquePointer, _ state: SocketState, _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        if lws_frame_is_binary(wsi) != 0 {
            return closeNow(wsi, .unsupportedData, "binary frames are not accepted: send JSON text")
        }
        if !state.discarding {
            if state.assembly.count + length > configuration.maxMessageBytes {
                state.discarding = true
                state.assembly.removeAll()
            } else if let input {
                state.assembly.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
            }
        }
        guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
        if state.discarding {
            state.discarding = false
            delegate.receivedTooLarge(from: state.socket)
        } else {
            let text = String(decoding: state.assembly, as: UTF8.self)
            state.assembly.removeAll(keepingCapacity: state.assembly.capacity <= 64 * 1024)
            delegate.received(text, from: state.socket)
        }
        return 0
    }

    private func writeFrame(_ wsi: OpaquePointer, _ state: SocketState) -> Int32 {
        if state.pingDue {
            state.pingDue = false
            let start = httpWriteBuffer + cshim_lws_pre()
            // One byte of payload: lws 4.1 does not report an empty pong (RECEIVE_PONG), so an
            // empty ping would leave every answering client looking silent.
            start.pointee = UInt8(ascii: "k")
            if lws_write(wsi, start, 1, LWS_WRITE_PING) < 0 { return -1 }
            if !state.outbox.isEmpty || state.pendingClose != nil { lws_callback_on_writable(wsi) }
            return 0
        }
        if !state.outbox.isEmpty {
            guard write(state.outbox.removeFirst(), on: wsi) else { return -1 }
            // One write per WRITEABLE callback: ask again for the rest (and for a pending close).
            if !state.outbox.isEmpty || state.pendingClose != nil { lws_callback_on_writable(wsi) }
            return 0
        }
        if let (code, reason) = state.pendingClose { return closeNow(wsi, code, reason) }
        return 0
    }

    /// One text frame to lws; false when the socket is broken. lws takes the whole frame: what the
    /// kernel does not, it keeps (`lws_partial_buffered`) and sends first when the socket is
    /// writable again.
    private func write(_ frame: OutgoingFrame, on wsi: OpaquePointer) -> Bool {
        lws_write(wsi, frame.payload.assumingMemoryBound(to: UInt8.self), frame.count, LWS_WRITE_TEXT) >= frame.count
    }

    /// Writes `frame` at once, outside a WRITEABLE callback, when nothing is queued before it:
    /// asking for writability first costs two `epoll_ctl`s, a loop round and a callback per
    /// connection (`hot`: auctiond 6.3 → 5.5 CPU s for the same broadcasts). lws allows it for a
    /// WebSocket on HTTP/1; later frames wait in the outbox while lws holds a partial write.
    private func writeNow(_ frame: OutgoingFrame, to socket: SocketState) {
        if !write(frame, on: socket.wsi) {
            // The socket is broken. Outside its callback it cannot be closed by returning -1:
            // lws closes it at its next timeout check.
            socket.outbox.removeAll()
            socket.pendingClose = (.internalError, "write failed")
            lws_set_timeout(socket.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
        }
    }

    private func closeNow(_ wsi: OpaquePointer, _ code: CloseCode, _ reason: String) -> Int32 {
        var bytes = Array(reason.utf8.prefix(123))
        lws_close_reason(wsi, lws_close_status(rawValue: UInt32(code.rawValue)), &bytes, bytes.count)
        return -1
    }

    // MARK: Context

    private func createContext() -> OpaquePointer? {
        cshim_lws_set_log_level(cshim_lll_err() | cshim_lll_warn())
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = lifetime.keep("http")
        protocols[0].callback = webServerCallback
        protocols[0].per_session_data_size = MemoryLayout<UInt64>.size
        // lws gives every connection a receive buffer of this size. Client messages are at most
        // `maxMessageBytes` (4 KiB by default) and larger ones arrive in pieces that `receive`
        // joins, so a small buffer keeps an idle observer cheap.
        protocols[0].rx_buffer_size = 4096
        lifetime.keep(protocols)

        var info = lws_context_creation_info()
        // lws listens on nothing itself; `start` made the listening socket.
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER
        info.protocols = UnsafePointer(protocols)
        info.mounts = makeMounts()
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.timeout_secs = 20
        var options = cshim_option_validate_utf8()
        if configuration.securityHeaders { options |= cshim_option_http_headers_security_best_practices_enforce() }
        if let tls = configuration.tls {
            options |= cshim_option_ssl_global_init()
            info.ssl_cert_filepath = lifetime.keep(tls.certificatePath)
            info.ssl_private_key_filepath = lifetime.keep(tls.privateKeyPath)
        }
        info.options = options

        // No lws validity timers: the keep-alive sweep pings and hangs up (KeepAlive.swift).
        // Zero turns them off; without a policy lws applies its own default (5 minutes), and each
        // connection's timer is re-filed in one sorted list on every frame: O(connections) per
        // frame, which the `hot` load test showed as lws_dll2_add_sorted at 30 % of the CPU.
        info.retry_and_idle_policy = UnsafePointer(Self.noValidityTimers)
        service.useEventLoop(&info)
        return lws_create_context(&info)
    }

    private func makeMounts() -> UnsafePointer<lws_http_mount>? {
        var next: UnsafePointer<lws_http_mount>?
        let mimeTypes = makeMimeTypes()
        for folder in configuration.staticFolders.reversed() {
            let mount = UnsafeMutablePointer<lws_http_mount>.allocate(capacity: 1)
            mount.initialize(to: lws_http_mount())
            mount.pointee.mount_next = next
            mount.pointee.mountpoint = lifetime.keep(folder.urlPrefix)
            mount.pointee.mountpoint_len = UInt8(folder.urlPrefix.utf8.count)
            mount.pointee.origin = lifetime.keep(folder.directory)
            mount.pointee.def = lifetime.keep(folder.defaultFile)
            mount.pointee.origin_protocol = UInt8(LWSMPRO_FILE.rawValue)
            mount.pointee.extra_mimetypes = mimeTypes
            mount.pointee.cache_max_age = 60
            mount.pointee.cache_reusable = 1
            mount.pointee.cache_revalidate = 1
            lifetime.keep(mount)
            next = UnsafePointer(mount)
        }
        return next
    }

    /// Types lws does not know by itself; ES modules must be served as JavaScript.
    private func makeMimeTypes() -> UnsafePointer<lws_protocol_vhost_options>? {
        let types = [
            (".mjs", "text/javascript"), (".json", "application/json"), (".svg", "image/svg+xml"),
            (".webmanifest", "application/manifest+json"), (".woff2", "font/woff2"),
        ]
        var next: UnsafePointer<lws_protocol_vhost_options>?
        for (suffix, type) in types {
            let option = UnsafeMutablePointer<lws_protocol_vhost_options>.allocate(capacity: 1)
            option.initialize(to: lws_protocol_vhost_options())
            option.pointee.next = next
            option.pointee.name = lifetime.keep(suffix)
            option.pointee.value = lifetime.keep(type)
            lifetime.keep(option)
            next = UnsafePointer(option)
        }
        return next
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
private func webServerCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let server = lws_context_user(context) else {
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
    return Unmanaged<WebServerThread>.fromOpaque(server).takeUnretainedValue().callback(wsi, reason, user, input, length)
}

private final class SocketState {
    let wsi: OpaquePointer
    let socket: WebSocket
    var outbox: [OutgoingFrame] = []
    var pendingClose: (CloseCode, String)?
    var assembly: [UInt8] = []
    var discarding = false
    /// When the client last sent anything (a message or a pong), and when it was last pinged.
    var lastHeard = ContinuousClock.now
    var lastPinged = ContinuousClock.now
    var pingDue = false

    init(wsi: OpaquePointer, socket: WebSocket) {
        self.wsi = wsi
        self.socket = socket
    }
}

private final class HTTPTransaction {
    let wsi: OpaquePointer
    let id: UInt64
    var request: HTTPRequest
    var dispatched = false
    var response: HTTPResponse?
    var headersSent = false
    var bodyOffset = 0

    init(wsi: OpaquePointer, id: UInt64, request: HTTPRequest) {
        self.wsi = wsi
        self.id = id
        self.request = request
    }
}

/// Memory lws reads for the whole life of the context (protocol table, mounts, their strings):
/// allocated once, freed with the server.
private final class LifetimeArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    func keep(_ string: String) -> UnsafePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    func keep<T>(_ pointer: UnsafeMutablePointer<T>) {
        allocations.append(UnsafeMutableRawPointer(pointer))
    }

    deinit {
        // Pointers from `allocate` and from `strdup` are both malloc-backed on Linux.
        allocations.forEach { free($0) }
    }
}
