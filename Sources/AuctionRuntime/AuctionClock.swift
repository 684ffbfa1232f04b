// The clock of live auctions: switches stages when they are due, applies outages, and queues the
// results report. One process at a time drives each auction, holding a renewable lease; when the
// holder dies, another process's clock takes the lease within `leaseTTL` and carries on from the
// log. Bids never wait for the clock: the bid script judges deadlines by Redis time by itself.
import AuctionCore
import AuctionStore
import Foundation
import Locking
import RedisClient
import Synchronization

public struct ClockSettings: Sendable {
    /// How long a lease outlives its holder.
    public var leaseTTL: Duration = .seconds(5)
    /// How often a held lease is renewed, and a free one tried.
    public var leaseRenewal: Duration = .seconds(1)
    /// How often this process says it is alive and looks for new auctions.
    public var heartbeatInterval: Duration = .seconds(1)
    /// No heartbeat from any process for longer than this is an outage (SPEC §3).
    public var outageThreshold: Duration = .seconds(3)
    /// The longest the clock sleeps without looking.
    public var maximumSleep: Duration = .milliseconds(250)
    /// How long after its end a turn is closed (`limits.maxBidWaitMilliseconds`): a bid that
    /// reached a process in time may wait this long in its queue and is still judged in the turn.
    public var bidGrace: Duration = .milliseconds(defaultMaxBidWaitMilliseconds)
    /// How long an ended auction's keys stay in Redis (an outage may reschedule one).
    public var retention: Duration = StorePolicy().retention

    /// What the clock's stores apply.
    public var storePolicy: StorePolicy { StorePolicy(outageThreshold: outageThreshold, maxBidWait: bidGrace, retention: retention) }

    public init() {}
}

/// What the clock did, for logs and metrics.
public enum ClockReport: Sendable {
    case leaseAcquired(auctionId: String)
    case leaseLost(auctionId: String)
    /// A stage started `lag` after it was due (its start; after a turn, the bid grace later).
    case stageStarted(auctionId: String, stage: Int, lag: Duration)
    case outageApplied(auctionId: String, from: Timestamp, until: Timestamp, status: AuctionStatus)
    case reportQueued(auctionId: String)
    case failed(auctionId: String?, error: AuctionStoreError)
}

public final class AuctionClock: Sendable {
    public let owner: String
    private let endpoint: RedisEndpoint
    private let settings: ClockSettings
    private let observer: @Sendable (ClockReport) -> Void
    private let loop: ServiceLoop
    /// The heartbeat runs on a loop of its own: it says the process is up (SPEC: an outage is
    /// every instance down), and a long pass of the clock over many busy auctions must not make
    /// a live process look dead and shift every schedule.
    private let heartbeatLoop: ServiceLoop
    /// Outages recorded in Redis so far, as the heartbeat last read them (one server).
    private let recordedOutages = Atomic<Int>(0)
    /// On a cluster: the live auctions the clock follows, which the heartbeat stamps, and the
    /// outages of their own that the stamps found pending (`AuctionStore.stamp`).
    private let followed = Locked<[String]>([])
    private let auctionOutages = Locked<[String: Outage]>([:])

    /// - Parameters:
    ///   - owner: this process's lease name; unique per process (host, pid and a random part).
    ///   - observer: told of every switch, lease change and failure, on the clock's thread.
    public init(
        endpoint: RedisEndpoint, owner: String, settings: ClockSettings = ClockSettings(),
        observer: @escaping @Sendable (ClockReport) -> Void = { _ in }
    ) {
        self.endpoint = endpoint
        self.owner = owner
        self.settings = settings
        self.observer = observer
        loop = ServiceLoop(name: "auction-clock", interval: settings.maximumSleep)
        // A failed beat is tried again sooner: every missed second counts towards an outage.
        heartbeatLoop = ServiceLoop(
            name: "auction-heartbeat", interval: settings.heartbeatInterval,
            backoff: Backoff(first: min(.milliseconds(200), settings.heartbeatInterval), maximum: settings.heartbeatInterval),
            report: { error in observer(.failed(auctionId: nil, error: error as? AuctionStoreError ?? .redis("\(error)"))) })
    }

    /// A lease name unique to this process.
    public static func processOwnerName() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UInt32.random(in: 0...UInt32.max))"
    }

    public func start() {
        // On a cluster a shard that does not answer holds the beat up for the store's time-out,
        // and a beat late by the threshold would count as an outage of every other shard's
        // auctions: a third of it leaves room for the beat after.
        let beatTimeout = endpoint.cluster == nil ? .seconds(2) : min(.seconds(2), settings.outageThreshold / 3)
        heartbeatLoop.start { [self] in Heartbeat(store: makeStore(timeout: beatTimeout), clock: self) }
        loop.start { [self] in
            let store = makeStore()
            // The first heartbeat comes before the first pass, so that pass applies any outage.
            try? beat(store)
            return Loop(
                store: store, owner: owner, settings: settings, observer: observer,
                outageCount: { [self] in recordedOutages.load(ordering: .acquiring) },
                auctionOutages: { [self] in auctionOutages.withLock { $0 } },
                follow: { [self] ids in followed.withLock { $0 = ids } },
                isStopping: { [loop] in loop.isStopping })
        }
    }

    /// Stops the clock and releases every lease it holds, so another process takes over at once.
    public func stop() {
        loop.stop()
        heartbeatLoop.stop()
    }

    private func makeStore(timeout: Duration = .seconds(2)) -> AuctionStore {
        AuctionStore(endpoint: endpoint, retry: RetryPolicy(budget: .milliseconds(500)), policy: settings.storePolicy, timeout: timeout)
    }

    /// Says this process is alive and learns how many outages are recorded; on a cluster, says
    /// so on each followed auction's shard and learns which auctions have an outage pending.
    /// A shard that cannot be reached is reported (the loop tries again sooner), the others'
    /// auctions are stamped all the same.
    fileprivate func beat(_ store: AuctionStore) throws(AuctionStoreError) {
        guard store.outagesArePerAuction else {
            return recordedOutages.store(try store.heartbeat(threshold: settings.outageThreshold), ordering: .releasing)
        }
        let ids = followed.withLock { $0 }
        var pending: [String: Outage] = [:]
        var unanswered: [String] = []
        var failure: AuctionStoreError?
        for (id, stamped) in zip(ids, store.stamp(ids)) {
            switch stamped {
            case .success(let outage): pending[id] = outage
            case .failure(let error):
                unanswered.append(id)
                failure = failure ?? error
            }
        }
        // An auction whose shard did not answer keeps the outage it had: it is still pending.
        auctionOutages.withLock { known in
            for id in unanswered { pending[id] = known[id] }
            known = pending
        }
        if let failure { throw failure }
    }

    /// Beats once an interval.
    private struct Heartbeat: LoopWork {
        let store: AuctionStore
        let clock: AuctionClock

        func pass(_ loop: ServiceLoop) throws -> Duration? {
            try clock.beat(store)
            return nil
        }
    }
}

/// The clock's state, owned by its loop's thread.
///
/// Its work comes in batches: a thousand auctions whose stages are due in the same second cost a
/// handful of round trips to Redis, not a thousand times as many. Redis serves the bid batches and
/// their fsyncs meanwhile, so each round trip waits its turn; one per auction put the last
/// auctions' stage switches seconds late.
private struct Loop: LoopWork {
    let store: AuctionStore
    let owner: String
    let settings: ClockSettings
    let observer: @Sendable (ClockReport) -> Void
    /// Outages recorded so far (the heartbeat thread reads them).
    let outageCount: () -> Int
    /// On a cluster: the outages of their own that auctions have pending (the heartbeat's stamps
    /// find them), and where the clock says which auctions the heartbeat stamps.
    let auctionOutages: () -> [String: Outage]
    let follow: ([String]) -> Void
    /// Auction outages this clock appended, until the stamps no longer report them pending.
    var appliedAuctionOutages: [String: Outage] = [:]
    let isStopping: () -> Bool
    /// Auctions whose lease this process holds.
    var held: HeldAuctions
    /// Live auctions known from the index: candidates for a lease.
    var candidates: Set<String> = []
    var nextLeaseAttempt: [String: ContinuousClock.Instant] = [:]
    /// When the index and the Redis clock offset are read again.
    var nextRefresh = ContinuousClock.now
    /// Redis' clock as this thread last measured it: stage starts are Redis times.
    let redisClock = RedisClock()
    var queuedReports: Set<String> = []
    /// Auctions whose stored state cannot be read: reported once, then left alone.
    var unreadable: Set<String> = []

    init(
        store: AuctionStore, owner: String, settings: ClockSettings, observer: @escaping @Sendable (ClockReport) -> Void,
        outageCount: @escaping () -> Int, auctionOutages: @escaping () -> [String: Outage], follow: @escaping ([String]) -> Void,
        isStopping: @escaping () -> Bool
    ) {
        self.store = store
        self.owner = owner
        self.settings = settings
        self.observer = observer
        self.outageCount = outageCount
        self.auctionOutages = auctionOutages
        self.follow = follow
        self.isStopping = isStopping
        held = HeldAuctions(bidGraceMilliseconds: settings.bidGrace.wholeMilliseconds)
    }

    var redisNow: Timestamp { redisClock.now }

    mutating func pass(_ loop: ServiceLoop) -> Duration? { tick() }

    mutating func finish() { releaseAll() }

    /// One pass; returns how long to sleep. Lease renewals go first (about one round trip a
    /// second, and a lease lost costs its auction seconds); then the due stage switches, the work
    /// a schedule waits for, before the index read, whose round trips wait behind the bid
    /// batches' fsyncs like any other. A run of switches stops when a renewal falls due: under load
    /// a run can take longer than a lease lives. The switches are looked at again after the
    /// bookkeeping, for one that fell due meanwhile or an auction just taken over.
    mutating func tick() -> Duration {
        let now = ContinuousClock.now
        renewLeases()
        appendDueEvents()
        refreshIfDue()
        renewLeases()
        appendDueEvents()
        settleFinalAuctions()
        return nextWake(after: now)
    }

    private var leaseRenewalDue: Bool {
        nextLeaseAttempt.values.min().map { ContinuousClock.now >= $0 } ?? false
    }

    /// Reads the index for new auctions and Redis' clock, once a heartbeat interval.
    private mutating func refreshIfDue() {
        let now = ContinuousClock.now
        guard now >= nextRefresh else { return }
        do {
            // At the reply, as `RedisClock` does: never ahead, so a switch is never tried too soon.
            try redisClock.synchronize(with: store)
            let indexed = try store.indexedAuctions()
            let live = indexed.filter { ($0.status == .scheduled || $0.status == .active) && !unreadable.contains($0.id) }.map(\.id)
            for id in live where candidates.insert(id).inserted { nextLeaseAttempt[id] = now }
            follow(candidates.sorted())
            // An auction whose results were reported (by whichever process) leaves the clock's hands.
            let over = indexed.filter { $0.status == .finished || $0.status == .announced || $0.status == .cancelled }.map(\.id)
            forget(over.filter(candidates.contains))
            nextRefresh = now + settings.heartbeatInterval
        } catch {
            observer(.failed(auctionId: nil, error: error))
            nextRefresh = now + .milliseconds(200)
        }
    }

    /// Takes or renews the leases that are due, all in one round trip, and loads the auctions
    /// newly taken in three more. When one lease is due, those due within half an interval come
    /// along: the renewals of auctions taken at different moments fall into one round trip a
    /// second instead of one in nearly every pass (leases outlive `leaseRenewal` several times).
    private mutating func renewLeases() {
        let now = ContinuousClock.now
        guard leaseRenewalDue else { return }
        let due = candidates.filter { nextLeaseAttempt[$0, default: now] <= now + settings.leaseRenewal / 2 }.sorted()
        for id in due { nextLeaseAttempt[id] = now + settings.leaseRenewal }
        let holds: [Bool]
        do { holds = try store.acquireLeases(due, owner: owner, ttl: settings.leaseTTL) } catch {
            return observer(.failed(auctionId: nil, error: error))
        }
        var taken: [String] = []
        for (id, holding) in zip(due, holds) {
            if holding {
                if held[id] == nil { taken.append(id) }
            } else if held.removeValue(forKey: id) != nil {
                observer(.leaseLost(auctionId: id))
            }
        }
        let loaded: [Result<AuctionReplica, AuctionStoreError>]
        do { loaded = try store.load(taken) } catch {
            return observer(.failed(auctionId: nil, error: error))
        }
        var unreadableNow: [String] = []
        for (id, replica) in zip(taken, loaded) {
            switch replica {
            case .success(let replica):
                held[id] = replica
                observer(.leaseAcquired(auctionId: id))
            case .failure(.corrupted(let auctionId, let reason)):
                // Said once; the clock stops looking at it (another process may still read it).
                observer(.failed(auctionId: id, error: .corrupted(auctionId: auctionId, reason: reason)))
                unreadableNow.append(id)
            case .failure(let error):
                fail(id, error)
            }
        }
        unreadable.formUnion(unreadableNow)
        forget(unreadableNow)
    }

    mutating func releaseAll() {
        try? store.releaseLeases(held.ids.sorted(), owner: owner)
        held = HeldAuctions(bidGraceMilliseconds: settings.bidGrace.wholeMilliseconds)
    }

    /// Appends every event that is due for the held auctions: recorded outages first, then stage
    /// switches. Each round offers at most one event per auction, all in one round trip, each a
    /// compare-and-set on its auction's log, then reads the logs back in one more; an auction
    /// further behind (after a takeover or an outage) gets its next event in the next round.
    private mutating func appendDueEvents() {
        // Auctions done with for this pass: too early by Redis' clock, failed, or lost.
        var settled: Set<String> = []
        let pendingOutages = auctionOutages()
        appliedAuctionOutages = appliedAuctionOutages.filter { pendingOutages[$0.key] == $0.value }
        for _ in 0..<1000 {
            if isStopping() || leaseRenewalDue { return }
            let due: [AppendRequest]
            do { due = try dueEvents(excluding: &settled, auctionOutages: pendingOutages) } catch {
                return observer(.failed(auctionId: nil, error: error))
            }
            guard !due.isEmpty else { return }
            let outcomes: [Result<AppendOutcome, AuctionStoreError>]
            do { outcomes = try store.append(due) } catch {
                // Redis is gone, or every call failed alike: the next pass tries again.
                return observer(.failed(auctionId: nil, error: error))
            }
            var behind: [String] = []
            var appended: [String: (event: AuctionEvent, at: Timestamp)] = [:]
            for (request, outcome) in zip(due, outcomes) {
                let id = request.replica.auctionId
                switch outcome {
                case .success(.appended(_, let at)):
                    behind.append(id)
                    appended[id] = (request.event, at)
                    if case .outageRecovered(let from, let until) = request.event, store.outagesArePerAuction {
                        appliedAuctionOutages[id] = Outage(from: from, until: until)
                    }
                case .success(.conflict):
                    behind.append(id)
                case .success(.early(let redisTime)):
                    redisClock.observe(redisTime)
                    settled.insert(id)
                case .success(.outagePending):
                    // The heartbeat records the outage (or, on a cluster, the stamps find the
                    // auction's own), and the next pass applies it first.
                    settled.insert(id)
                case .success(.notLeaseHolder):
                    held.removeValue(forKey: id)
                    observer(.leaseLost(auctionId: id))
                case .failure(let error):
                    fail(id, error)
                    settled.insert(id)
                }
            }
            let logs: [Result<[SequencedEvent], AuctionStoreError>]
            do { logs = try store.events(of: behind.compactMap { id in held[id].map { (id, $0.seq) } }) } catch {
                return observer(.failed(auctionId: nil, error: error))
            }
            for (id, log) in zip(behind.filter { held[$0] != nil }, logs) {
                guard var replica = held[id] else { continue }
                do throws(AuctionStoreError) {
                    try replica.catchUp(with: log.get())
                    held[id] = replica
                    if let appended = appended[id] { report(appended.event, at: appended.at, replica: replica) }
                } catch {
                    fail(id, error)
                    settled.insert(id)
                }
            }
        }
    }

    /// The next event of each held auction that has one due, in auction order. Only the due
    /// auctions are looked at (`HeldAuctions` keeps each one's next switch and outage count).
    /// An outage comes before any switch: on one server the recorded service-wide ones the
    /// auction has not considered, on a cluster the one of its own the stamps found pending.
    private func dueEvents(
        excluding settled: inout Set<String>, auctionOutages: [String: Outage]
    ) throws(AuctionStoreError) -> [AppendRequest] {
        let recorded = outageCount()
        // Live auctions with a recorded outage still to take into account.
        let behind = held.outagesConsidered.filter { $0.value < recorded && !settled.contains($0.key) }
        let firstUnseen = behind.values.min() ?? recorded
        let outages = firstUnseen < recorded ? try store.outages(from: firstUnseen) : []
        let redisTime = redisNow
        let switching = held.nextSwitch.filter { $0.value <= redisTime.microseconds }.keys
        let ownOutages = auctionOutages.filter { held[$0.key] != nil && appliedAuctionOutages[$0.key] != $0.value }
        var requests: [AppendRequest] = []
        for id in Set(switching).union(behind.keys).union(ownOutages.keys).subtracting(settled).sorted() {
            guard let replica = held[id] else { continue }
            let state = replica.state
            guard state.status == .scheduled || state.status == .active else { continue }
            let event: AuctionEvent
            var notBefore: Timestamp?
            let unseen = replica.outagesConsidered - firstUnseen
            if let outage = ownOutages[id] {
                event = .outageRecovered(from: outage.from, until: outage.until)
            } else if replica.outagesConsidered < recorded, unseen < outages.count {
                event = .outageRecovered(from: outages[unseen].from, until: outages[unseen].until)
            } else if let due = state.dueStageSwitch(at: redisTime, bidGraceMilliseconds: settings.bidGrace.wholeMilliseconds),
                case .stageStarted(let index, _) = due
            {
                event = due
                notBefore = state.switchTime(to: index, bidGraceMilliseconds: settings.bidGrace.wholeMilliseconds)
            } else {
                continue
            }
            var next = state
            do { try next.apply(event) } catch {
                observer(.failed(auctionId: id, error: .corrupted(auctionId: id, reason: "the clock's own event does not apply: \(error)")))
                settled.insert(id)
                continue
            }
            requests.append(
                AppendRequest(event, to: replica, next: next, leaseOwner: owner, notBefore: notBefore, stampWithRedisTime: true))
        }
        return requests
    }

    private func report(_ event: AuctionEvent, at: Timestamp, replica: AuctionReplica) {
        switch event {
        case .stageStarted(let index, _):
            let due = replica.state.switchTime(to: index, bidGraceMilliseconds: settings.bidGrace.wholeMilliseconds)
            let lag = at.microseconds - due.microseconds
            observer(.stageStarted(auctionId: replica.auctionId, stage: index, lag: .microseconds(max(0, lag))))
        case .outageRecovered(let from, let until):
            observer(.outageApplied(auctionId: replica.auctionId, from: from, until: until, status: replica.state.status))
        default:
            break
        }
    }

    /// Once an auction's last turn has ended, its report waits in the outbox until the API takes
    /// it; an auction that is no longer live (cancelled, rescheduled) leaves the clock's hands.
    private mutating func settleFinalAuctions() {
        // Only an auction that changed since the last pass can have become final or left.
        let changed = held.takeChanged().sorted()
        var reports: [(auctionId: String, body: Data)] = []
        for id in changed {
            guard let replica = held[id], replica.state.status == .active, replica.state.resultsAreFinal, !queuedReports.contains(id) else {
                continue
            }
            do { reports.append((id, try JSONEncoder().encode(replica.state.resultsReport()))) } catch {
                observer(.failed(auctionId: id, error: .corrupted(auctionId: id, reason: "cannot encode the report: \(error)")))
            }
        }
        do {
            try store.enqueueReports(reports)
            for report in reports {
                queuedReports.insert(report.auctionId)
                observer(.reportQueued(auctionId: report.auctionId))
            }
        } catch {
            observer(.failed(auctionId: nil, error: error))
            for report in reports { held.markChanged(report.auctionId) }  // tried again next pass
        }
        forget(changed.filter { id in held[id].map { $0.state.status != .scheduled && $0.state.status != .active } ?? false })
    }

    /// Reports a failure; an auction that is gone from Redis is dropped.
    private mutating func fail(_ id: String, _ error: AuctionStoreError) {
        observer(.failed(auctionId: id, error: error))
        if case .unknownAuction = error { forget([id]) }
    }

    /// Stops driving auctions that have left the clock's hands (finished, cancelled, gone).
    private mutating func forget(_ ids: [String]) {
        let released = ids.filter { held.removeValue(forKey: $0) != nil }
        try? store.releaseLeases(released, owner: owner)
        for id in ids {
            candidates.remove(id)
            nextLeaseAttempt.removeValue(forKey: id)
            queuedReports.remove(id)
        }
        if !ids.isEmpty { follow(candidates.sorted()) }
    }

    private func nextWake(after now: ContinuousClock.Instant) -> Duration {
        var sleep = min(settings.maximumSleep, nextRefresh - now)
        if let attempt = nextLeaseAttempt.values.min() { sleep = min(sleep, attempt - now) }
        if let next = held.nextSwitch.values.min() { sleep = min(sleep, .microseconds(next - redisNow.microseconds)) }
        return max(sleep, .milliseconds(1))
    }
}

/// The auctions a clock holds, with what a pass asks of each kept beside it: the next planned
/// stage switch and the outages taken into account, for the live ones, so that a pass touches the
/// due ones only, not every replica.
struct HeldAuctions {
    let bidGraceMilliseconds: Int64
    private var replicas: [String: AuctionReplica] = [:]

    init(bidGraceMilliseconds: Int64) { self.bidGraceMilliseconds = bidGraceMilliseconds }
    /// When each live auction's next stage switch is due (Redis µs), if the clock makes one.
    private(set) var nextSwitch: [String: Int64] = [:]
    /// `outagesConsidered` of each live auction.
    private(set) var outagesConsidered: [String: Int] = [:]
    /// Set since the last `takeChanged`.
    private var changed: Set<String> = []

    var ids: Dictionary<String, AuctionReplica>.Keys { replicas.keys }

    subscript(id: String) -> AuctionReplica? {
        get { replicas[id] }
        set {
            replicas[id] = newValue
            changed.insert(id)
            guard let replica = newValue, replica.state.status == .scheduled || replica.state.status == .active else {
                nextSwitch[id] = nil
                outagesConsidered[id] = nil
                return
            }
            outagesConsidered[id] = replica.outagesConsidered
            let state = replica.state
            let next = state.currentStage + 1
            nextSwitch[id] =
                next < state.stages.count && state.stages[next].kind != .announcement
                ? state.switchTime(to: next, bidGraceMilliseconds: bidGraceMilliseconds).microseconds : nil
        }
    }

    @discardableResult
    mutating func removeValue(forKey id: String) -> AuctionReplica? {
        defer { self[id] = nil }
        return replicas[id]
    }

    mutating func markChanged(_ id: String) { changed.insert(id) }

    /// The auctions set since the last call that are still held.
    mutating func takeChanged() -> Set<String> {
        defer { changed.removeAll(keepingCapacity: true) }
        return changed.filter { replicas[$0] != nil }
    }
}
