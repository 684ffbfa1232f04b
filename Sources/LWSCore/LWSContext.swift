// One lws context as both roles make it, the server's threads and the load generator's client
// pool: one protocol, lws's per-connection validity timers off (KeepAlive.swift), the service
// thread's libev loop. Each role adds its own (the server: mounts and TLS).
import CLibWebSockets
import CShims

package struct LWSContextRecipe {
    package typealias Callback =
        @convention(c) (
            OpaquePointer?, lws_callback_reasons, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int
        ) -> Int32

    package var protocolName: String
    package var callback: Callback
    /// Bytes lws keeps per connection for the role (the server: the connection's id).
    package var perSessionDataSize = 0
    /// lws's receive buffer per connection.
    package var receiveBufferSize: Int
    /// The server listens on a socket of its own (`cshim_listen`) and only adopts; the client
    /// pool does not listen at all.
    package var acceptsAdoptedConnections: Bool
    package var timeoutSeconds: UInt32
    package var options: UInt64
    package var logLevel: Int32

    /// An lws retry policy with validity pings and hang-ups off (shared by every context): without
    /// one lws re-files each connection's timer in one sorted list on every frame, O(connections).
    package nonisolated(unsafe) static let noValidityTimers: UnsafeMutablePointer<lws_retry_bo_t> = {
        let policy = UnsafeMutablePointer<lws_retry_bo_t>.allocate(capacity: 1)
        policy.initialize(to: lws_retry_bo_t())
        return policy
    }()

    package init(
        protocolName: String, callback: Callback, perSessionDataSize: Int = 0, receiveBufferSize: Int, acceptsAdoptedConnections: Bool,
        timeoutSeconds: UInt32, options: UInt64, logLevel: Int32
    ) {
        self.protocolName = protocolName
        self.callback = callback
        self.perSessionDataSize = perSessionDataSize
        self.receiveBufferSize = receiveBufferSize
        self.acceptsAdoptedConnections = acceptsAdoptedConnections
        self.timeoutSeconds = timeoutSeconds
        self.options = options
        self.logLevel = logLevel
    }

    /// Makes the context on the calling thread (the service thread's `createContext`).
    /// - Parameters:
    ///   - user: what `lws_context_user` gives the callback back.
    ///   - lifetime: keeps what lws reads for the context's life.
    ///   - more: the role's own settings.
    package func make<Command>(
        user: UnsafeMutableRawPointer, on service: LWSServiceThread<Command>, keeping lifetime: LifetimeArena,
        _ more: (inout lws_context_creation_info) -> Void = { _ in }
    ) -> OpaquePointer? {
        service.preconditionOnServiceThread()
        cshim_lws_set_log_level(logLevel)
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = lifetime.keep(protocolName)
        protocols[0].callback = callback
        protocols[0].per_session_data_size = perSessionDataSize
        protocols[0].rx_buffer_size = receiveBufferSize
        lifetime.keep(protocols)

        var info = lws_context_creation_info()
        info.port = acceptsAdoptedConnections ? CONTEXT_PORT_NO_LISTEN_SERVER : CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.user = user
        info.timeout_secs = timeoutSeconds
        info.options = options
        info.retry_and_idle_policy = UnsafePointer(Self.noValidityTimers)
        more(&info)
        service.useEventLoop(&info)
        return lws_create_context(&info)
    }
}
