// Live auctions in Redis (SPEC §7): the one source of truth. A store owns one Redis connection and
// is used by one thread at a time; every change is one atomic script (Scripts.swift), so any number
// of stores in any number of processes can work on the same auction.
import AuctionCore
import CryptoPrimitives
import Foundation
import RedisClient

/// What the bid script decided.

public struct StorePolicy: Sendable {
    /// No heartbeat for longer than this is an outage (`clock.outageThresholdMilliseconds`): bids
    /// and stage switches wait until it is applied.
    public var outageThreshold: Duration
    /// The longest a bid's wait between its arrival and the bid script counts for nothing
    /// (`limits.maxBidWaitMilliseconds`; the clock closes turns this long after their end).
    public var maxBidWait: Duration
    /// How long an ended auction's keys stay in Redis (`retentionDays`): the Stream is its record.
    public var retention: Duration
    /// Replicas that must hold a bid before it is acknowledged (`redisReplicasToAck`): Redis's
    /// `WAIT` after the bid script, in the same round trip. 0 acknowledges once the primary has it.
    public var replicasToAck = 0
    /// How long `WAIT` may take (`redisReplicaAckMilliseconds`); fewer replicas by then answers the
    /// bid `unavailable` (send it again: the same `requestId` returns the recorded answer).
    public var replicaAckTimeout: Duration = .milliseconds(500)

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

public final class AuctionStore {
    public let endpoint: RedisEndpoint
    public let retry: RetryPolicy
    public let policy: StorePolicy
    /// How long a server may take to answer before it counts as unreachable.
    public let timeout: Duration
    private var connection: (any RedisCommands)?
    private var scriptHashes: [String: String] = [:]

    /// Does not connect yet: the first call does, so a process can start while Redis is down.
    public init(
        endpoint: RedisEndpoint, retry: RetryPolicy = RetryPolicy(), policy: StorePolicy = StorePolicy(), timeout: Duration = .seconds(2)
    ) {
        self.endpoint = endpoint
        self.retry = retry
        self.policy = policy
        self.timeout = timeout
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
        var arguments = [plan, String(outages), SHA256.hex(Array(plan.utf8)), String(mirror.count)]
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

    /// The auction's record: the plan as stored, every logged entry's fields as written, and the
    /// chain's head (`AuctionRecord`, docs/AUDIT.md).
    public func record(of auctionId: String) throws(AuctionStoreError) -> AuctionRecord {
        let keys = AuctionKeys(auctionId)
        let replies = try run { connection in
            try connection.exchange([command("GET", keys.plan), command("XRANGE", keys.log, "-", "+"), command("HGET", keys.live, "head")])
        }
        guard case .bulk(let plan) = replies[0] else { throw .unknownAuction(auctionId) }
        var entries: [AuctionRecord.Entry] = []
        for item in replies[1].array ?? [] {
            guard let parts = item.array, parts.count == 2, let id = parts[0].string, let flat = parts[1].array,
                let seq = id.split(separator: "-").last.flatMap({ Int64($0) })
            else { throw .corrupted(auctionId: auctionId, reason: "a log entry that is not a Stream entry: \(item)") }
            entries.append(AuctionRecord.Entry(seq: seq, fields: Self.recordFields(flat)))
        }
        return AuctionRecord(auctionId: auctionId, plan: plan, entries: entries, head: replies[2].string)
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

    static func logRange(_ auctionId: String, after seq: Int64) -> [String] {
        ["XRANGE", AuctionKeys(auctionId).log, "(0-\(seq)", "+"]
    }

    static func sequencedEvents(_ reply: RedisReply, auctionId: String) -> Result<[SequencedEvent], AuctionStoreError> {
        if case .error(let message) = reply { return .failure(.redis(message)) }
        var events: [SequencedEvent] = []
        for entry in reply.array ?? [] {
            guard let parts = entry.array, parts.count == 2, let pairs = parts[1].array else {
                return .failure(.corrupted(auctionId: auctionId, reason: "a log entry is not [id, fields]"))
            }
            guard var event = StoredEvent.decode(auctionId: auctionId, Self.fieldMap(pairs)) else {
                return .failure(.corrupted(auctionId: auctionId, reason: "unreadable log entry \(parts[0].string ?? "?")"))
            }
            if pairs.count >= 2, pairs[pairs.count - 2].string == "prev" {
                event.hash = SHA256.hex(AuctionRecord.canonical(Self.recordFields(pairs)))
            }
            events.append(event)
        }
        return .success(events)
    }

    /// The bidder number of a bid id (the participation-token index), nil if not a participant.
    public func bidder(ofBid bidId: String, in auctionId: String) throws(AuctionStoreError) -> Int? {
        try run { try $0.execute("HGET", AuctionKeys(auctionId).bidders, bidId).integer }.map(Int.init)
    }

    // MARK: - Plumbing

    /// One server's connection, or on a cluster one that routes each command to its slot's primary.
    func connected() throws(RedisError) -> any RedisCommands {
        if let connection { return connection }
        let fresh = try endpoint.connectForCommands(timeout: timeout)
        connection = fresh
        return fresh
    }

    /// Runs `body`, retrying with backoff while the connection is down. Only used for operations
    /// that are safe to repeat: reads, scripts that are idempotent or compare-and-set.
    func run<T>(_ body: (any RedisCommands) throws -> T) throws(AuctionStoreError) -> T {
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
    func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) throws(AuctionStoreError) -> RedisReply {
        let reply = try evaluateBatch(script, calls: [(keys, arguments)])[0]
        if case .error(let message) = reply { throw .redis(message) }
        return reply
    }

    /// EVALSHA of one script for each call, in one round trip; the replies keep their error
    /// replies in place. If Redis lost its script cache (after a restart), the script is loaded and
    /// the batch sent again: the calls that did run are idempotent or compare-and-set, so running
    /// them twice changes nothing.
    func evaluateBatch(
        _ script: RedisScript, calls: [(keys: [String], arguments: [String])]
    ) throws(AuctionStoreError) -> [RedisReply] {
        try evaluateBatch(script, calls: calls, thenWaitFor: 0).replies
    }

    /// The same, each server's share followed by `WAIT replicas timeout` in the same round trip
    /// on the same connection when `replicas` > 0: `replicated` is, for each call, how many
    /// replicas of the server that ran it hold its writes (nil when not asked).
    func evaluateBatch(
        _ script: RedisScript, calls: [(keys: [String], arguments: [String])], thenWaitFor replicas: Int
    ) throws(AuctionStoreError) -> (replies: [RedisReply], replicated: [Int]?) {
        try run { connection in
            // Without WAIT (the default) the replies are taken as they come.
            func send(_ hash: String) throws -> (replies: [RedisReply], replicated: [Int]?) {
                let commands = calls.map { call in
                    (["EVALSHA", hash, String(call.keys.count)] + call.keys + call.arguments).map { Array($0.utf8) }
                }
                guard replicas > 0 else { return (try connection.exchange(commands), nil) }
                let answers = try connection.exchange(commands, waitingForReplicas: replicas, timeout: policy.replicaAckTimeout)
                return (answers.map(\.reply), answers.map(\.replicated))
            }
            if let hash = scriptHashes[script.name] {
                let answers = try send(hash)
                let lostScript = answers.replies.contains {
                    if case .error(let message) = $0 { message.hasPrefix("NOSCRIPT") } else { false }
                }
                if !lostScript { return answers }
            }
            return try send(try load(script, on: connection))
        }
    }

    /// EVALSHA of one script for each call, each server's share standing or failing alone
    /// (`RedisCommands.exchangeEachServerApart`), without retrying: for calls made again on the
    /// next pass anyway. A server that lost its script cache gets it loaded and its calls sent
    /// again.
    func evaluateEachServerApart(
        _ script: RedisScript, calls: [(keys: [String], arguments: [String])]
    ) -> [Result<RedisReply, AuctionStoreError>] {
        func failing(_ error: AuctionStoreError) -> [Result<RedisReply, AuctionStoreError>] { calls.map { _ in .failure(error) } }
        let connection: any RedisCommands
        do { connection = try connected() } catch { return failing(.unavailable(error)) }
        func send(_ hash: String) -> [Result<RedisReply, RedisError>] {
            connection.exchangeEachServerApart(
                calls.map { call in (["EVALSHA", hash, String(call.keys.count)] + call.keys + call.arguments).map { Array($0.utf8) } })
        }
        var replies: [Result<RedisReply, RedisError>]
        do throws(RedisError) {
            var hash = scriptHashes[script.name] ?? ""
            if hash.isEmpty { hash = try load(script, on: connection) }
            replies = send(hash)
            let lostScript = replies.contains {
                if case .success(.error(let message)) = $0 { message.hasPrefix("NOSCRIPT") } else { false }
            }
            if lostScript { replies = send(try load(script, on: connection)) }
        } catch {
            return failing(Self.storeError(error))
        }
        return replies.map { reply in
            switch reply {
            case .success(.error(let message)): .failure(.redis(message))
            case .success(let reply): .success(reply)
            case .failure(let error): .failure(Self.storeError(error))
            }
        }
    }

    /// Loads `script` (every primary, on a cluster) and remembers its hash.
    private func load(_ script: RedisScript, on connection: any RedisCommands) throws(RedisError) -> String {
        guard let hash = try connection.execute("SCRIPT", "LOAD", script.source(onCluster: endpoint.cluster != nil)).string else {
            throw .server("SCRIPT LOAD of \(script.name) returned no hash")
        }
        scriptHashes[script.name] = hash
        return hash
    }

    static func storeError(_ error: RedisError) -> AuctionStoreError {
        if case .server(let message) = error { .redis(message) } else { .unavailable(error) }
    }

    func command(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    /// A Stream entry's fields in the order written (`fieldMap` loses it).
    static func recordFields(_ flat: [RedisReply]) -> [AuctionRecord.Field] {
        stride(from: 0, to: flat.count - 1, by: 2).map { AuctionRecord.Field(flat[$0].string ?? "", flat[$0 + 1].string ?? "") }
    }

    static func fieldMap(_ flat: [RedisReply]) -> [String: String] {
        var map: [String: String] = [:]
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let key = flat[i].string, let value = flat[i + 1].string { map[key] = value }
        }
        return map
    }
}

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
