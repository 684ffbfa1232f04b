// Replaying an auction's record with AuctionCore alone, and its audit document (docs/AUDIT.md):
// what happened, for people, and the record itself, so that anyone holding the document can check
// it without our Redis.
import AuctionCore
import Foundation

/// Why a record does not replay, naming the first thing that does not hold.
public enum ReplayError: Error, Equatable, CustomStringConvertible, Sendable {
    case chain(AuctionRecord.ChainBreak)
    case plan(String)
    /// Event `seq` cannot be read, or does not apply to the state before it.
    case event(seq: Int64, type: String, reason: String)
    /// The document says something its own record does not.
    case document(String)

    public var description: String {
        switch self {
        case .chain(let broken): "the chain does not hold: \(broken)"
        case .plan(let reason): "the plan cannot be read: \(reason)"
        case .event(let seq, let type, let reason): "event \(seq) (\(type)) does not replay: \(reason)"
        case .document(let reason): "the document does not agree with its own record: \(reason)"
        }
    }
}

/// An auction rebuilt from its record.
public struct Replay: Sendable {
    public let record: AuctionRecord
    public let planned: AuctionState
    public let state: AuctionState
    /// The hash of the last record: the chain's head.
    public let head: String
    /// Each turn as it ended, in order.
    public let turns: [AuditDocument.Turn]
    public let outages: [AuditDocument.Outage]

    /// Verifies the chain, then folds every event into the plan with AuctionCore.
    public init(_ record: AuctionRecord) throws(ReplayError) {
        self.record = record
        switch record.verifyChain() {
        case .success(let head): self.head = head
        case .failure(let broken): throw .chain(broken)
        }
        do { planned = try JSONDecoder().decode(AuctionState.self, from: Data(record.plan)) } catch {
            throw .plan("\(error)")
        }
        var state = planned
        var turns: [AuditDocument.Turn] = []
        var outages: [AuditDocument.Outage] = []
        /// The bid standing in each turn so far (a cancel takes it back).
        var standing: [Int: (amount: Money, at: Timestamp)] = [:]
        for entry in record.entries {
            let fields = Dictionary(entry.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            guard let event = StoredEvent.decode(auctionId: record.auctionId, fields) else {
                throw .event(seq: entry.seq, type: entry.type, reason: "not an event this service writes")
            }
            let before = state
            do { try state.apply(event.event) } catch { throw .event(seq: entry.seq, type: entry.type, reason: "\(error)") }
            switch event.event {
            case .bidAccepted(let stage, _, let amount, let at): standing[stage] = (amount, at)
            case .bidCancelled(let stage, _, _): standing[stage] = nil
            case .outageRecovered(let from, let until):
                outages.append(.init(from: from.iso8601, until: until.iso8601, shiftedBy: Self.shift(from: before, to: state)))
            case .stageStarted(let index, _) where index > 0 && before.stages[index - 1].kind == .bids:
                let turn = before.stages[index - 1]
                let bidder = turn.bidder ?? 0
                let price = before.prices.indices.contains(bidder - 1) ? before.prices[bidder - 1] : nil
                let bid = standing[index - 1]
                turns.append(
                    AuditDocument.Turn(
                        round: turn.round ?? 0, bidder: bidder, amount: (bid?.amount ?? price?.amount ?? .zero).formatted,
                        changed: bid != nil, at: bid?.at.iso8601))
            default: break
            }
        }
        self.state = state
        self.turns = turns
        self.outages = outages
    }

    /// How far an outage moved the next stage, in milliseconds.
    private static func shift(from before: AuctionState, to after: AuctionState) -> Int64 {
        let next = max(0, before.currentStage + 1)
        guard before.stages.indices.contains(next), after.stages.indices.contains(next) else { return 0 }
        return (after.stages[next].start.microseconds - before.stages[next].start.microseconds) / 1000
    }

    /// The audit document of this replay.
    public func document(serviceVersion: String) -> AuditDocument {
        let input = state.input
        return AuditDocument(
            auctionId: input.auctionId, tenderId: input.tenderId, lotId: input.lotId, criteria: input.criteria.rawValue,
            startDate: planned.input.startDate.iso8601, minimalStep: input.minimalStep.formatted, currency: input.currency,
            initialBids: input.participants.enumerated().map { number, participant in
                .init(
                    bidder: number + 1, bidId: participant.bidId, amount: participant.initial.amount.formatted,
                    date: participant.initial.date.iso8601, coefficient: input.isMEAT ? participant.coefficient.description : nil)
            },
            turns: turns, outages: outages,
            results: state.participants.enumerated().map { number, participant in
                .init(
                    bidder: number + 1, bidId: participant.bidId, amount: state.prices[number].amount.formatted,
                    date: state.prices[number].date.iso8601,
                    normalized: input.isMEAT ? participant.normalized(state.prices[number].amount).description : nil)
            },
            names: state.names, status: state.status.rawValue, chainHead: head, serviceVersion: serviceVersion,
            record: .init(
                plan: String(decoding: record.plan, as: UTF8.self),
                events: record.entries.map { entry in entry.fields.flatMap { [$0.name, $0.value] } }))
    }
}

/// The auction's audit document: what happened, and the record it was read from.
public struct AuditDocument: Codable, Sendable, Equatable {
    public struct InitialBid: Codable, Sendable, Equatable {
        public var bidder: Int
        public var bidId: String
        public var amount: String
        public var date: String
        /// MEAT: the bidder's coefficient (the price that ranks is amount / coefficient).
        public var coefficient: String?
    }

    public struct Turn: Codable, Sendable, Equatable {
        public var round: Int
        public var bidder: Int
        /// The bidder's price after the turn.
        public var amount: String
        /// Whether a bid was made in the turn (and not cancelled).
        public var changed: Bool
        /// The server time of the bid that stood, if one did.
        public var at: String?
    }

    public struct Outage: Codable, Sendable, Equatable {
        public var from: String
        public var until: String
        /// How far the remaining stages moved, in milliseconds (0: it fell before the auction).
        public var shiftedBy: Int64
    }

    public struct Result: Codable, Sendable, Equatable {
        public var bidder: Int
        public var bidId: String
        public var amount: String
        public var date: String
        /// MEAT: amount / coefficient, the price that ranks.
        public var normalized: String?
    }

    public struct Record: Codable, Sendable, Equatable {
        /// The plan as stored: the first link of the chain is its SHA-256.
        public var plan: String
        /// Each event's fields as stored: name, value, name, value…, `prev` last.
        public var events: [[String]]
    }

    public var auctionId: String
    public var tenderId: String
    public var lotId: String?
    public var criteria: String
    public var startDate: String
    public var minimalStep: String
    public var currency: String
    public var initialBids: [InitialBid]
    public var turns: [Turn]
    public var outages: [Outage]
    public var results: [Result]
    public var names: [String]?
    public var status: String
    public var chainHead: String
    public var serviceVersion: String
    public var record: Record

    /// The record the document carries, to replay.
    public var carriedRecord: AuctionRecord {
        AuctionRecord(
            auctionId: auctionId, plan: Array(record.plan.utf8),
            entries: record.events.enumerated().map { index, flat in
                let fields = stride(from: 0, to: flat.count - 1, by: 2).map { AuctionRecord.Field(flat[$0], flat[$0 + 1]) }
                let seq = fields.first { $0.name == "seq" }.flatMap { Int64($0.value) } ?? Int64(index + 1)
                return AuctionRecord.Entry(seq: seq, fields: fields)
            }, head: chainHead)
    }

    /// Checks the document on its own: its record's chain up to `chainHead`, the replay of that
    /// record, and that every figure the document states is what the replay gives.
    public func verify() throws(ReplayError) -> Replay {
        let replay = try Replay(carriedRecord)
        let again = replay.document(serviceVersion: serviceVersion)
        for (name, stated, replayed) in Self.parts(self, again) where stated != replayed {
            throw .document("\(name) says \(stated), the record gives \(replayed)")
        }
        return replay
    }

    private static func parts(_ a: AuditDocument, _ b: AuditDocument) -> [(String, String, String)] {
        func text<T>(_ value: T) -> String { String(describing: value) }
        var parts = [
            ("auctionId", text(a.auctionId), text(b.auctionId)), ("tenderId", text(a.tenderId), text(b.tenderId)),
            ("lotId", text(a.lotId), text(b.lotId)), ("criteria", a.criteria, b.criteria), ("startDate", a.startDate, b.startDate),
            ("minimalStep", a.minimalStep, b.minimalStep), ("currency", a.currency, b.currency), ("status", a.status, b.status),
            ("names", text(a.names), text(b.names)),
            ("the number of turns", text(a.turns.count), text(b.turns.count)),
            ("the number of outages", text(a.outages.count), text(b.outages.count)),
            ("the number of results", text(a.results.count), text(b.results.count)),
        ]
        parts += zip(a.initialBids, b.initialBids).enumerated().map { ("initial bid \($0 + 1)", text($1.0), text($1.1)) }
        parts += zip(a.turns, b.turns).enumerated().map { ("turn \($0 + 1)", text($1.0), text($1.1)) }
        parts += zip(a.outages, b.outages).enumerated().map { ("outage \($0 + 1)", text($1.0), text($1.1)) }
        parts += zip(a.results, b.results).enumerated().map { ("result \($0 + 1)", text($1.0), text($1.1)) }
        return parts
    }
}
