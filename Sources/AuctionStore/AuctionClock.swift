// The clock of live auctions: switches stages when they are due, applies outages, and queues the
// results report. One process at a time drives each auction, holding a renewable lease; when the
// holder dies, another process's clock takes the lease within `leaseTTL` and carries on from the
// log. Bids never wait for the clock: the bid script judges deadlines by Redis time by itself.
import AuctionCore
import Foundation
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

    public init() {}
}

/// What the clock did, for logs and metrics.
public enum ClockReport: Sendable {
    case leaseAcquired(auctionId: String)
    case leaseLost(auctionId: String)
    /// A stage started `lag` after its planned start.
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
    private let thread = ServiceThread(name: "auction-clock")
    /// The heartbeat runs on a thread of its own: it says the process is up (SPEC: an outage is
    /// every instance down), and a long pass of the clock over many busy auctions must not make
    /// a live process look dead and shift every schedule.
    private let heartbeatThread = ServiceThread(name: "auction-heartbeat")
    private let wakeUp = NSCondition()
    /// Outages recorded in Redis so far, as the heartbeat last read them.
    private let recordedOutages = Atomic<Int>(0)

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
    }

    /// A lease name unique to this process.
    public static func processOwnerName() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UInt32.random(in: 0...UInt32.max))"
    }

    public func start() {
        heartbeatThread.start { [self] in runHeartbeat() }
        thread.start { [self] in run() }
    }

    /// Stops the clock and releases every lease it holds, so another process takes over at once.
    public func stop() {
        thread.stop { wake() }
        heartbeatThread.stop { wake() }
    }

    /// Under the condition's lock, so a loop about to sleep cannot miss it.
    private func wake() {
        wakeUp.lock()
        wakeUp.broadcast()
        wakeUp.unlock()
    }

    // MARK: - The loop

    private func run() {
        let store = AuctionStore(endpoint: endpoint, retry: RetryPolicy(budget: .milliseconds(500)))
        // The first heartbeat comes before the first pass, so that pass applies any outage.
        beat(store)
        var loop = Loop(
            store: store, owner: owner, settings: settings, observer: observer,
            outageCount: { [self] in recordedOutages.load(ordering: .acquiring) },
            isStopping: { [thread] in thread.isStopping })
        while !thread.isStopping {
            let sleep = loop.tick()
            pause(sleep, unless: thread)
        }
        loop.releaseAll()
    }

    private func runHeartbeat() {
        let store = AuctionStore(endpoint: endpoint, retry: RetryPolicy(budget: .milliseconds(500)))
        while !heartbeatThread.isStopping {
            let next = ContinuousClock.now + settings.heartbeatInterval
            pause(next - ContinuousClock.now, unless: heartbeatThread)
            if heartbeatThread.isStopping { break }
            // A failed beat is tried again sooner: every missed second counts towards an outage.
            if !beat(store) { pause(.milliseconds(200), unless: heartbeatThread) }
        }
    }

    /// Says this process is alive and learns how many outages are recorded.
    @discardableResult
    private func beat(_ store: AuctionStore) -> Bool {
        do {
            recordedOutages.store(try store.heartbeat(threshold: settings.outageThreshold), ordering: .releasing)
            return true
        } catch {
            observer(.failed(auctionId: nil, error: error))
            return false
        }
    }

    /// Sleeps for `duration`, or until `stop` wakes the thread.
    private func pause(_ duration: Duration, unless thread: ServiceThread) {
        wakeUp.lock()
        if !thread.isStopping { _ = wakeUp.wait(until: Date(timeIntervalSinceNow: duration.inSeconds)) }
        wakeUp.unlock()
    }
}

/// The clock's state, owned by its thread.
private struct Loop {
    let store: AuctionStore
    let owner: String
    let settings: ClockSettings
    let observer: @Sendable (ClockReport) -> Void
    /// Outages recorded so far (the heartbeat thread reads them).
    let outageCount: () -> Int
    let isStopping: () -> Bool
    /// Auctions whose lease this process holds.
    var held: [String: AuctionReplica] = [:]
    /// Live auctions known from the index: candidates for a lease.
    var candidates: Set<String> = []
    var nextLeaseAttempt: [String: ContinuousClock.Instant] = [:]
    /// When the index and the Redis clock offset are read again.
    var nextRefresh = ContinuousClock.now
    /// Redis time minus local time, in µs: stage starts are Redis times.
    var redisOffset: Int64 = 0
    var queuedReports: Set<String> = []

    init(
        store: AuctionStore, owner: String, settings: ClockSettings, observer: @escaping @Sendable (ClockReport) -> Void,
        outageCount: @escaping () -> Int, isStopping: @escaping () -> Bool
    ) {
        self.store = store
        self.owner = owner
        self.settings = settings
        self.observer = observer
        self.outageCount = outageCount
        self.isStopping = isStopping
    }

    var redisNow: Timestamp { Timestamp(microseconds: Self.localMicroseconds() + redisOffset) }

    /// One pass over every auction; returns how long to sleep.
    mutating func tick() -> Duration {
        let now = ContinuousClock.now
        refreshIfDue()
        renewLeases(now: now)
        for id in candidates.sorted() {
            if isStopping() { break }
            do { try drive(id) } catch {
                observer(.failed(auctionId: id, error: error))
                if case .unknownAuction = error { forget(id) }
                // Redis is gone: the other auctions would each wait out the retries too.
                if case .unavailable = error { break }
            }
        }
        return nextWake(after: now)
    }

    /// Reads the index for new auctions and Redis' clock, once a heartbeat interval.
    private mutating func refreshIfDue() {
        let now = ContinuousClock.now
        guard now >= nextRefresh else { return }
        do {
            redisOffset = try store.now().microseconds - Self.localMicroseconds()
            let live = try store.indexedAuctions().filter { $0.status == .scheduled || $0.status == .active }
            candidates.formUnion(live.map(\.id))
            nextRefresh = now + settings.heartbeatInterval
        } catch {
            observer(.failed(auctionId: nil, error: error))
            nextRefresh = now + .milliseconds(200)
        }
    }

    /// Takes or renews the leases that are due, all in one round trip.
    private mutating func renewLeases(now: ContinuousClock.Instant) {
        let due = candidates.filter { now >= nextLeaseAttempt[$0, default: now] }.sorted()
        guard !due.isEmpty else { return }
        for id in due { nextLeaseAttempt[id] = now + settings.leaseRenewal }
        let holds: [Bool]
        do { holds = try store.acquireLeases(due, owner: owner, ttl: settings.leaseTTL) } catch {
            return observer(.failed(auctionId: nil, error: error))
        }
        for (id, holding) in zip(due, holds) {
            if holding {
                guard held[id] == nil else { continue }
                do {
                    held[id] = try store.load(id)
                    observer(.leaseAcquired(auctionId: id))
                } catch {
                    observer(.failed(auctionId: id, error: error))
                    if case .unknownAuction = error { forget(id) }
                }
            } else if held.removeValue(forKey: id) != nil {
                observer(.leaseLost(auctionId: id))
            }
        }
    }

    mutating func releaseAll() {
        for id in held.keys { try? store.releaseLease(id, owner: owner) }
        held.removeAll()
    }

    /// Appends every event that is due for a held auction: recorded outages first, then stage
    /// switches, one at a time, each a compare-and-set on the log.
    private mutating func drive(_ id: String) throws(AuctionStoreError) {
        guard var replica = held[id] else { return }
        defer { if held[id] != nil { held[id] = replica } }
        for _ in 0..<1000 {
            let state = replica.state
            guard state.status == .scheduled || state.status == .active else { break }
            let event: AuctionEvent
            var notBefore: Timestamp?
            if replica.outagesConsidered < outageCount(), let outage = try store.outages(from: replica.outagesConsidered).first {
                event = .outageRecovered(from: outage.from, until: outage.until)
            } else if let due = state.dueStageSwitch(at: redisNow), case .stageStarted(let index, _) = due {
                event = due
                notBefore = state.stages[index].start
            } else {
                break
            }
            var next = state
            do { try next.apply(event) } catch {
                throw .corrupted(auctionId: id, reason: "the clock's own event does not apply: \(error)")
            }
            switch try store.append(event, to: replica, next: next, leaseOwner: owner, notBefore: notBefore, stampWithRedisTime: true) {
            case .appended(_, let at):
                try replica.catchUp(with: store.events(of: id, after: replica.seq))
                report(event, at: at, replica: replica)
            case .conflict:
                try replica.catchUp(with: store.events(of: id, after: replica.seq))
            case .early(let redisTime):
                redisOffset = redisTime.microseconds - Self.localMicroseconds()
                return
            case .notLeaseHolder:
                held.removeValue(forKey: id)
                observer(.leaseLost(auctionId: id))
                return
            }
        }
        try queueReportIfFinal(replica)
        if replica.state.status != .scheduled && replica.state.status != .active { forget(id) }
    }

    private func report(_ event: AuctionEvent, at: Timestamp, replica: AuctionReplica) {
        switch event {
        case .stageStarted(let index, _):
            let lag = at.microseconds - replica.state.stages[index].start.microseconds
            observer(.stageStarted(auctionId: replica.auctionId, stage: index, lag: .microseconds(max(0, lag))))
        case .outageRecovered(let from, let until):
            observer(.outageApplied(auctionId: replica.auctionId, from: from, until: until, status: replica.state.status))
        default:
            break
        }
    }

    /// Once the last turn has ended, the report waits in the outbox until the API takes it.
    private mutating func queueReportIfFinal(_ replica: AuctionReplica) throws(AuctionStoreError) {
        let id = replica.auctionId
        guard replica.state.status == .active, replica.state.resultsAreFinal, !queuedReports.contains(id) else { return }
        let body: Data
        do { body = try JSONEncoder().encode(replica.state.resultsReport()) } catch {
            throw .corrupted(auctionId: id, reason: "cannot encode the report: \(error)")
        }
        try store.enqueueReport(id, body: body)
        queuedReports.insert(id)
        observer(.reportQueued(auctionId: id))
    }

    /// Stops driving an auction that has left the clock's hands (finished, cancelled, gone).
    private mutating func forget(_ id: String) {
        if held.removeValue(forKey: id) != nil { try? store.releaseLease(id, owner: owner) }
        candidates.remove(id)
        nextLeaseAttempt.removeValue(forKey: id)
    }

    private func nextWake(after now: ContinuousClock.Instant) -> Duration {
        var sleep = min(settings.maximumSleep, nextRefresh - now)
        for (id, attempt) in nextLeaseAttempt where candidates.contains(id) { sleep = min(sleep, attempt - now) }
        let redisTime = redisNow
        for replica in held.values {
            let next = replica.state.currentStage + 1
            guard next < replica.state.stages.count, replica.state.stages[next].kind != .announcement else { continue }
            sleep = min(sleep, .microseconds(replica.state.stages[next].start.microseconds - redisTime.microseconds))
        }
        return max(sleep, .milliseconds(1))
    }

    static func localMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}
