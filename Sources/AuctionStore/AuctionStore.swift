// Live auctions in Redis (SPEC §7): the one source of truth. A store owns one Redis connection and
// is used by one thread at a time; every change is one atomic script (Scripts.swift), so any number
// of stores in any number of processes can work on the same auction.
import AuctionCore
import Foundation
import RedisClient

/// What the bid script decided.
public enum BidVerdict: Sendable, Equatable {
    case accepted(seq: Int64, amount: Money, at: Timestamp)
    case cancelled(seq: Int64, at: Timestamp)
    /// Not recorded; `at` is the Redis time it was judged at.
    case rejected(BidRejectionCode, at: Timestamp)
}

/// What a bidder asks for, once the message is read.
public enum BidRequest: Sendable, Equatable {
    case place(Money)
    case cancel
    /// An amount that is not a valid amount: refused as `invalid_amount` unless the turn check
    /// refuses it first (the same order as `AuctionState.decideBid`).
    case invalid

    public init(_ intent: Result<BidIntent, BidRejection>) {
        switch intent {
        case .success(.place(let money)): self = .place(money)
        case .success(.cancel): self = .cancel
        case .failure: self = .invalid
        }
    }
}

/// One bid for `AuctionStore.placeBids`.
public struct BidSubmission: Sendable, Equatable {
    public var auctionId: String
    public var bidder: Int
    public var request: BidRequest
    public var requestId: String
    /// When the bid reached the process, by its `RedisClock`: it is judged at that time if it
    /// waited no longer than the store's `maxBidWait` (nil: judged when Redis runs it).
    public var arrivedAt: Timestamp?

    public init(auctionId: String, bidder: Int, request: BidRequest, requestId: String, arrivedAt: Timestamp? = nil) {
        self.auctionId = auctionId
        self.bidder = bidder
        self.request = request
        self.requestId = requestId
        self.arrivedAt = arrivedAt
    }
}

/// The rules a store applies that are the service's configuration, the same in every process.
public struct StorePolicy: Sendable {
    /// No heartbeat for longer than this is an outage (`clock.outageThresholdMilliseconds`): bids
    /// and stage switches wait until it is applied.
    public var outageThreshold: Duration
    /// The longest a bid's wait between its arrival and the bid script counts for nothing
    /// (`limits.maxBidWaitMilliseconds`; the clock closes turns this long after their end).
    public var maxBidWait: Duration
    /// How long an ended auction's keys stay in Redis (`retentionDays`): the Stream is its record.
    public var retention: Duration

    public init(
        outageThreshold: Duration = .seconds(3), maxBidWait: Duration = .milliseconds(defaultMaxBidWaitMilliseconds),
        retention: Duration = .seconds(30 * 86_400)
    ) {
        self.outageThreshold = outageThreshold
        self.maxBidWait = maxBidWait
        self.retention = retention
    }
}

/// Whether Redis would keep an acknowledged bid through a crash (`AuctionStore.durability`).
public enum RedisDurability: Sendable, Equatable {
    case durable
    /// `setting` is `value`, where `needed` keeps every acknowledged write.
    case lossy(setting: String, value: String, needed: String)
    /// Redis did not say (managed services rename or forbid `CONFIG`).
    case unverifiable(reason: String)
}

/// What became of an attempt to append an event.
public enum AppendOutcome: Sendable, Equatable {
    /// Appended as `seq`; `at` is the Redis time, which replaced any `redisTimePlaceholder`.
    case appended(seq: Int64, at: Timestamp)
    /// Another event came first: the log is at `seq`. Read it and decide again.
    case conflict(seq: Int64)
    /// Redis time is still before `notBefore`.
    case early(now: Timestamp)
    /// A stage switch waits: an outage is pending for the auction (Redis or every process was down
    /// and the heartbeat has not recorded it, or the clock has not applied it yet).
    case outagePending
    /// The lease is not (or no longer) this owner's.
    case notLeaseHolder
}

/// One event for `AuctionStore.append(_:)`: see `append(_:to:next:…)` for each part.
public struct AppendRequest: Sendable {
    public var event: AuctionEvent
    public var replica: AuctionReplica
    public var next: AuctionState
    public var leaseOwner: String?
    public var notBefore: Timestamp?
    public var stampWithRedisTime: Bool

    public init(
        _ event: AuctionEvent, to replica: AuctionReplica, next: AuctionState, leaseOwner: String? = nil,
        notBefore: Timestamp? = nil, stampWithRedisTime: Bool = false
    ) {
        self.event = event
        self.replica = replica
        self.next = next
        self.leaseOwner = leaseOwner
        self.notBefore = notBefore
        self.stampWithRedisTime = stampWithRedisTime
    }
}

public final class AuctionStore {
    public let endpoint: RedisEndpoint
    public let retry: RetryPolicy
    public let policy: StorePolicy
    private var connection: RedisConnection?
    private var scriptHashes: [String: String] = [:]

    /// Does not connect yet: the first call does, so a process can start while Redis is down.
    public init(endpoint: RedisEndpoint, retry: RetryPolicy = RetryPolicy(), policy: StorePolicy = StorePolicy()) {
        self.endpoint = endpoint
        self.retry = retry
        self.policy = policy
    }

    // MARK: - Planning and loading

    /// Stores a planned auction unless it exists already (a new start for an existing one is a
    /// `replanned` event). Returns whether it was written.
    @discardableResult
    public func create(_ planned: AuctionState) throws(AuctionStoreError) -> Bool {
        let id = planned.input.auctionId
        let keys = AuctionKeys(id)
        let plan: String
        do { plan = String(decoding: try JSONEncoder().encode(planned), as: UTF8.self) } catch {
            throw .corrupted(auctionId: id, reason: "cannot encode the plan: \(error)")
        }
        let outages = try run { try $0.execute("LLEN", ServiceKeys.outages).integer ?? 0 }
        let mirror = LiveMirror.fields(of: planned)
        var arguments = [plan, String(outages), String(mirror.count)]
        arguments += mirror.flatMap { [$0.0, $0.1] }
        arguments += planned.participants.enumerated().flatMap { [$0.element.bidId, String($0.offset + 1)] }
        let created = try evaluate(
            Scripts.create, keys: [keys.plan, keys.live, keys.log, keys.pending, keys.requests, keys.bidders, keys.lease, keys.report],
            arguments: arguments)
        guard created.integer == 1 else { return false }
        try index(id, status: planned.status, start: planned.input.startDate)
        return true
    }

    /// Rebuilds an auction from Redis alone: the plan, folded over every logged event.
    public func load(_ auctionId: String) throws(AuctionStoreError) -> AuctionReplica {
        try load([auctionId])[0].get()
    }

    /// `load` for several auctions in three round trips in all (plans, logs, index repairs), not
    /// three each: a clock that takes over hundreds of auctions at once would otherwise keep every
    /// other auction waiting behind them. Each auction gets its replica or its own error.
    public func load(_ auctionIds: [String]) throws(AuctionStoreError) -> [Result<AuctionReplica, AuctionStoreError>] {
        guard !auctionIds.isEmpty else { return [] }
        let plans = try run { connection in
            try connection.exchange(
                auctionIds.flatMap { id in
                    let keys = AuctionKeys(id)
                    return [command("GET", keys.plan), command("HGET", keys.live, "outages")]
                })
        }
        var replicas = auctionIds.enumerated().map { i, id in
            Result { () throws(AuctionStoreError) -> AuctionReplica in
                guard let planText = plans[2 * i].string else { throw .unknownAuction(id) }
                let planned: AuctionState
                do { planned = try JSONDecoder().decode(AuctionState.self, from: Data(planText.utf8)) } catch {
                    throw .corrupted(auctionId: id, reason: "plan: \(error)")
                }
                return AuctionReplica(planned: planned, outagesAtPlan: Int(plans[2 * i + 1].integer ?? 0))
            }
        }
        let found = replicas.indices.filter { (try? replicas[$0].get()) != nil }
        let logs = try events(of: found.map { (auctionIds[$0], Int64(0)) })
        for (i, log) in zip(found, logs) {
            guard case .success(var replica) = replicas[i] else { continue }
            do throws(AuctionStoreError) {
                try replica.catchUp(with: log.get())
                replicas[i] = .success(replica)
            } catch {
                replicas[i] = .failure(error)
            }
        }
        // The index is advisory; a crash between a script and its index update is repaired here.
        try index(replicas.compactMap { try? $0.get() }.map { ($0.auctionId, $0.state.status, nil) })
        return replicas
    }

    /// The logged events after `seq`, in order.
    public func events(of auctionId: String, after seq: Int64, count: Int? = nil) throws(AuctionStoreError) -> [SequencedEvent] {
        var arguments = Self.logRange(auctionId, after: seq)
        if let count { arguments += ["COUNT", String(count)] }
        return try Self.sequencedEvents(run { try $0.execute(arguments) }, auctionId: auctionId).get()
    }

    /// The logged events of several auctions, each after its own `seq`, in one round trip.
    public func events(
        of logs: [(auctionId: String, after: Int64)]
    ) throws(AuctionStoreError) -> [Result<[SequencedEvent], AuctionStoreError>] {
        guard !logs.isEmpty else { return [] }
        let replies = try run { connection in
            try connection.exchange(logs.map { Self.logRange($0.auctionId, after: $0.after).map { Array($0.utf8) } })
        }
        return zip(logs, replies).map { log, reply in Self.sequencedEvents(reply, auctionId: log.auctionId) }
    }

    private static func logRange(_ auctionId: String, after seq: Int64) -> [String] {
        ["XRANGE", AuctionKeys(auctionId).log, "(0-\(seq)", "+"]
    }

    private static func sequencedEvents(_ reply: RedisReply, auctionId: String) -> Result<[SequencedEvent], AuctionStoreError> {
        if case .error(let message) = reply { return .failure(.redis(message)) }
        var events: [SequencedEvent] = []
        for entry in reply.array ?? [] {
            guard let parts = entry.array, parts.count == 2, let pairs = parts[1].array else {
                return .failure(.corrupted(auctionId: auctionId, reason: "a log entry is not [id, fields]"))
            }
            guard let event = StoredEvent.decode(auctionId: auctionId, Self.fieldMap(pairs)) else {
                return .failure(.corrupted(auctionId: auctionId, reason: "unreadable log entry \(parts[0].string ?? "?")"))
            }
            events.append(event)
        }
        return .success(events)
    }

    /// The bidder number of a bid id (the participation-token index), nil if not a participant.
    public func bidder(ofBid bidId: String, in auctionId: String) throws(AuctionStoreError) -> Int? {
        try run { try $0.execute("HGET", AuctionKeys(auctionId).bidders, bidId).integer }.map(Int.init)
    }

    // MARK: - Bids

    /// Decides and records a bid atomically in Redis (see `Scripts.bid`). Safe to retry with the
    /// same `requestId`: a retry after a lost connection returns the first answer.
    public func placeBid(auctionId: String, bidder: Int, request: BidRequest, requestId: String) throws(AuctionStoreError) -> BidVerdict {
        try placeBids([BidSubmission(auctionId: auctionId, bidder: bidder, request: request, requestId: requestId)])[0].get()
    }

    /// Decides and records several bids in one round trip: the scripts run one after the other, in
    /// this order, and with `appendfsync always` Redis writes them to disk with one fsync instead
    /// of one each. Each bid gets its own verdict or error. Throws only when Redis stays
    /// unreachable; the whole batch may then be sent again, since every bid is idempotent by its
    /// `requestId`.
    public func placeBids(_ bids: [BidSubmission]) throws(AuctionStoreError) -> [Result<BidVerdict, AuctionStoreError>] {
        guard !bids.isEmpty else { return [] }
        let calls = bids.map {
            bidCall(auctionId: $0.auctionId, bidder: $0.bidder, request: $0.request, requestId: $0.requestId, arrivedAt: $0.arrivedAt)
        }
        let replies = try evaluateBatch(Scripts.bid, calls: calls)
        return zip(bids, replies).map { bid, reply in
            Result { () throws(AuctionStoreError) in try Self.verdict(reply, auctionId: bid.auctionId) }
        }
    }

    private static func verdict(_ reply: RedisReply, auctionId: String) throws(AuctionStoreError) -> BidVerdict {
        if case .error(let message) = reply { throw .redis(message) }
        guard let text = reply.string, let answer = BidScriptReply(text) else { throw .redis("bid script answered \(reply)") }
        switch answer {
        case .verdict(let verdict): return verdict
        case .missing: throw .unknownAuction(auctionId)
        case .outage: throw .outagePending(auctionId: auctionId)
        }
    }

    private func bidCall(
        auctionId: String, bidder: Int, request: BidRequest, requestId: String, arrivedAt: Timestamp? = nil
    ) -> (keys: [String], arguments: [String]) {
        let keys = AuctionKeys(auctionId)
        let (action, amount): (String, String) =
            switch request {
            case .place(let money): ("place", String(money.kopiyky))
            case .cancel: ("cancel", "")
            case .invalid: ("invalid", "")
            }
        return (
            [keys.live, keys.log, keys.pending, keys.requests, ServiceKeys.heartbeat, ServiceKeys.outages],
            [
                String(bidder), action, amount, requestId, keys.channel, String(policy.outageThreshold.wholeMicroseconds),
                arrivedAt.map { String($0.microseconds) } ?? "", String(policy.maxBidWait.wholeMicroseconds),
            ]
        )
    }

    /// The `EVALSHA` command `placeBid` sends, word by word, after loading the script: so that
    /// redis-benchmark can run the very same script beside the service (auction-loadtest).
    public func bidScriptCommand(auctionId: String, bidder: Int, amount: Money, requestId: String) throws(AuctionStoreError) -> [String] {
        let hash = try run { connection in try connection.execute("SCRIPT", "LOAD", Scripts.bid.source).string ?? "" }
        let call = bidCall(auctionId: auctionId, bidder: bidder, request: .place(amount), requestId: requestId)
        return ["EVALSHA", hash, String(call.keys.count)] + call.keys + call.arguments
    }

    // MARK: - Appending events

    /// Appends `event`, which `replica` decided, if nothing was appended since (compare-and-set on
    /// `replica.seq`). `next` is the state after the event: the bid script's values are updated
    /// from it in the same step. With `leaseOwner`, only that lease's holder may append.
    public func append(
        _ event: AuctionEvent, to replica: AuctionReplica, next: AuctionState, leaseOwner: String? = nil,
        notBefore: Timestamp? = nil, stampWithRedisTime: Bool = false
    ) throws(AuctionStoreError) -> AppendOutcome {
        let request = AppendRequest(
            event, to: replica, next: next, leaseOwner: leaseOwner, notBefore: notBefore, stampWithRedisTime: stampWithRedisTime)
        return try append([request])[0].get()
    }

    /// `append` for events of several auctions in one round trip (the clock switching the stages
    /// of every auction that is due at the same second). Each is its own compare-and-set, with its
    /// own outcome or error; the index follows the appended ones in one more round trip.
    public func append(_ requests: [AppendRequest]) throws(AuctionStoreError) -> [Result<AppendOutcome, AuctionStoreError>] {
        guard !requests.isEmpty else { return [] }
        let replies = try evaluateBatch(Scripts.append, calls: requests.map(appendCall))
        let outcomes = zip(requests, replies).map { request, reply in
            Result { () throws(AuctionStoreError) in try Self.appendOutcome(reply, auctionId: request.replica.auctionId) }
        }
        let moves: [(String, AuctionStatus, Timestamp?)] = zip(requests, outcomes).compactMap { request, outcome in
            guard case .success(.appended) = outcome else { return nil }
            let (before, after) = (request.replica.state, request.next)
            let moved = after.input.startDate != before.input.startDate
            guard after.status != before.status || moved else { return nil }
            return (request.replica.auctionId, after.status, moved ? after.input.startDate : nil)
        }
        try index(moves)
        return outcomes
    }

    private func appendCall(_ request: AppendRequest) -> (keys: [String], arguments: [String]) {
        let (event, replica, next) = (request.event, request.replica, request.next)
        let keys = AuctionKeys(replica.auctionId)
        let clearPending: String =
            switch event {
            case .stageStarted(let index, _) where index > 0 && replica.state.stages[index - 1].kind == .bids: String(index - 1)
            case .cancelled, .rescheduled: "all"
            case .outageRecovered where next.status == .rescheduled: "all"
            case .replanned: "reset"
            default: ""
            }
        let mirror = LiveMirror.fields(of: next)
        var fields = StoredEvent.fields(of: event)
        if request.stampWithRedisTime { fields = fields.map { $0.0 == "at" ? ($0.0, redisTimePlaceholder) : $0 } }
        var arguments = [
            request.leaseOwner ?? "", String(replica.seq), request.notBefore.map { String($0.microseconds) } ?? "", keys.channel,
            clearPending, String(mirror.count),
        ]
        let ends = next.status != replica.state.status && next.status.hasEnded
        let expiry: String =
            if case .replanned = event { "persist" } else if ends { String(max(1, policy.retention.wholeMilliseconds)) } else { "" }
        arguments +=
            mirror.flatMap { [$0.0, $0.1] } + [String(policy.outageThreshold.wholeMicroseconds), expiry] + fields.flatMap { [$0.0, $0.1] }
        return (
            [
                keys.live, keys.log, keys.pending, keys.lease, keys.requests, ServiceKeys.heartbeat, ServiceKeys.outages, keys.plan,
                keys.bidders,
                keys.report, keys.refusedReport,
            ], arguments
        )
    }

    private static func appendOutcome(_ reply: RedisReply, auctionId: String) throws(AuctionStoreError) -> AppendOutcome {
        if case .error(let message) = reply { throw .redis(message) }
        let parts = reply.array ?? []
        func int(_ i: Int) -> Int64? { i < parts.count ? parts[i].integer : nil }
        switch parts.first?.string {
        case "appended": if let seq = int(1), let at = int(2) { return .appended(seq: seq, at: Timestamp(microseconds: at)) }
        case "conflict": if let seq = int(1) { return .conflict(seq: seq) }
        case "early": if let now = int(1) { return .early(now: Timestamp(microseconds: now)) }
        case "outage": return .outagePending
        case "lease": return .notLeaseHolder
        case "missing": throw .unknownAuction(auctionId)
        default: break
        }
        throw .redis("append script answered \(reply)")
    }

    /// Appends the event `decide` makes of the auction's latest state (stamped with Redis time),
    /// reading the log again and asking again whenever another event came first. Returns the state
    /// decided on and the event appended, or nil as the event when `decide` declined (or its event
    /// does not apply to that state).
    public func appendDecided(
        _ auctionId: String, attempts: Int = 10, _ decide: (AuctionState, Timestamp) -> AuctionEvent?
    ) throws(AuctionStoreError) -> (state: AuctionState, event: AuctionEvent?) {
        for _ in 0..<attempts {
            let replica = try load(auctionId)
            guard let event = decide(replica.state, try now()) else { return (replica.state, nil) }
            var next = replica.state
            do { try next.apply(event) } catch { return (replica.state, nil) }
            if case .appended = try append(event, to: replica, next: next, stampWithRedisTime: true) { return (replica.state, event) }
        }
        throw .contended(auctionId: auctionId)
    }

    // MARK: - Leases and liveness

    /// Takes or renews the lease on `auctionId`'s clock. Returns whether `owner` holds it now.
    public func acquireLease(_ auctionId: String, owner: String, ttl: Duration) throws(AuctionStoreError) -> Bool {
        try acquireLeases([auctionId], owner: owner, ttl: ttl)[0]
    }

    /// `acquireLease` for several auctions in one round trip (a clock with hundreds of auctions
    /// renews them all each second; one by one, each would wait for its own fsync).
    public func acquireLeases(_ auctionIds: [String], owner: String, ttl: Duration) throws(AuctionStoreError) -> [Bool] {
        let calls = auctionIds.map { id in (keys: [AuctionKeys(id).lease], arguments: [owner, String(ttl.wholeMilliseconds)]) }
        return try evaluateBatch(Scripts.acquireLease, calls: calls).map { reply throws(AuctionStoreError) in
            if case .error(let message) = reply { throw .redis(message) }
            return reply.integer == 1
        }
    }

    /// Gives the leases up so that another process takes over at once.
    public func releaseLeases(_ auctionIds: [String], owner: String) throws(AuctionStoreError) {
        guard !auctionIds.isEmpty else { return }
        let calls = auctionIds.map { id in (keys: [AuctionKeys(id).lease], arguments: [owner]) }
        for reply in try evaluateBatch(Scripts.releaseLease, calls: calls) {
            if case .error(let message) = reply { throw .redis(message) }
        }
    }

    /// Says this process is alive and returns how many outages (every process down for longer
    /// than `threshold`) have been recorded in all.
    public func heartbeat(threshold: Duration) throws(AuctionStoreError) -> Int {
        let reply = try evaluate(
            Scripts.heartbeat, keys: [ServiceKeys.heartbeat, ServiceKeys.outages], arguments: [String(threshold.wholeMicroseconds)])
        return Int(reply.integer ?? 0)
    }

    /// Recorded outages from index `first` on (0-based), oldest first.
    public func outages(from first: Int) throws(AuctionStoreError) -> [(from: Timestamp, until: Timestamp)] {
        let reply = try run { try $0.execute("LRANGE", ServiceKeys.outages, String(first), "-1") }
        return (reply.array ?? []).compactMap { item in
            let parts = (item.string ?? "").split(separator: ":").compactMap { Int64($0) }
            guard parts.count == 2 else { return nil }
            return (Timestamp(microseconds: parts[0]), Timestamp(microseconds: parts[1]))
        }
    }

    /// Redis' own clock: the one deadlines are judged by.
    public func now() throws(AuctionStoreError) -> Timestamp {
        let parts = try run { try $0.execute("TIME") }.array ?? []
        guard parts.count == 2, let seconds = parts[0].integer, let micro = parts[1].integer else {
            throw .redis("TIME answered \(parts)")
        }
        return Timestamp(microseconds: seconds * 1_000_000 + micro)
    }

    /// Whether Redis keeps an acknowledged write through a crash: `appendonly yes` and
    /// `appendfsync always` (SPEC §7). A Redis that refuses `CONFIG GET` cannot say.
    public func durability() throws(AuctionStoreError) -> RedisDurability {
        let replies = try run { try $0.exchange([command("CONFIG", "GET", "appendonly"), command("CONFIG", "GET", "appendfsync")]) }
        var values: [String: String] = [:]
        for reply in replies {
            if case .error(let message) = reply { return .unverifiable(reason: message) }
            values.merge(Self.fieldMap(reply.array ?? [])) { $1 }
        }
        for (setting, needed) in [("appendonly", "yes"), ("appendfsync", "always")] {
            guard let value = values[setting] else { return .unverifiable(reason: "CONFIG GET \(setting) answered nothing") }
            if value.lowercased() != needed { return .lossy(setting: setting, value: value, needed: needed) }
        }
        return .durable
    }

    /// Whether Redis answers, without retrying.
    public func ping() -> Bool {
        (try? connected().execute("PING")) == .status("PONG")
    }

    // MARK: - The index of auctions

    /// Every auction the index knows, with its status, soonest start first.
    public func indexedAuctions() throws(AuctionStoreError) -> [(id: String, status: AuctionStatus?, startMilliseconds: Int64)] {
        let replies = try run {
            try $0.pipeline([command("ZRANGE", ServiceKeys.schedule, "0", "-1", "WITHSCORES"), command("HGETALL", ServiceKeys.status)])
        }
        let statuses = Self.fieldMap(replies[1].array ?? [])
        let flat = replies[0].array ?? []
        return stride(from: 0, to: flat.count - 1, by: 2).compactMap { i in
            guard let id = flat[i].string, let score = flat[i + 1].string.flatMap(Double.init) else { return nil }
            return (id, statuses[id].flatMap(AuctionStatus.init(rawValue:)), Int64(score))
        }
    }

    private func index(_ auctionId: String, status: AuctionStatus, start: Timestamp?) throws(AuctionStoreError) {
        try index([(auctionId, status, start)])
    }

    /// Whether the auction's plan is still in Redis (not expired).
    public func exists(_ auctionId: String) throws(AuctionStoreError) -> Bool {
        try run { try $0.execute("EXISTS", AuctionKeys(auctionId).plan) }.integer == 1
    }

    /// Takes an auction whose keys are gone (expired after the retention) out of the index.
    public func unindex(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.pipeline([command("ZREM", ServiceKeys.schedule, auctionId), command("HDEL", ServiceKeys.status, auctionId)]) }
    }

    /// Records each auction's status, and its start when given, in one round trip.
    private func index(_ entries: [(auctionId: String, status: AuctionStatus, start: Timestamp?)]) throws(AuctionStoreError) {
        guard !entries.isEmpty else { return }
        var commands: [[[UInt8]]] = []
        for entry in entries {
            commands.append(command("HSET", ServiceKeys.status, entry.auctionId, entry.status.rawValue))
            if let start = entry.start {
                commands.append(command("ZADD", ServiceKeys.schedule, String(start.milliseconds), entry.auctionId))
            }
        }
        _ = try run { try $0.pipeline(commands) }
    }

    // MARK: - The results outbox

    /// Keeps a results report until the API accepts it. A report already waiting is kept as it is.
    public func enqueueReport(_ auctionId: String, body: Data) throws(AuctionStoreError) {
        try enqueueReports([(auctionId, body)])
    }

    /// `enqueueReport` for several auctions in two round trips. A report the API refused for good
    /// (`refuseReport`) is never queued again, whichever process's clock offers it.
    public func enqueueReports(_ reports: [(auctionId: String, body: Data)]) throws(AuctionStoreError) {
        guard !reports.isEmpty else { return }
        let calls = reports.map { report in
            let keys = AuctionKeys(report.auctionId)
            return (keys: [keys.report, keys.refusedReport], arguments: [String(decoding: report.body, as: UTF8.self)])
        }
        let waiting = try evaluateBatch(Scripts.queueReport, calls: calls)
        // Adding to the outbox is idempotent, so a crash between the two steps is mended by the
        // next offer of the same report.
        let commands = zip(reports, waiting).compactMap { report, reply in
            reply.integer == 1 ? command("SADD", ServiceKeys.outbox, report.auctionId) : nil
        }
        if !commands.isEmpty { _ = try run { try $0.pipeline(commands) } }
    }

    /// The API refused the report for good and the tender does not show it: it leaves the outbox
    /// and is kept as `refusedReport`, the record of what was not accepted.
    public func refuseReport(_ auctionId: String) throws(AuctionStoreError) {
        let keys = AuctionKeys(auctionId)
        _ = try run { connection in
            try connection.exchange([command("RENAME", keys.report, keys.refusedReport), command("SREM", ServiceKeys.outbox, auctionId)])
        }
    }

    /// The report the API refused for good, if it did.
    public func refusedReport(of auctionId: String) throws(AuctionStoreError) -> Data? {
        guard case .bulk(let bytes) = try run({ try $0.execute("GET", AuctionKeys(auctionId).refusedReport) }) else { return nil }
        return Data(bytes)
    }

    /// Auctions whose report waits for the API.
    public func waitingReports() throws(AuctionStoreError) -> [String] {
        try run { try $0.execute("SMEMBERS", ServiceKeys.outbox) }.array?.compactMap(\.string).sorted() ?? []
    }

    public func report(of auctionId: String) throws(AuctionStoreError) -> Data? {
        guard case .bulk(let bytes) = try run({ try $0.execute("GET", AuctionKeys(auctionId).report) }) else { return nil }
        return Data(bytes)
    }

    /// The API accepted the report: it leaves the outbox (the `resultsReported` event is appended
    /// separately, by whoever posted it).
    public func removeReport(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.pipeline([command("SREM", ServiceKeys.outbox, auctionId), command("DEL", AuctionKeys(auctionId).report)]) }
    }

    // MARK: - The tender API's side: links to publish, the feed's position

    /// The auction's links wait to be written to the API (until `linksPublished`).
    public func queueLinks(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SADD", ServiceKeys.linksOutbox, auctionId) }
    }

    public func waitingLinks() throws(AuctionStoreError) -> [String] {
        try run { try $0.execute("SMEMBERS", ServiceKeys.linksOutbox) }.array?.compactMap(\.string).sorted() ?? []
    }

    public func linksPublished(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SREM", ServiceKeys.linksOutbox, auctionId) }
    }

    /// Where the feed follower is in `resource`'s tender list; nil before its first page.
    public func feedPosition(_ resource: String) throws(AuctionStoreError) -> String? {
        try run { try $0.execute("GET", ServiceKeys.feedPosition(resource)) }.string
    }

    public func setFeedPosition(_ resource: String, _ offset: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SET", ServiceKeys.feedPosition(resource), offset) }
    }

    /// A listed tender the feed could not plan: tried again from `retryAt` on.
    public func skipTender(_ resource: String, _ tenderId: String, retryAt: Timestamp) throws(AuctionStoreError) {
        _ = try run { try $0.execute("ZADD", ServiceKeys.skippedTenders, String(retryAt.milliseconds), "\(resource)/\(tenderId)") }
    }

    /// The skipped tenders whose next attempt is due by `time`, as (resource, id).
    public func skippedTenders(dueBy time: Timestamp) throws(AuctionStoreError) -> [(resource: String, tenderId: String)] {
        let reply = try run { try $0.execute("ZRANGEBYSCORE", ServiceKeys.skippedTenders, "-inf", String(time.milliseconds)) }
        return (reply.array ?? []).compactMap { item in
            guard let text = item.string, let slash = text.firstIndex(of: "/") else { return nil }
            return (String(text[..<slash]), String(text[text.index(after: slash)...]))
        }
    }

    public func forgetSkippedTender(_ resource: String, _ tenderId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("ZREM", ServiceKeys.skippedTenders, "\(resource)/\(tenderId)") }
    }

    // MARK: - Plumbing

    private func connected() throws(RedisError) -> RedisConnection {
        if let connection { return connection }
        let fresh = try RedisConnection(endpoint: endpoint)
        connection = fresh
        return fresh
    }

    /// Runs `body`, retrying with backoff while the connection is down. Only used for operations
    /// that are safe to repeat: reads, scripts that are idempotent or compare-and-set.
    private func run<T>(_ body: (RedisConnection) throws -> T) throws(AuctionStoreError) -> T {
        let deadline = ContinuousClock.now + retry.budget
        var backoff = Backoff(first: retry.initialDelay, maximum: retry.maximumDelay)
        while true {
            do {
                return try body(try connected())
            } catch {
                guard let error = error as? RedisError else { throw .redis("\(error)") }
                switch error {
                case .server(let message): throw .redis(message)
                case .connectionFailed, .connectionLost, .protocolError:
                    let delay = backoff.next()
                    if ContinuousClock.now + delay > deadline { throw .unavailable(error) }
                    Thread.sleep(forTimeInterval: delay.inSeconds)
                }
            }
        }
    }

    /// EVALSHA, loading the script first on a server that does not know it (after a restart).
    private func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) throws(AuctionStoreError) -> RedisReply {
        let reply = try evaluateBatch(script, calls: [(keys, arguments)])[0]
        if case .error(let message) = reply { throw .redis(message) }
        return reply
    }

    /// EVALSHA of one script for each call, in one round trip; the replies keep their error
    /// replies in place. If Redis lost its script cache (after a restart), the script is loaded and
    /// the batch sent again: the calls that did run are idempotent or compare-and-set, so running
    /// them twice changes nothing.
    private func evaluateBatch(
        _ script: RedisScript, calls: [(keys: [String], arguments: [String])]
    ) throws(AuctionStoreError) -> [RedisReply] {
        try run { connection in
            func send(_ hash: String) throws -> [RedisReply] {
                try connection.exchange(
                    calls.map { call in
                        (["EVALSHA", hash, String(call.keys.count)] + call.keys + call.arguments).map { Array($0.utf8) }
                    })
            }
            if let hash = scriptHashes[script.name] {
                let replies = try send(hash)
                let lostScript = replies.contains { if case .error(let message) = $0 { message.hasPrefix("NOSCRIPT") } else { false } }
                if !lostScript { return replies }
            }
            guard let hash = try connection.execute("SCRIPT", "LOAD", script.source).string else {
                throw RedisError.server("SCRIPT LOAD of \(script.name) returned no hash")
            }
            scriptHashes[script.name] = hash
            return try send(hash)
        }
    }

    private func command(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    static func fieldMap(_ flat: [RedisReply]) -> [String: String] {
        var map: [String: String] = [:]
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let key = flat[i].string, let value = flat[i + 1].string { map[key] = value }
        }
        return map
    }
}

/// The values the bid script reads, computed from AuctionCore's state (so the rules have one
/// source): status, current stage, each stage's kind, start, end and bidder, each bidder's own
/// price, the step and the direction.
enum LiveMirror {
    static func fields(of state: AuctionState) -> [(String, String)] {
        let timeline = state.stages.map { stage -> String in
            let kind =
                switch stage.kind {
                case .pause: "p"
                case .bids: "b"
                case .preAnnouncement: "r"
                case .announcement: "a"
                }
            return "[\"\(kind)\",\(stage.start.microseconds),\(stage.end?.microseconds ?? -1),\(stage.bidder ?? 0)]"
        }
        return [
            ("status", state.status.rawValue), ("stage", String(state.currentStage)),
            ("timeline", "[" + timeline.joined(separator: ",") + "]"),
            ("prices", "[" + state.prices.map { String($0.amount.kopiyky) }.joined(separator: ",") + "]"),
            ("step", String(state.input.minimalStep.kopiyky)), ("criteria", state.input.criteria.rawValue),
        ]
    }
}
