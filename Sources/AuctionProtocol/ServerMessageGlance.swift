// A client's quick look at a server message: the fields it acts on, read where they lie without
// decoding the rest. The load generator reads every state 10,000 observers receive on the machine
// the service runs on; decoding each 3.5 KB state into `ServerMessage` took its thread about a
// millisecond. Key order does not matter: members are found by name.

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

    /// nil for anything but a JSON object with a string `type`.
    public init?(_ message: UnsafeRawBufferPointer) {
        let scanner = JSONScanner(message)
        guard let members = scanner.object(), let type = members["type"]?.string else { return nil }
        self.type = type
        requestId = members["requestId"]?.string
        code = members["code"]?.string
        amount = members["amount"]?.string
        serverTime = members["serverTime"]?.int64
        seq = members["seq"]?.int64
        if case .object(let range)? = members["bidder"], let number = scanner.object(at: range)?["number"]?.int64 {
            bidderNumber = Int(number)
        }
        if case .object(let range)? = members["auction"], let auction = scanner.object(at: range) {
            currentStage = auction["currentStage"]?.int64
            status = auction["status"]?.string
            serverTime = auction["serverTime"]?.int64
            if case .array(let stages)? = auction["stages"] { stagesRange = stages }
        }
    }

    /// A state's stages, from the same bytes the glance was read from; nil if they cannot be read.
    public func stages(in message: UnsafeRawBufferPointer) -> [Stage]? {
        guard let stagesRange else { return nil }
        let scanner = JSONScanner(message)
        guard let elements = scanner.array(at: stagesRange) else { return nil }
        var stages: [Stage] = []
        stages.reserveCapacity(elements.count)
        for element in elements {
            guard case .object(let range) = element, let fields = scanner.object(at: range), let type = fields["type"]?.string,
                let start = fields["start"]?.int64
            else { return nil }
            stages.append(
                Stage(
                    type: type, start: start, end: fields["end"]?.int64 ?? 0, bidder: fields["bidder"]?.int64.map { Int($0) },
                    amount: fields["amount"]?.string))
        }
        return stages
    }
}
