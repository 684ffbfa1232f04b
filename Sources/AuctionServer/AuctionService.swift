// The service (PROTOCOL.md): HTTP routes and the live WebSocket channel, on the WebServer wrapper.
// The lws thread never waits: Redis work goes to the store workers (loops, one connection each),
// and answers go back through `HTTPResponder` and `WebSocket.send`, which wake the lws loop.
import AuctionCore
import AuctionRuntime
import AuctionStore
import CryptoPrimitives
import Dispatch
import Foundation
import Locking
import Logging
import Metrics
import RedisClient
import Synchronization
import TenderAPI
import WebServer

public final class AuctionService: WebServerDelegate {
    let settings: AuctionServiceSettings
    let logger: Logger
    let tokens: ParticipationTokens
    let live = LiveAuctions()
    /// Redis' clock: every `serverTime` a client sees (SPEC §4: the clock that judges deadlines).
    let clock = RedisClock()
    let metrics = ServiceMetrics()
    private let workers: WorkerPool
    /// The live WebSocket channel, over the process's replicas and the workers.
    let channel: LiveChannel
    private let healthWorker: StoreWorker
    /// The slow requests: planning on request (it waits for the tender API) and the audit document
    /// (a replay); they never hold up a bid's queue.
    private let planningWorker: StoreWorker
    private let feed: AuctionEventFeed
    /// The tender API, when configured (planning on request).
    let tenderAPI: TenderAPIClient?
    /// Reads the index for auctions planned elsewhere, Redis' clock, and lets ended auctions go.
    private let indexLoop: ServiceLoop
    /// Ended auctions that left memory (`forgetEndedAuctions`), with when to see whether their keys
    /// have expired: not loaded again from the index unless they run again.
    private let forgotten = Locked<[String: ContinuousClock.Instant]>([:])
    /// Auctions whose stored state cannot be read, with why: logged once each.
    private let unreadable = Locked<[String: String]>([:])
    /// `/metrics` text from the process's metrics backend.
    private let metricsText: @Sendable () -> [UInt8]
    /// Requests and handshakes per client address (`limits.requestsPerIPPerSecond`), checked before
    /// anything else is done for them; times from `rateOrigin`.
    private let requestRate: Locked<AddressRateLimiter>
    private let rateOrigin = ContinuousClock.now

    public init(settings: AuctionServiceSettings, logger: Logger, metricsText: @escaping @Sendable () -> [UInt8] = { [] }) {
        self.settings = settings
        self.logger = logger
        self.metricsText = metricsText
        requestRate = Locked(AddressRateLimiter(perSecond: settings.limits.requestsPerIPPerSecond))
        tokens = ParticipationTokens(secrets: settings.hashSecrets)
        tenderAPI = settings.tenderAPI.map(TenderAPIClient.init(settings:))
        workers = WorkerPool(
            workers: (0..<max(1, settings.workers)).map {
                StoreWorker(
                    name: "auctiond.worker.\($0)", endpoint: settings.redis, policy: settings.storePolicy,
                    bidLimit: settings.limits.maxQueuedBids)
            })
        channel = LiveChannel(
            live: live, tokens: tokens, clock: clock, limits: settings.limits, metrics: metrics, logger: logger, bids: workers)
        healthWorker = StoreWorker(name: "auctiond.health", endpoint: settings.redis, policy: settings.storePolicy)
        planningWorker = StoreWorker(name: "auctiond.planning", endpoint: settings.redis, policy: settings.storePolicy)
        indexLoop = ServiceLoop(name: "auctiond.index", interval: .milliseconds(settings.indexRefreshMilliseconds))
        let box = FeedBox()
        feed = AuctionEventFeed(
            endpoint: settings.redis, handler: { box.service?.channel.deliver($0) },
            failure: { error in box.service?.logger.warning("event feed lost Redis", metadata: ["error": "\(error)"]) })
        box.service = self
    }

    /// Lets the feed's closures reach the service without a retain cycle at init.
    private final class FeedBox: @unchecked Sendable {
        weak var service: AuctionService?
    }

    /// Starts following Redis: loads every known auction, then keeps the replicas in step.
    public func start() {
        feed.start()
        // The auctions already in Redis are known before the first connection is taken (the web
        // server starts after this): a bidder who reconnects to a restarted process finds its auction.
        healthWorker.runAndWait { store in
            try? self.clock.synchronize(with: store)
            self.loadNewAuctions(store)
        }
        indexLoop.start { [self] in
            IndexRefresh(service: self, store: AuctionStore(endpoint: settings.redis, policy: settings.storePolicy))
        }
    }

    public func stop() {
        indexLoop.stop()
        feed.stop()
        for worker in workers.workers + [healthWorker, planningWorker] { worker.stop() }
    }

    private struct IndexRefresh: LoopWork {
        let service: AuctionService
        let store: AuctionStore
        /// `start` has just read the index and the clock: the first pass waits an interval.
        var loadedAtStart = true

        mutating func pass(_ loop: ServiceLoop) -> Duration? {
            if loadedAtStart {
                loadedAtStart = false
                return nil
            }
            do { try service.clock.synchronize(with: store) } catch {
                service.logger.warning("cannot read Redis' clock", metadata: ["error": "\(error)"])
            }
            service.loadNewAuctions(store)
            service.forgetEndedAuctions()
            return nil
        }
    }

    /// The worker for an auction: one auction's requests run in order on one queue.
    func worker(for auctionId: String) -> StoreWorker { workers.worker(for: auctionId) }

    // MARK: - Replicas

    /// Reads the index for auctions this process does not know yet (planned by another process or
    /// before a restart) and follows them.
    private func loadNewAuctions(_ store: AuctionStore) {
        let known = live.auctionIds
        let indexed: [(id: String, status: AuctionStatus?, startMilliseconds: Int64)]
        do { indexed = try store.indexedAuctions() } catch {
            metrics.redisErrors.increment()
            logger.warning("cannot read the auction index", metadata: ["error": "\(error)"])
            return
        }
        // An auction that left memory comes back only when it runs again (a re-plan); once its
        // keys should have expired, whether they did is looked at (then it leaves the index).
        let now = ContinuousClock.now
        let (new, expiring) = forgotten.withLock { forgotten in
            let listed = Set(indexed.map(\.id))
            forgotten = forgotten.filter { listed.contains($0.key) }
            var expiring: [String] = []
            let new = indexed.filter { entry in
                guard !known.contains(entry.id) else { return false }
                guard let check = forgotten[entry.id] else { return true }
                let ended = entry.status?.hasEnded ?? true
                if !ended { forgotten[entry.id] = nil }
                if ended, now >= check {
                    expiring.append(entry.id)
                    forgotten[entry.id] = now + .seconds(60)
                }
                return !ended
            }.map(\.id)
            return (new, expiring)
        }
        for id in expiring where (try? store.exists(id)) == false {
            try? store.unindex(id)
            forgotten.withLock { $0[id] = nil }
        }
        for id in new {
            do { try load(id, store: store) } catch .unknownAuction {
                // Its keys expired after the retention: the index lets it go too.
                try? store.unindex(id)
            } catch .corrupted(_, let reason) {
                // One unreadable auction hides nothing else; it is said once, not every second.
                if unreadable.withLock({ $0.updateValue(reason, forKey: id) != reason }) {
                    logger.error("auction unreadable: skipped", metadata: ["auction": "\(id)", "reason": "\(reason)"])
                }
            } catch {
                metrics.redisErrors.increment()
                logger.warning("cannot load an auction", metadata: ["auction": "\(id)", "error": "\(error)"])
                return  // Redis is failing: the next refresh tries again
            }
        }
    }

    /// Lets go of the auctions that ended more than `memoryGrace` ago: their replica, their
    /// sockets (closed with 1001) and their events. Redis keeps them for the retention.
    func forgetEndedAuctions() {
        let now = ContinuousClock.now
        let grace = settings.memoryGrace
        let (leaving, sockets): ([String], [any LiveConnection]) = live.withContents { contents in
            var leaving: [String] = []
            for (id, auction) in contents.auctions where auction.replica.state.status.hasEnded {
                guard let endedAt = auction.endedAt else {
                    contents.auctions[id]?.endedAt = now
                    continue
                }
                if now - endedAt >= grace { leaving.append(id) }
            }
            let sockets = leaving.flatMap { id in contents.auctions.removeValue(forKey: id)?.sockets ?? [] }.compactMap {
                contents.sessions[$0]?.socket
            }
            return (leaving, sockets)
        }
        guard !leaving.isEmpty else { return }
        // Its keys expire the retention after it ended, about the grace ago.
        let expiry = now + settings.storePolicy.retention - grace
        forgotten.withLock { forgotten in for id in leaving { forgotten[id] = expiry } }
        for id in leaving {
            feed.unfollow(id)
            logger.info("auction left memory", metadata: ["auction": "\(id)"])
        }
        for socket in sockets { socket.close(.goingAway, reason: "the auction is over") }
    }

    /// Follows an auction this process has just planned, before its links are published (called
    /// from the planner's thread; the health worker's connection serves it).
    public func followNow(_ auctionId: String) {
        healthWorker.runAndWait { [self] store in
            do { try load(auctionId, store: store) } catch {
                logger.warning("cannot load a planned auction", metadata: ["auction": "\(auctionId)", "error": "\(error)"])
            }
        }
    }

    /// Loads one auction from Redis and follows its events.
    func load(_ auctionId: String, store: AuctionStore) throws(AuctionStoreError) {
        let replica = try store.load(auctionId)
        live.insert(replica)
        feed.follow(auctionId, after: replica.seq)
        logger.info("auction loaded", metadata: ["auction": "\(auctionId)", "seq": "\(replica.seq)", "status": "\(replica.state.status)"])
    }

    // MARK: - HTTP

    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        metrics.httpRequests.increment()
        guard admit(request) else {
            var refusal = APIError.rateLimited(settings.limits.requestsPerIPPerSecond).response
            refusal.headers.append(("Retry-After", "1"))
            return responder.respond(refusal)
        }
        routes.handle(request) { responder.respond($0) }
    }

    /// Takes one request from its address's allowance (false: answer 429 and do nothing else).
    func admit(_ request: HTTPRequest) -> Bool {
        let now = (ContinuousClock.now - rateOrigin).wholeMilliseconds
        let admitted = requestRate.withLock { $0.admit(request.peer, nowMilliseconds: now) }
        if !admitted { metrics.rateLimitedRequests.increment() }
        return admitted
    }

    var routes: HTTPRoutes { HTTPRoutes(runtime: self, adminToken: settings.adminToken) }

    private func health(_ store: AuctionStore) -> HTTPResponse {
        struct Health: Encodable {
            var status: String
            var redis: String
            var auctions: Int?
            var serverTime: Int64
            var durability: String?
        }
        if store.ping() {
            return JSONBody.response(
                Health(
                    status: "ok", redis: "ok", auctions: live.auctionIds.count, serverTime: clock.now.milliseconds,
                    durability: settings.durabilityRelaxed ? "relaxed" : nil))
        }
        metrics.redisErrors.increment()
        logger.warning("health check failed: Redis does not answer")
        return JSONBody.response(status: 503, Health(status: "unavailable", redis: "unreachable", serverTime: clock.now.milliseconds))
    }

    /// Plans a tender's auctions from the tender API now, and follows them at once.
    private func plan(_ tenderId: String, lotId: String?, store: AuctionStore) -> HTTPResponse {
        guard let tenderAPI else {
            return APIError(status: 503, code: "tender_api_unavailable", message: "No tender API is configured (apiUrl).").response
        }
        let planner = AuctionPlanner(
            api: tenderAPI, store: store, tokens: tokens, settings: settings.planning, logger: logger,
            stored: { [weak self] id in self?.followNow(id) })
        do {
            let outcomes = try planner.plan(tenderId: tenderId, lotId: lotId)
            for outcome in outcomes { try? load(outcome.auctionId, store: store) }
            return JSONBody.response(["data": outcomes.map { ["id": $0.auctionId, "outcome": "\($0)"] }])
        } catch {
            logger.warning("plan refused", metadata: ["tender": "\(tenderId)", "error": "\(error)"])
            return Self.planningError(error).response
        }
    }

    static func planningError(_ error: PlanningError) -> APIError {
        switch error {
        case .refused: APIError(status: 422, code: "not_auctionable", message: error.description)
        case .notInAuction: APIError(status: 409, code: "not_in_auction", message: error.description)
        case .notFound: APIError(status: 404, code: "not_found", message: error.description)
        case .api(let apiError) where apiError.status != nil: APIError(status: 502, code: "tender_api_error", message: error.description)
        case .api: APIError(status: 503, code: "tender_api_unavailable", message: error.description)
        case .store: APIError(status: 503, code: "redis_unavailable", message: error.description)
        }
    }

    /// Cancels an auction: appends `cancelled` (compare-and-set, retried if a bid came first).
    private func cancel(_ id: String, store: AuctionStore) -> HTTPResponse {
        do {
            let (state, event) = try store.appendDecided(id) { state, now in state.isStoppable ? .cancelled(at: now) : nil }
            guard event != nil else {
                let why =
                    state.resultsAreFinal && state.status == .active
                    ? "past its last turn: its results are final and will be posted" : state.status.rawValue
                return APIError(status: 409, code: "not_cancellable", message: "Auction \(id) is \(why) and cannot be cancelled.").response
            }
            logger.notice("auction cancelled by an admin", metadata: ["auction": "\(id)"])
            return JSONBody.response(["data": ["id": id, "status": "cancelled"]])
        } catch .unknownAuction {
            return APIError.notFound("Auction \(id)").response
        } catch .contended {
            return APIError(status: 503, code: "busy", message: "Auction \(id) kept changing; try again.").response
        } catch {
            metrics.redisErrors.increment()
            return APIError(status: 503, code: "redis_unavailable", message: "\(error)").response
        }
    }
}

extension AuctionService {
    /// The document `auctiond audit` prints, from the record as Redis holds it now. Before the
    /// auction has ended there is nothing final to show (409); a record whose chain does not hold
    /// is named as broken (500), never served as if it were whole.
    static func auditDocument(of id: String, store: AuctionStore) -> HTTPResponse {
        do {
            let replay = try Replay(try store.record(of: id))
            guard [.finished, .announced, .cancelled].contains(replay.state.status) else {
                return APIError(
                    status: 409, code: "not_ended",
                    message: "Auction \(id) is \(replay.state.status.rawValue): its audit document is made once it has ended."
                ).response
            }
            let yaml = try replay.document(serviceVersion: serviceVersion).yaml()
            return HTTPResponse(status: 200, contentType: "application/yaml; charset=utf-8", body: Array(yaml.utf8))
        } catch AuctionStoreError.unknownAuction(_) {
            return APIError.notFound("Auction \(id)").response
        } catch let error as ReplayError {
            return APIError(status: 500, code: "record_broken", message: "The record of auction \(id) does not hold: \(error)").response
        } catch {
            return APIError(status: 503, code: "redis_unavailable", message: "\(error)").response
        }
    }
}

extension AuctionService: ServiceRuntime {
    var serverTime: Int64 { clock.now.milliseconds }

    func health(answer: @escaping @Sendable (HTTPResponse) -> Void) {
        healthWorker.run { store in answer(self.health(store)) }
    }

    func page() -> HTTPResponse {
        let path = settings.webDirectory + "/index.html"
        guard let data = FileManager.default.contents(atPath: path) else {
            return APIError(status: 503, code: "page_missing", message: "The web page is not installed.").response
        }
        return HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(data))
    }

    func metricsPage() -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metricsText())
    }

    func listedAuctions(answer: @escaping @Sendable ([AuctionListEntry]) -> Void) {
        // Off the lws thread: with many auctions, sorting and encoding the list takes a while.
        healthWorker.run { _ in
            let entries = self.live.withContents { contents in
                contents.auctions.values.map { auction in
                    let state = auction.replica.state
                    return AuctionListEntry(
                        id: auction.replica.auctionId, status: state.status,
                        startDate: state.stages.first?.start.milliseconds ?? state.input.startDate.milliseconds, title: state.input.title)
                }
            }
            answer(entries)
        }
    }

    func publicState(of auctionId: String) -> PublicAuctionState? {
        live.replica(auctionId)?.publicView(serverTime: clock.now)
    }

    func cancel(_ auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        worker(for: auctionId).run { store in answer(self.cancel(auctionId, store: store)) }
    }

    func auditDocument(of auctionId: String, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        // A replay costs milliseconds: on the worker of the slow requests, never a bid worker's
        // queue, and not the health worker's (a load balancer's check must not wait behind it).
        planningWorker.run { store in answer(Self.auditDocument(of: auctionId, store: store)) }
    }

    func plan(_ tenderId: String, lot: String?, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        planningWorker.run { store in answer(self.plan(tenderId, lotId: lot, store: store)) }
    }

    func refusedAdmin(peer: String) {
        logger.warning("admin request with a wrong token", metadata: ["peer": "\(peer)"])
    }
}

// MARK: - The live channel's side

/// The bid workers: one auction's requests always go to the same one, so they stay in order.
struct WorkerPool: BidGateway {
    let workers: [StoreWorker]

    func worker(for auctionId: String) -> StoreWorker {
        var hasher = Hasher()
        hasher.combine(auctionId)
        return workers[Int(UInt(bitPattern: hasher.finalize()) % UInt(workers.count))]
    }

    func submit(_ bid: BidSubmission, answer: @escaping StoreWorker.BidAnswer) -> Bool {
        worker(for: bid.auctionId).submit(bid, answer: answer)
    }
}

extension AuctionService {
    public func shouldUpgrade(_ request: HTTPRequest) -> UpgradeDecision {
        guard admit(request) else {
            return .reject(status: 429, message: APIError.rateLimited(settings.limits.requestsPerIPPerSecond).message)
        }
        return channel.shouldUpgrade(request)
    }
    public func opened(_ socket: WebSocket) { channel.opened(socket) }
    public func closed(_ socket: WebSocket) { channel.closed(socket) }
    public func receivedTooLarge(from socket: WebSocket) { channel.receivedTooLarge(from: socket) }
    public func received(_ text: String, from socket: WebSocket) { channel.received(text, from: socket) }
}
