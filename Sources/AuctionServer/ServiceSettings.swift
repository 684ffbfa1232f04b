import AuctionCore
import AuctionRuntime
import AuctionStore
import RedisClient
import TenderAPI

/// What the service needs to know; auctiond fills it from Config/auctiond.yaml and the environment.
public struct AuctionServiceSettings: Sendable {
    public var redis: RedisEndpoint
    /// The folder with the web page (index.html and its modules).
    public var webDirectory: String
    /// Base of `auctionUrl` and `participationUrl`.
    public var publicURL: String
    /// The first signs participation links; all verify (SPEC §6).
    public var hashSecrets: [String]
    /// What every store of the service applies: the outage threshold, the longest bid wait
    /// (`limits.maxBidWaitMilliseconds`) and the retention of ended auctions.
    public var storePolicy = StorePolicy()
    /// An ended auction (announced, cancelled, rescheduled) leaves this process's memory this long
    /// after it ended (`memoryGraceSeconds`); Redis keeps it for `storePolicy.retention`.
    public var memoryGrace: Duration = .seconds(3600)
    /// `relaxed`: Redis may lose acknowledged bids and the operator said so; `/healthz` shows it.
    public var durabilityRelaxed: Bool = false
    /// Bearer token of the admin endpoints; nil turns them off.
    public var adminToken: String?
    public var limits: Limits
    /// Threads that run Redis calls for WebSocket and admin requests, each with its own connection.
    public var workers: Int
    /// How often the index of auctions is read for auctions planned by another process.
    public var indexRefreshMilliseconds: Int
    /// The tender API and how to plan from it; nil answers the plan route with 503.
    public var tenderAPI: TenderAPISettings?
    public var planning: PlanningSettings

    public struct Limits: Sendable {
        /// Client messages per connection per second; more get `rate_limited`.
        public var messagesPerSecond: Int = 20
        /// Violations (rate, size) in a row after which a connection is closed with 1008.
        public var violationsBeforeClose: Int = 3
        /// WebSocket connections in all, and per client IP address.
        public var maxConnections: Int = 10_000
        public var maxConnectionsPerIP: Int = 100
        /// WebSocket connections with one participation link (a bidder's tabs and devices).
        public var maxConnectionsPerLink: Int = 5
        /// HTTP requests and WebSocket handshakes per client address per second (bursts of twice
        /// that); 0 is no limit.
        public var requestsPerIPPerSecond: Int = 50
        /// Bids of one auction waiting for Redis on its worker; beyond it a bid is answered `unavailable` at once,
        /// so an overload costs a retry, not the process's memory.
        public var maxQueuedBids: Int = 1000

        public init() {}
    }

    public init(
        redis: RedisEndpoint, webDirectory: String, publicURL: String = "http://127.0.0.1:8090",
        hashSecrets: [String], adminToken: String? = nil, limits: Limits = Limits(), workers: Int = 4,
        indexRefreshMilliseconds: Int = 1000, tenderAPI: TenderAPISettings? = nil, planning: PlanningSettings? = nil
    ) {
        self.tenderAPI = tenderAPI
        self.planning = planning ?? PlanningSettings(publicURL: publicURL)
        self.redis = redis
        self.webDirectory = webDirectory
        self.publicURL = publicURL
        self.hashSecrets = hashSecrets
        self.adminToken = adminToken
        self.limits = limits
        self.workers = workers
        self.indexRefreshMilliseconds = indexRefreshMilliseconds
    }
}
