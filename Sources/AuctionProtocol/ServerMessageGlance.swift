// A client's quick look at a server message: the fields it acts on, read where they lie without
// decoding the rest. The load generator reads every state 10,000 observers receive on the machine
// the service runs on; decoding each 3.5 KB state into `ServerMessage` took its thread about a
// millisecond. Key order does not matter: members are found by name.

import Foundation

/// The fields of one server message a client acts on.
public struct ServerMessageGlance: Equatable, Sendable {
    public var type: String
    public var requestId: String?
    /// `bidRejected`'s and `error`'s code.
    public var code: String?
    /// `bidAccepted`'s and `pendingBid`'s amount.
    public var amount: String?
    /// `welcome`'s bidder number (absent for an observer).
    public var bidderNumber: Int?
    /// A state's: its seq and its auction's current stage, status and server time; other
    /// messages' `serverTime` too.
    public var seq: Int64?
    public var currentStage: Int64?
    public var status: String?
    public var serverTime: Int64?
    /// Where a state's `stages` lie in the message, for `stages(in:)`.
    private var stagesRange: Range<Int>?

    /// One element of a state's `stages`, the fields a bidder plays by.
    public struct Stage: Equatable, Sendable {
        public var type: String
        public var start: Int64
        /// 0 when the stage has no end.
        public var end: Int64
        public var bidder: Int?
        public var amount: String?

        public init(type: String, start: Int64, end: Int64, bidder: Int?, amount: String?) {
            self.type = type
            self.start = start
            self.end = end
            self.bidder = bidder
            self.amount = amount
        }
    }

    /// nil for anything but a JSON object with a string `type`. One pass over the message: a
    /// state's `auction` and a welcome's `bidder` are read on the way.
    public init?(_ message: UnsafeRawBufferPointer) {
        let scanner = JSONScanner(message)
        var type: String?
        var glance = ServerMessageGlance(type: "")
        var auctionServerTime: Int64?
        let wellFormed = scanner.forEachMember(entering: { $0.count == 7 || $0.count == 6 ? Key($0).isEntered : false }) {
            depth, key, value in
            switch (depth, Key(key)) {
            case (0, .type): type = scanner.value(at: value)?.string
            case (0, .requestId): glance.requestId = scanner.value(at: value)?.string
            case (0, .code): glance.code = scanner.value(at: value)?.string
            case (0, .amount): glance.amount = scanner.value(at: value)?.string
            case (0, .serverTime): glance.serverTime = scanner.integer(at: value)
            case (0, .seq): glance.seq = scanner.integer(at: value)
            case (1, .number): glance.bidderNumber = scanner.integer(at: value).map { Int($0) }
            case (1, .currentStage): glance.currentStage = scanner.integer(at: value)
            case (1, .status): glance.status = scanner.value(at: value)?.string
            case (1, .serverTime): auctionServerTime = scanner.integer(at: value)
            case (1, .stages): glance.stagesRange = value
            default: break
            }
        }
        guard wellFormed, let type else { return nil }
        glance.type = type
        // A state's time is its auction's.
        if let auctionServerTime { glance.serverTime = auctionServerTime }
        self = glance
    }

    private init(type: String) { self.type = type }

    /// The member names a glance reads, told apart by their bytes (no string is made of a key).
    private enum Key {
        case type, requestId, code, amount, serverTime, seq, auction, bidder, number, currentStage, status, stages, other

        init(_ bytes: UnsafeRawBufferPointer) { self = Self.names.key(bytes) ?? .other }

        var isEntered: Bool { self == .auction || self == .bidder }

        static let names = NameTable<Key>([
            ("type", .type), ("requestId", .requestId), ("code", .code), ("amount", .amount), ("serverTime", .serverTime),
            ("seq", .seq), ("auction", .auction), ("bidder", .bidder), ("number", .number), ("currentStage", .currentStage),
            ("status", .status), ("stages", .stages),
        ])
    }

    /// A state's stages, from the same bytes the glance was read from; nil if they cannot be read.
    /// Each stage's members are found by name, as the glance's are, without a dictionary.
    public func stages(in message: UnsafeRawBufferPointer) -> [Stage]? {
        guard let stagesRange else { return nil }
        let scanner = JSONScanner(message)
        guard let elements = scanner.array(at: stagesRange) else { return nil }
        var stages: [Stage] = []
        stages.reserveCapacity(elements.count)
        for element in elements {
            guard case .object(let range) = element else { return nil }
            var type: String?
            var start: Int64?
            var stage = Stage(type: "", start: 0, end: 0, bidder: nil, amount: nil)
            let read = scanner.forEachMember(at: range) { _, key, value in
                switch StageKey(key) {
                case .type: type = scanner.value(at: value)?.string
                case .start: start = scanner.integer(at: value)
                case .end: stage.end = scanner.integer(at: value) ?? 0
                case .bidder: stage.bidder = scanner.integer(at: value).map { Int($0) }
                case .amount: stage.amount = scanner.value(at: value)?.string
                case .other: break
                }
            }
            guard read, let type, let start else { return nil }
            stage.type = type
            stage.start = start
            stages.append(stage)
        }
        return stages
    }

    /// A stage's member names a bidder plays by.
    private enum StageKey {
        case type, start, end, bidder, amount, other

        init(_ bytes: UnsafeRawBufferPointer) {
            self = Self.names.key(bytes) ?? .other
        }

        static let names = NameTable<StageKey>([
            ("type", .type), ("start", .start), ("end", .end), ("bidder", .bidder), ("amount", .amount),
        ])
    }
}

/// Member names told apart by their bytes, by length first (most members a glance passes are none
/// of them), without making a string of a key.
private struct NameTable<Key: Sendable>: Sendable {
    private let byLength: [[([UInt8], Key)]]

    init(_ names: [(String, Key)]) {
        var table = [[([UInt8], Key)]](repeating: [], count: (names.map(\.0.utf8.count).max() ?? 0) + 1)
        for (name, key) in names { table[name.utf8.count].append((Array(name.utf8), key)) }
        byLength = table
    }

    func key(_ bytes: UnsafeRawBufferPointer) -> Key? {
        guard bytes.count < byLength.count, let base = bytes.baseAddress else { return nil }
        return byLength[bytes.count].first { memcmp($0.0, base, bytes.count) == 0 }?.1
    }
}
