// The WebSocket messages of PROTOCOL.md: reading what clients send, writing what the server sends.
import AuctionCore
import Foundation

/// A client message, read (PROTOCOL.md "Client → server").
enum ClientMessage: Equatable {
    case bid(amount: AmountInput?, requestId: String?)
    case cancel(requestId: String?)
    case ping(clientTime: Double?)
    case resync(sinceSeq: Int64?)

    /// Why a message could not be read, as the protocol's `error` codes.
    enum ReadError: Error, Equatable {
        case badJSON(String)
        case unknownType(String)
    }

    static let maximumRequestIdLength = 64

    static func read(_ text: String) -> Result<ClientMessage, ReadError> {
        let data = Data(text.utf8)
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: data) else {
            return .failure(.badJSON("The message is not a JSON object with a string \"type\"."))
        }
        guard let fields = try? JSONDecoder().decode(Fields.self, from: data) else {
            return .failure(.badJSON("A field of the message has the wrong type."))
        }
        if let requestId = fields.requestId, requestId.count > maximumRequestIdLength || requestId.isEmpty {
            return .failure(.badJSON("requestId must be 1 to \(maximumRequestIdLength) characters."))
        }
        switch envelope.type {
        case "bid": return .success(.bid(amount: fields.amount?.input, requestId: fields.requestId))
        case "cancel": return .success(.cancel(requestId: fields.requestId))
        case "ping": return .success(.ping(clientTime: fields.clientTime))
        case "resync": return .success(.resync(sinceSeq: fields.sinceSeq))
        default: return .failure(.unknownType("Unknown message type \"\(envelope.type.prefix(40))\"."))
        }
    }

    private struct Envelope: Decodable { var type: String }

    private struct Fields: Decodable {
        var amount: AmountField?
        var requestId: String?
        var clientTime: Double?
        var sinceSeq: Int64?
    }

    /// An amount as sent: a string or a number; anything else is kept as an invalid amount so
    /// that the bid gets `invalid_amount` (with its requestId), not a generic error.
    private enum AmountField: Decodable {
        case value(AmountInput)
        case other

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .value(.text(text))
            } else if let number = try? container.decode(Double.self) {
                self = .value(.number(number))
            } else {
                self = .other
            }
        }

        var input: AmountInput {
            switch self {
            case .value(let input): input
            case .other: .text("")
            }
        }
    }
}

/// Server messages as JSON text (PROTOCOL.md "Server → client"). Keys are sorted, so a message
/// serialises to the same bytes every time.
enum ServerMessage {
    static func welcome(role: SessionRole, auctionId: String, serverTime: Int64, coefficient: String?) -> String {
        var message: [String: Any] = ["type": "welcome", "role": role.name, "auctionId": auctionId, "serverTime": serverTime]
        if case .bidder(let number) = role {
            var bidder: [String: Any] = ["number": number, "label": "Bidder \(number)"]
            if let coefficient { bidder["coefficient"] = coefficient }
            message["bidder"] = bidder
        }
        return json(message)
    }

    static func state(seq: Int64, auction: PublicAuctionState) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(auction)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return "{\"auction\":\(body),\"seq\":\(seq),\"type\":\"state\"}"
    }

    static func bidAccepted(requestId: String?, amount: Money, serverTime: Int64) -> String {
        json(["type": "bidAccepted", "requestId": requestId ?? NSNull(), "amount": amount.formatted, "serverTime": serverTime])
    }

    static func bidCancelled(requestId: String?, serverTime: Int64) -> String {
        json(["type": "bidCancelled", "requestId": requestId ?? NSNull(), "serverTime": serverTime])
    }

    static func bidRejected(requestId: String?, _ rejection: BidRejection) -> String {
        json(["type": "bidRejected", "requestId": requestId ?? NSNull(), "code": rejection.code.rawValue, "message": rejection.message])
    }

    static func pendingBid(amount: Money) -> String {
        json(["type": "pendingBid", "amount": amount.formatted])
    }

    static func pong(clientTime: Double?, serverTime: Int64) -> String {
        let client: Any = clientTime.map { $0.rounded() == $0 && abs($0) < 1e15 ? Int64($0) as Any : $0 as Any } ?? NSNull()
        return json(["type": "pong", "clientTime": client, "serverTime": serverTime])
    }

    /// `requestId`, when the error concerns one bid (`unavailable`), is an addition to the protocol.
    static func error(_ code: ErrorCode, _ message: String, requestId: String? = nil) -> String {
        var fields: [String: Any] = ["type": "error", "code": code.rawValue, "message": message]
        if let requestId { fields["requestId"] = requestId }
        return json(fields)
    }

    /// The `error` message codes. `unavailable` is an addition to the protocol's list: the bid's fate
    /// is unknown because Redis did not answer, or the bid was not taken because the service is
    /// busy; sending it again with the same requestId is safe.
    enum ErrorCode: String {
        case badJSON = "bad_json"
        case unknownType = "unknown_type"
        case tooLarge = "too_large"
        case rateLimited = "rate_limited"
        case invalidToken = "invalid_token"
        case unavailable
    }

    static func json(_ value: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Who is on the other end of a WebSocket.
enum SessionRole: Equatable {
    case observer
    /// A bidder with a verified participation link.
    case bidder(number: Int)

    var name: String {
        switch self {
        case .observer: "observer"
        case .bidder: "bidder"
        }
    }

    var bidderNumber: Int? {
        if case .bidder(let number) = self { return number }
        return nil
    }
}
