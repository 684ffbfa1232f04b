/// Stage lengths of one kind of auction, in milliseconds (SPEC §3; all configurable).
public struct StageDurations: Codable, Sendable, Equatable {
    public var firstPause: Int64
    public var pauseBeforeRound: Int64
    public var turn: Int64

    public init(firstPause: Int64, pauseBeforeRound: Int64, turn: Int64) {
        self.firstPause = firstPause
        self.pauseBeforeRound = pauseBeforeRound
        self.turn = turn
    }

    /// Tenders: 300 s, then 120 s pauses and 120 s turns (540 + 360·N seconds in all).
    public static let lowestCost = StageDurations(firstPause: 300_000, pauseBeforeRound: 120_000, turn: 120_000)
    /// DGF: 300 s, then 180 s pauses and 180 s turns.
    public static let highestCost = StageDurations(firstPause: 300_000, pauseBeforeRound: 180_000, turn: 180_000)

    /// Every length divided by the sandbox accelerator (whole milliseconds).
    public func accelerated(by factor: Int) -> StageDurations {
        let n = Int64(max(1, factor))
        return StageDurations(firstPause: firstPause / n, pauseBeforeRound: pauseBeforeRound / n, turn: turn / n)
    }

    static let zero = StageDurations(firstPause: 0, pauseBeforeRound: 0, turn: 0)
}

/// How long a bid may wait in a process's queue and still be judged at its arrival (SPEC §4); a
/// turn is closed this long after its end. The default of `limits.maxBidWaitMilliseconds`.
public let defaultMaxBidWaitMilliseconds: Int64 = 50

/// The service's schedule configuration.
public struct ScheduleSettings: Codable, Sendable, Equatable {
    public var lowestCost: StageDurations
    public var highestCost: StageDurations
    public var rounds: Int
    /// An outage of every instance up to this long shifts the remaining stages; longer, the
    /// auction is rescheduled (SPEC §3).
    public var maxOutageShiftMilliseconds: Int64

    public init(
        lowestCost: StageDurations = .lowestCost, highestCost: StageDurations = .highestCost, rounds: Int = 3,
        maxOutageShiftMilliseconds: Int64 = 120_000
    ) {
        self.lowestCost = lowestCost
        self.highestCost = highestCost
        self.rounds = rounds
        self.maxOutageShiftMilliseconds = maxOutageShiftMilliseconds
    }

    public func durations(for criteria: AwardCriteria) -> StageDurations {
        criteria == .lowestCost ? lowestCost : highestCost
    }
}

/// One stage of the auction's timeline.
public struct Stage: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case pause
        case bids
        case preAnnouncement
        case announcement
    }

    public var kind: Kind
    /// For a turn, its round; for a pause, the round it precedes.
    public var round: Int?
    /// For a turn, the bidder number once the round's order is known.
    public var bidder: Int?
    public var start: Timestamp
    /// Pauses and turns end; the last two stages are open-ended.
    public var end: Timestamp?
    /// For a turn that has ended: the bidder's standing price after it.
    public var outcome: Price?
    /// For a turn that has ended: whether the bidder changed their price in it.
    public var changed: Bool?

    public init(kind: Kind, round: Int? = nil, bidder: Int? = nil, start: Timestamp, end: Timestamp? = nil) {
        self.kind = kind
        self.round = round
        self.bidder = bidder
        self.start = start
        self.end = end
    }
}

/// Lays out `pause, turn×N` per round, then `preAnnouncement, announcement` (SPEC §3): `3(N+1)+2`
/// stages from `start`. Turns carry no bidder yet; the state machine assigns each round's order.
public func makeStages(
    start: Timestamp, participants: Int, durations: StageDurations, rounds: Int
) -> [Stage] {
    var stages: [Stage] = []
    var clock = start
    func append(_ kind: Stage.Kind, round: Int, length: Int64) {
        let end = clock.adding(milliseconds: length)
        stages.append(Stage(kind: kind, round: round, start: clock, end: end))
        clock = end
    }
    for round in 1...max(1, rounds) {
        append(.pause, round: round, length: round == 1 ? durations.firstPause : durations.pauseBeforeRound)
        for _ in 0..<participants { append(.bids, round: round, length: durations.turn) }
    }
    stages.append(Stage(kind: .preAnnouncement, start: clock))
    stages.append(Stage(kind: .announcement, start: clock))
    return stages
}
