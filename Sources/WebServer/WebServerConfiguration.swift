/// How the HTTP/WebSocket server listens and what it tolerates from clients.
public struct WebServerConfiguration: Sendable {
    /// A folder served as static files under a URL prefix, by lws itself.
    public struct StaticFolder: Sendable {
        public var urlPrefix: String
        public var directory: String
        public var defaultFile: String

        public init(urlPrefix: String, directory: String, defaultFile: String = "index.html") {
            self.urlPrefix = urlPrefix
            self.directory = directory
            self.defaultFile = defaultFile
        }
    }

    public struct TLS: Sendable {
        public var certificatePath: String
        public var privateKeyPath: String

        public init(certificatePath: String, privateKeyPath: String) {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
        }
    }

    /// The address to listen on, exactly: "127.0.0.1" is this machine only, "0.0.0.0" or "::"
    /// every interface; an IPv6 address may be in brackets ("[::1]").
    public var host: String
    /// 0 lets the kernel choose; `WebServer.port` tells which.
    public var port: Int
    public var staticFolders: [StaticFolder]
    /// A WebSocket message larger than this is dropped as it arrives and reported to the delegate
    /// (`receivedTooLarge`), so a client cannot make the server buffer without bound.
    public var maxMessageBytes: Int
    /// A request body larger than this is answered 413 and the connection closed.
    public var maxRequestBodyBytes: Int
    /// Frames queued for one WebSocket beyond this close it (1008): a client that does not read
    /// must not grow the server's memory.
    public var maxQueuedFrames: Int
    /// A broadcast is handed to the service thread in slices of this many connections, and the
    /// thread may read its sockets between two slices.
    public var broadcastSlice: Int
    /// Seconds of silence before the server pings, and before it hangs up.
    public var pingAfterSeconds: UInt16
    public var hangUpAfterSeconds: UInt16
    /// Share the port with other processes (SO_REUSEPORT): several processes, one port.
    public var shareListeningPort: Bool
    /// lws contexts, each on its own thread with its share of the connections: a broadcast to
    /// many connections is written by all of them at once.
    public var serviceThreads: Int
    /// lws's strict security headers (CSP and friends) on every response.
    public var securityHeaders: Bool
    public var tls: TLS?

    public init(
        host: String = "127.0.0.1", port: Int = 0, staticFolders: [StaticFolder] = [],
        maxMessageBytes: Int = 64 * 1024, maxRequestBodyBytes: Int = 1 << 20, maxQueuedFrames: Int = 1024, broadcastSlice: Int = 128,
        pingAfterSeconds: UInt16 = 10, hangUpAfterSeconds: UInt16 = 30, shareListeningPort: Bool = false,
        serviceThreads: Int = 1, securityHeaders: Bool = true, tls: TLS? = nil
    ) {
        self.host = host
        self.port = port
        self.staticFolders = staticFolders
        self.maxMessageBytes = maxMessageBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.maxQueuedFrames = maxQueuedFrames
        self.broadcastSlice = broadcastSlice
        self.pingAfterSeconds = pingAfterSeconds
        self.hangUpAfterSeconds = hangUpAfterSeconds
        self.shareListeningPort = shareListeningPort
        self.serviceThreads = serviceThreads
        self.securityHeaders = securityHeaders
        self.tls = tls
    }
}

/// Why the server could not start.
public struct WebServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
