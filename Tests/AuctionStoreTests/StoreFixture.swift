import AuctionCore
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import Locking
import RedisClient
import Synchronization

/// A real redis-server and a store on it.
final class StoreFixture {
    let redis: RedisServer
    let store: AuctionStore

    init(appendOnly: Bool = false) throws {
        redis = try RedisServer(appendOnly: appendOnly)
        store = AuctionStore(endpoint: redis.endpoint)
    }

    /// Plans an auction whose first stage starts `offset` milliseconds from Redis' now.
    func plan(
        id: String = "tender-1", criteria: AwardCriteria = .lowestCost, offset: Int64, firstPause: Int64 = 100,
        pause: Int64 = 100, turn: Int64 = 100, maxOutageShiftMilliseconds: Int64 = 120_000
    ) throws -> AuctionState {
        let planned = try samplePlannedAuction(
            id: id, criteria: criteria, start: store.now().adding(milliseconds: offset), firstPause: firstPause, pause: pause,
            turn: turn, maxOutageShiftMilliseconds: maxOutageShiftMilliseconds)
        try store.create(planned)
        return planned
    }

    func log(_ id: String = "tender-1") throws -> [SequencedEvent] { try store.events(of: id, after: 0) }

    /// The stage indexes of every logged stage switch, in log order.
    func stageSwitches(_ id: String = "tender-1") throws -> [Int] {
        try log(id).compactMap { event in
            if case .stageStarted(let index, _) = event.event { return index }
            return nil
        }
    }

    /// Short intervals, so tests of leases and outages take a second, not a minute.
    static func quickClockSettings(outageThreshold: Duration = .milliseconds(400)) -> ClockSettings {
        var settings = ClockSettings()
        settings.leaseTTL = .milliseconds(1000)
        settings.leaseRenewal = .milliseconds(200)
        settings.heartbeatInterval = .milliseconds(100)
        settings.outageThreshold = outageThreshold
        settings.maximumSleep = .milliseconds(50)
        return settings
    }

    /// A clock with `quickClockSettings`.
    func clock(
        owner: String, reports: Recorder<ClockReport>? = nil, onReport: @escaping @Sendable (ClockReport) -> Void = { _ in }
    ) -> AuctionClock {
        AuctionClock(endpoint: redis.endpoint, owner: owner, settings: Self.quickClockSettings()) { report in
            reports?.append(report)
            onReport(report)
        }
    }

    func leaseHolder(_ id: String = "tender-1") throws -> String? {
        try redis.connect().execute("GET", AuctionKeys(id).lease).string
    }
}

extension AuctionState {
    /// The highest amount bidder `bidder` may bid now under the step rule (lowestCost).
    func bestValidAmount(of bidder: Int) -> Money { prices[bidder - 1].amount - input.minimalStep }
}

extension BidVerdict {
    var code: String {
        switch self {
        case .accepted: "accepted"
        case .cancelled: "cancelled"
        case .rejected(let code, _): code.rawValue
        }
    }

    var at: Timestamp {
        switch self {
        case .accepted(_, _, let at), .cancelled(_, let at), .rejected(_, let at): at
        }
    }
}

/// Collects values from any thread.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Locked<[Value]>([])

    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}
