/// Where an auction is in its life (SPEC §3).
public enum AuctionStatus: String, Codable, Sendable, CaseIterable {
    case scheduled
    case active
    /// Results posted to the API; waiting for the names.
    case finished
    case announced
    case cancelled
    /// Could not run on time; nothing is posted and the API plans a new start.
    case rescheduled

    /// Over for now: announced, cancelled, or rescheduled (a new start plans it again). Its keys
    /// expire after the retention and it leaves each process's memory after the grace.
    public var hasEnded: Bool { self == .announced || self == .cancelled || self == .rescheduled }
}

/// Everything that changes an auction. The state is a pure fold of these over the planned state,
/// so replaying the log rebuilds it exactly.
public enum AuctionEvent: Codable, Sendable, Equatable {
    case stageStarted(index: Int, at: Timestamp)
    case bidAccepted(stage: Int, bidder: Int, amount: Money, at: Timestamp)
    case bidCancelled(stage: Int, bidder: Int, at: Timestamp)
    /// Every instance was down from `from` until `until` (SPEC §3 outage rule).
    case outageRecovered(from: Timestamp, until: Timestamp)
    case resultsReported(at: Timestamp)
    case namesRevealed(names: [String], at: Timestamp)
    case cancelled(at: Timestamp)
    case rescheduled(at: Timestamp)
    /// The API gave the auction a new `auctionPeriod.startDate` before it began, or after it was
    /// rescheduled: the planned timeline is laid out again from it (same participants, same links,
    /// the initial bids), or from `at` when the new start is already up to the outage limit in the
    /// past; more than the limit, the auction stays (or becomes) `rescheduled` (SPEC §3).
    case replanned(startDate: Timestamp, at: Timestamp)
}

/// An event that does not fit the state: a bug or a corrupted log, never a user's mistake
/// (users get `BidRejection`s).
public struct AuctionStateError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}

/// A bid placed in a turn that has not ended yet: private to its bidder.
public struct PendingBid: Codable, Sendable, Equatable {
    public var stage: Int
    public var bidder: Int
    public var amount: Money
    public var at: Timestamp
}

public struct AuctionState: Codable, Sendable, Equatable {
    public private(set) var input: AuctionInput
    public private(set) var status: AuctionStatus
    /// Index into `stages`; -1 before the start.
    public private(set) var currentStage: Int
    public internal(set) var stages: [Stage]
    /// Standing prices by bidder number − 1. Bidder numbers follow round 1's order.
    public private(set) var prices: [Price]
    public private(set) var pendingBids: [PendingBid]
    /// Revealed names by bidder number − 1, once announced.
    public private(set) var names: [String]?
    public let maxOutageShiftMilliseconds: Int64
    /// The timeline as planned from `input.startDate`, before any late start or outage moved it:
    /// what a re-plan lays out again. Nil in plans stored before it was kept.
    public private(set) var plannedStages: [Stage]?

    /// Participants in bidder-number order: Bidder 1 bids first in round 1.
    public var participants: [Participant] { input.participants }
    public var bidderCount: Int { input.participants.count }

    /// Plans an auction (SPEC §3). Participants are renumbered in round 1's order (worst first).
    /// With fewer than two participants, or `quick(mode:no-auction)`, there are no rounds: the
    /// results are the initial bids, ready at `now`. An auction planned late is not run in the
    /// past: up to the outage limit late, its whole timeline starts at `now` (no bidder loses turn
    /// time); later than that it is `rescheduled` and waits for a new start from the API.
    public static func planned(
        _ input: AuctionInput, settings: ScheduleSettings = ScheduleSettings(), now: Timestamp
    )
        -> AuctionState
    {
        var input = input
        let order = rankBestFirst(
            input.participants.enumerated().map { ($0.offset, $0.element.normalized($0.element.initial.amount), $0.element.initial.date) },
            criteria: input.criteria
        ).reversed()
        input.participants = order.map { input.participants[$0] }
        let hasRounds = input.participants.count >= 2 && input.mode != .noAuction
        var durations = settings.durations(for: input.criteria).accelerated(by: input.accelerator)
        if input.mode == .fastForward { durations = .zero }
        let stages =
            hasRounds
            ? makeStages(start: input.startDate, participants: input.participants.count, durations: durations, rounds: settings.rounds)
            : [Stage(kind: .preAnnouncement, start: now), Stage(kind: .announcement, start: now)]
        var state = AuctionState(
            input: input, status: .scheduled, currentStage: -1, stages: stages,
            prices: input.participants.map(\.initial), pendingBids: [], names: nil,
            maxOutageShiftMilliseconds: settings.maxOutageShiftMilliseconds, plannedStages: hasRounds ? stages : nil)
        if hasRounds { state.layOut(from: input.startDate, at: now) }
        state.assignTurns(round: 1)
        return state
    }

    /// Whether an admin or the tender API may still stop the auction: not once the last turn has
    /// ended, because final results are always posted (SPEC §3).
    public var isStoppable: Bool {
        (status == .scheduled || status == .active) && !resultsAreFinal
    }

    /// Whether the API's `startDate` gives this auction a new timeline (`replanned`): one that has
    /// not begun, or one that was rescheduled, with live rounds to lay out.
    public func acceptsNewStart(_ startDate: Timestamp) -> Bool {
        guard stages.first?.kind == .pause, startDate != input.startDate else { return false }
        return status == .scheduled && currentStage == -1 || status == .rescheduled
    }

    // MARK: - Reading the clock

    /// The stage the server clock is in. Stages are contiguous in time, so it is the last one
    /// started at or before `time` (a zero-length stage is passed over). The announcement is not a
    /// stage of the clock: names reveal it. Nil before the first stage.
    public func stageIndex(at time: Timestamp) -> Int? {
        stages.lastIndex { $0.kind != .announcement && $0.start <= time }
    }

    /// The next stage switch that is due at `now`, if any. The announcement stage is entered by
    /// `namesRevealed`, not by the clock.
    public func dueStageSwitch(at now: Timestamp, bidGraceMilliseconds: Int64 = 0) -> AuctionEvent? {
        guard status == .scheduled || status == .active else { return nil }
        let next = currentStage + 1
        guard next < stages.count, stages[next].kind != .announcement,
            now >= switchTime(to: next, bidGraceMilliseconds: bidGraceMilliseconds)
        else { return nil }
        return .stageStarted(index: next, at: now)
    }

    /// When the switch to stage `index` may be written: its start, and after a turn the bid grace
    /// later. A bid is judged by its arrival when it waited in a queue up to the grace (SPEC §4:
    /// one that reached the service before the turn's end is not late), so the turn closes only
    /// once no such bid can still be on its way.
    public func switchTime(to index: Int, bidGraceMilliseconds: Int64) -> Timestamp {
        let start = stages[index].start
        return index > 0 && stages[index - 1].kind == .bids ? start.adding(milliseconds: bidGraceMilliseconds) : start
    }

    /// Whether the last turn has ended, so the results are final and can be reported.
    public var resultsAreFinal: Bool {
        currentStage >= 0 && stages[currentStage].kind == .preAnnouncement || status == .finished || status == .announced
    }

    // MARK: - Deciding a bid

    /// Decides a bid message of `bidder` arriving at `time` (server clock): the event to record,
    /// or why not. Pure: nothing changes until the event is applied.
    public func decideBid(bidder: Int, amount: AmountInput, at time: Timestamp) -> Result<AuctionEvent, BidRejection> {
        let stage: Int
        switch turn(of: bidder, at: time) {
        case .success(let index): stage = index
        case .failure(let rejection): return .failure(rejection)
        }
        switch readBidIntent(amount) {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(.cancel):
            return .success(.bidCancelled(stage: stage, bidder: bidder, at: time))
        case .success(.place(let money)):
            let own = prices[bidder - 1].amount
            if let rejection = checkStep(amount: money, own: own, step: input.minimalStep, criteria: input.criteria) {
                return .failure(rejection)
            }
            return .success(.bidAccepted(stage: stage, bidder: bidder, amount: money, at: time))
        }
    }

    /// Decides a cancel message (`{"type": "cancel"}`).
    public func decideCancel(bidder: Int, at time: Timestamp) -> Result<AuctionEvent, BidRejection> {
        turn(of: bidder, at: time).map { .bidCancelled(stage: $0, bidder: bidder, at: time) }
    }

    /// The stage index of `bidder`'s turn running at `time`, or why there is none. The server
    /// clock decides, not the last stage switch: a turn is open from its start until one
    /// microsecond before its end, and a bid after that is refused (`turn_over`), never dropped.
    public func turn(of bidder: Int, at time: Timestamp) -> Result<Int, BidRejection> {
        guard (1...bidderCount).contains(bidder) else { return .failure(BidRejection(.notYourTurn)) }
        guard status == .scheduled || status == .active, let index = stageIndex(at: time), index >= currentStage else {
            return .failure(BidRejection(.notBiddingStage))
        }
        let stage = stages[index]
        if stage.kind == .bids, stage.bidder == bidder { return .success(index) }
        let lastEndedTurn = stages.lastIndex { $0.kind == .bids && ($0.end.map { $0 <= time } ?? false) }
        if let lastEndedTurn, stages[lastEndedTurn].bidder == bidder { return .failure(BidRejection(.turnOver)) }
        if stage.kind == .bids, stage.bidder != nil { return .failure(BidRejection(.notYourTurn)) }
        return .failure(BidRejection(.notBiddingStage))
    }

    /// The bidder's pending bid in the turn running now, if any (for a reconnecting bidder).
    public func pendingBid(of bidder: Int) -> PendingBid? {
        pendingBids.last { $0.bidder == bidder }
    }

    // MARK: - Applying events

    public mutating func apply(_ event: AuctionEvent) throws(AuctionStateError) {
        switch event {
        case .stageStarted(let index, _):
            guard status == .scheduled || status == .active else { throw fail("stage switch in status \(status)") }
            guard index == currentStage + 1, index < stages.count else {
                throw fail("stage \(index) cannot follow stage \(currentStage)")
            }
            if currentStage >= 0, stages[currentStage].kind == .bids { closeTurn(currentStage) }
            currentStage = index
            status = .active
            if stages[index].kind == .pause, let round = stages[index].round, round > 1 { assignTurns(round: round) }

        case .bidAccepted(let stage, let bidder, let amount, let at):
            try requireOpenTurn(stage, bidder)
            pendingBids.removeAll { $0.stage == stage }
            pendingBids.append(PendingBid(stage: stage, bidder: bidder, amount: amount, at: at))

        case .bidCancelled(let stage, let bidder, _):
            try requireOpenTurn(stage, bidder)
            pendingBids.removeAll { $0.stage == stage }

        case .outageRecovered(let from, let until):
            // After the last turn nothing is left to shift, and the results are final.
            guard status == .scheduled || status == .active, !resultsAreFinal, let first = stages.first else { return }
            let missed = until.microseconds - max(from, first.start).microseconds
            guard missed > 0 else { return }  // the outage ended before the auction began
            if missed > maxOutageShiftMilliseconds * 1000 {
                status = .rescheduled
                pendingBids.removeAll()
                return
            }
            shiftStages(from: from, by: missed)

        case .resultsReported:
            guard status == .active, resultsAreFinal else { throw fail("results reported before the last turn ended") }
            status = .finished

        case .namesRevealed(let names, let at):
            guard status == .finished else { throw fail("names revealed in status \(status)") }
            guard names.count == bidderCount else { throw fail("\(names.count) names for \(bidderCount) bidders") }
            self.names = names
            status = .announced
            currentStage = stages.count - 1
            stages[currentStage].start = at

        case .cancelled:
            guard isStoppable else { throw fail("cancel in status \(status)\(resultsAreFinal ? " after the last turn" : "")") }
            status = .cancelled
            pendingBids.removeAll()

        case .rescheduled:
            guard isStoppable else { throw fail("reschedule in status \(status)\(resultsAreFinal ? " after the last turn" : "")") }
            status = .rescheduled
            pendingBids.removeAll()

        case .replanned(let startDate, let at):
            guard status == .scheduled && currentStage == -1 || status == .rescheduled else { throw fail("replan in status \(status)") }
            guard let first = stages.first, first.kind == .pause else { throw fail("an auction without rounds has no start to move") }
            input.startDate = startDate
            layOut(from: startDate, at: at)
        }
    }

    /// Lays the planned timeline out again from the start of the auction (the initial bids, no
    /// stage begun): from `startDate`, or from `now` when that is up to the outage limit later;
    /// more than the limit late, the auction is `rescheduled` and its stages stay at `startDate`.
    private mutating func layOut(from startDate: Timestamp, at now: Timestamp) {
        var timeline =
            plannedStages
            ?? stages.map { stage in
                // A plan stored before `plannedStages`: its stages as they stand, without outcomes.
                var fresh = Stage(kind: stage.kind, round: stage.round, start: stage.start, end: stage.end)
                if stage.round == 1 { fresh.bidder = stage.bidder }
                return fresh
            }
        let lateness = now.microseconds - startDate.microseconds
        let late = lateness > maxOutageShiftMilliseconds * 1000
        let start = lateness > 0 && !late ? now : startDate
        let delta = start.microseconds - (timeline.first?.start.microseconds ?? start.microseconds)
        for index in timeline.indices {
            timeline[index].start = timeline[index].start.adding(microseconds: delta)
            timeline[index].end = timeline[index].end?.adding(microseconds: delta)
        }
        stages = timeline
        status = late ? .rescheduled : .scheduled
        currentStage = -1
        prices = input.participants.map(\.initial)
        pendingBids.removeAll()
        names = nil
        assignTurns(round: 1)
    }

    /// Folds a log of events over this state.
    public func replaying(_ events: [AuctionEvent]) throws(AuctionStateError) -> AuctionState {
        var state = self
        for event in events { try state.apply(event) }
        return state
    }

    // MARK: - Results

    /// Bidder numbers, best first, by the prices standing now (ties: the earlier date wins).
    public var ranking: [Int] {
        rankBestFirst(
            prices.enumerated().map { ($0.offset + 1, normalized(bidder: $0.offset + 1), $0.element.date) },
            criteria: input.criteria)
    }

    /// Bidder `bidder`'s standing price, normalised.
    public func normalized(bidder: Int) -> Rational {
        participants[bidder - 1].normalized(prices[bidder - 1].amount)
    }

    // MARK: - Internals

    private func fail(_ message: String) -> AuctionStateError { AuctionStateError(description: message) }

    private func requireOpenTurn(_ stage: Int, _ bidder: Int) throws(AuctionStateError) {
        guard status == .scheduled || status == .active, stages.indices.contains(stage), stage >= currentStage,
            stages[stage].kind == .bids, stages[stage].bidder == bidder
        else { throw fail("no open turn of bidder \(bidder) at stage \(stage)") }
    }

    /// At a turn's end its last accepted bid becomes the bidder's price, dated when accepted.
    private mutating func closeTurn(_ index: Int) {
        guard let bidder = stages[index].bidder else { return }
        let pending = pendingBids.first { $0.stage == index }
        if let pending { prices[bidder - 1] = Price(amount: pending.amount, date: pending.at) }
        pendingBids.removeAll { $0.stage == index }
        stages[index].outcome = prices[bidder - 1]
        stages[index].changed = pending != nil
    }

    /// Each round the worst price bids first and the best last: the ranking, reversed.
    private mutating func assignTurns(round: Int) {
        let order = Array(ranking.reversed())
        let turns = stages.indices.filter { stages[$0].kind == .bids && stages[$0].round == round }
        for (turn, bidder) in zip(turns, order) { stages[turn].bidder = bidder }
    }

    /// Gives back the time an outage took: the stage running at `from` ends later by `delta`, and
    /// every stage after it moves by `delta`.
    private mutating func shiftStages(from: Timestamp, by delta: Int64) {
        for index in stages.indices {
            if stages[index].start >= from {
                stages[index].start = stages[index].start.adding(microseconds: delta)
                stages[index].end = stages[index].end?.adding(microseconds: delta)
            } else if let end = stages[index].end, end > from {
                stages[index].end = end.adding(microseconds: delta)
            }
        }
    }
}
