// How an AuctionEvent is written to the Stream and published: flat string fields, so that Lua
// handles them as strings (its numbers are doubles and its cjson prints 14 digits; µs timestamps
// have 16) and Swift reads them back exactly.
import AuctionCore
import AuctionProtocol
import Foundation

/// One event of an auction's log with its sequence number.
public struct SequencedEvent: Sendable, Equatable {
    public var auctionId: String
    /// 1, 2, 3… per auction, without gaps; the Stream entry id is `0-{seq}`.
    public var seq: Int64
    public var event: AuctionEvent
    /// The client's id of the bid or cancel that made this event, if one did.
    public var requestId: String?
    /// The SHA-256 of this event's record (docs/AUDIT.md): the chain's head once it is folded in.
    /// Computed from the Stream entry, or as the script published it; nil for events written
    /// before the chain existed.
    public var hash: String?

    public init(auctionId: String, seq: Int64, event: AuctionEvent, requestId: String? = nil, hash: String? = nil) {
        self.auctionId = auctionId
        self.seq = seq
        self.event = event
        self.requestId = requestId
        self.hash = hash
    }
}

/// A field value that the append script replaces with Redis `TIME` (µs), so that the event's
/// time is the same clock the bid script judges deadlines by.
let redisTimePlaceholder = "$TIME"

public enum StoredEvent {
    /// The fields of `event`, without `seq` (the script that appends it assigns that).
    static func fields(of event: AuctionEvent) -> [(String, String)] {
        func time(_ t: Timestamp) -> String { String(t.microseconds) }
        switch event {
        case .stageStarted(let index, let at):
            return [("type", "stageStarted"), ("stage", String(index)), ("at", time(at))]
        case .bidAccepted(let stage, let bidder, let amount, let at):
            return [
                ("type", "bidAccepted"), ("stage", String(stage)), ("bidder", String(bidder)),
                ("amount", String(amount.kopiyky)), ("at", time(at)),
            ]
        case .bidCancelled(let stage, let bidder, let at):
            return [("type", "bidCancelled"), ("stage", String(stage)), ("bidder", String(bidder)), ("at", time(at))]
        case .outageRecovered(let from, let until):
            return [("type", "outageRecovered"), ("from", time(from)), ("until", time(until))]
        case .resultsReported(let at):
            return [("type", "resultsReported"), ("at", time(at))]
        case .namesRevealed(let names, let at):
            let json = String(decoding: (try? JSONEncoder().encode(names)) ?? Data("[]".utf8), as: UTF8.self)
            return [("type", "namesRevealed"), ("names", json), ("at", time(at))]
        case .cancelled(let at):
            return [("type", "cancelled"), ("at", time(at))]
        case .rescheduled(let at):
            return [("type", "rescheduled"), ("at", time(at))]
        case .replanned(let startDate, let at):
            return [("type", "replanned"), ("startDate", time(startDate)), ("at", time(at))]
        }
    }

    /// Reads an event back from its fields; nil for fields no version of this code wrote.
    static func decode(auctionId: String, _ fields: [String: String]) -> SequencedEvent? {
        func int(_ key: String) -> Int? { fields[key].flatMap { Int($0) } }
        func time(_ key: String) -> Timestamp? { fields[key].flatMap { Int64($0) }.map { Timestamp(microseconds: $0) } }
        guard let type = fields["type"], let seq = fields["seq"].flatMap({ Int64($0) }) else { return nil }
        let event: AuctionEvent
        switch type {
        case "stageStarted":
            guard let stage = int("stage"), let at = time("at") else { return nil }
            event = .stageStarted(index: stage, at: at)
        case "bidAccepted":
            guard let stage = int("stage"), let bidder = int("bidder"), let at = time("at"),
                let kopiyky = fields["amount"].flatMap({ Int64($0) })
            else { return nil }
            event = .bidAccepted(stage: stage, bidder: bidder, amount: Money(kopiyky: kopiyky), at: at)
        case "bidCancelled":
            guard let stage = int("stage"), let bidder = int("bidder"), let at = time("at") else { return nil }
            event = .bidCancelled(stage: stage, bidder: bidder, at: at)
        case "outageRecovered":
            guard let from = time("from"), let until = time("until") else { return nil }
            event = .outageRecovered(from: from, until: until)
        case "resultsReported":
            guard let at = time("at") else { return nil }
            event = .resultsReported(at: at)
        case "namesRevealed":
            guard let at = time("at"), let json = fields["names"],
                let names = try? JSONDecoder().decode([String].self, from: Data(json.utf8))
            else { return nil }
            event = .namesRevealed(names: names, at: at)
        case "cancelled":
            guard let at = time("at") else { return nil }
            event = .cancelled(at: at)
        case "rescheduled":
            guard let at = time("at") else { return nil }
            event = .rescheduled(at: at)
        case "replanned":
            guard let startDate = time("startDate"), let at = time("at") else { return nil }
            event = .replanned(startDate: startDate, at: at)
        default:
            return nil
        }
        return SequencedEvent(auctionId: auctionId, seq: seq, event: event, requestId: fields["requestId"], hash: fields["hash"])
    }

    /// Reads an event from a message published on an auction's channel (`pmessage`'s channel and
    /// payload); nil for a channel or payload that is not one.
    public static func decode(channel: String, payload: String) -> SequencedEvent? {
        guard let auctionId = AuctionKeys.auctionId(ofChannel: channel),
            let fields = JSONScanner.flatStrings(payload) ?? (try? JSONDecoder().decode([String: String].self, from: Data(payload.utf8)))
        else { return nil }
        return decode(auctionId: auctionId, fields)
    }
}
