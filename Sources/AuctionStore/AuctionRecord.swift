// An auction's record as Redis holds it, and its hash chain (docs/AUDIT.md): the plan as stored
// and every logged event's fields in the order the scripts wrote them. Verifying the chain needs
// nothing but these bytes and SHA-256.
import CryptoPrimitives

public struct AuctionRecord: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var seq: Int64
        /// The Stream entry's fields in the order written; `prev` last.
        public var fields: [Field]

        public init(seq: Int64, fields: [Field]) {
            self.seq = seq
            self.fields = fields
        }

        public func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }
        public var type: String { value("type") ?? "?" }
    }

    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var auctionId: String
    /// The plan as stored (the JSON of the planned `AuctionState`).
    public var plan: [UInt8]
    public var entries: [Entry]
    /// The live hash's `head`: the SHA-256 of the last entry (nil once the keys are gone).
    public var head: String?

    public init(auctionId: String, plan: [UInt8], entries: [Entry], head: String?) {
        self.auctionId = auctionId
        self.plan = plan
        self.entries = entries
        self.head = head
    }

    /// The bytes an entry's hash is taken over: each field name and value, in order, as
    /// `length:bytes` (the length in bytes, in decimal), so that no two entries share them.
    public static func canonical(_ fields: [Field]) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in fields {
            for part in [field.name, field.value] {
                bytes += Array(String(part.utf8.count).utf8) + [UInt8(ascii: ":")] + Array(part.utf8)
            }
        }
        return bytes
    }

    /// Where the chain does not hold: the first place, walking from the plan.
    public enum ChainBreak: Error, Equatable, CustomStringConvertible, Sendable {
        /// Entry `seq` records a `prev` that is not the hash of what comes before it (the plan,
        /// or entry `seq - 1` of type `before`): that earlier record (or this link) was changed.
        case link(seq: Int64, before: String?, recorded: String, computed: String)
        /// The last entry does not hash to the head the live hash keeps: it was changed.
        case head(seq: Int64, type: String, recorded: String, computed: String)
        /// Entry `seq` has no `prev`: it was written before the chain existed, or it was removed.
        case missingLink(seq: Int64)
        /// The log skips from `after` to `seq`: entries were removed.
        case gap(after: Int64, seq: Int64)

        public var description: String {
            switch self {
            case .link(let seq, let before, let recorded, let computed):
                let changed = before.map { "event \(seq - 1) (\($0))" } ?? "the plan"
                return
                    "\(changed) does not match the hash event \(seq) recorded for it (recorded \(recorded), computed \(computed)): \(changed) was changed after it was recorded"
            case .head(let seq, let type, let recorded, let computed):
                return
                    "event \(seq) (\(type)) does not match the chain's head (recorded \(recorded), computed \(computed)): it was changed after it was recorded"
            case .missingLink(let seq): return "event \(seq) carries no link to the record before it"
            case .gap(let after, let seq): return "the log skips from event \(after) to event \(seq): events were removed"
            }
        }
    }

    /// Checks every link from the plan to the last entry (and the live hash's head, if there is
    /// one); returns the hash of the last record, the chain's head.
    public func verifyChain() -> Result<String, ChainBreak> {
        var previous = SHA256.hex(plan)
        var before: Entry?
        for entry in entries {
            let expectedSeq = (before?.seq ?? 0) + 1
            if entry.seq != expectedSeq { return .failure(.gap(after: expectedSeq - 1, seq: entry.seq)) }
            guard let recorded = entry.value("prev") else { return .failure(.missingLink(seq: entry.seq)) }
            if recorded != previous {
                return .failure(.link(seq: entry.seq, before: before?.type, recorded: recorded, computed: previous))
            }
            previous = SHA256.hex(Self.canonical(entry.fields))
            before = entry
        }
        if let head, let last = entries.last, head != previous {
            return .failure(.head(seq: last.seq, type: last.type, recorded: head, computed: previous))
        }
        return .success(previous)
    }
}
