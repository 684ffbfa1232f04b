// The WebSocket messages of PROTOCOL.md: reading what clients send, writing what the server sends.
import AuctionCore
import AuctionStore
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
        read(text, fields: flatFields(text))
    }

    /// Without the flat fast path: what `read` must equal for every text (tested).
    static func readWithDecoder(_ text: String) -> Result<ClientMessage, ReadError> {
        read(text, fields: nil)
    }

    /// A bid or cancel as bidders send it, a flat object of strings, read without JSONDecoder.
    /// nil (JSONDecoder decides) for anything else, and for `clientTime` or `sinceSeq` given as
    /// strings: those are numbers, and JSONDecoder names the error.
    private static func flatFields(_ text: String) -> Fields? {
        guard let members = FlatJSONObject.decode(text), let type = members["type"],
            members["clientTime"] == nil, members["sinceSeq"] == nil
        else { return nil }
        return Fields(type: type, amount: members["amount"].map { .value(.text($0)) }, requestId: members["requestId"])
    }

    private static func read(_ text: String, fields flat: Fields?) -> Result<ClientMessage, ReadError> {
        // One decoding for a good message; the envelope alone only to name what is wrong.
        guard let fields = flat ?? (try? JSONDecoder().decode(Fields.self, from: Data(text.utf8))) else {
            let data = Data(text.utf8)
            guard (try? JSONDecoder().decode(Envelope.self, from: data)) != nil else {
                return .failure(.badJSON("The message is not a JSON object with a string \"type\"."))
            }
            return .failure(.badJSON("A field of the message has the wrong type."))
        }
        if let requestId = fields.requestId, requestId.count > maximumRequestIdLength || requestId.isEmpty {
            return .failure(.badJSON("requestId must be 1 to \(maximumRequestIdLength) characters."))
        }
        switch fields.type {
        case "bid": return .success(.bid(amount: fields.amount?.input, requestId: fields.requestId))
        case "cancel": return .success(.cancel(requestId: fields.requestId))
        case "ping": return .success(.ping(clientTime: fields.clientTime))
        case "resync": return .success(.resync(sinceSeq: fields.sinceSeq))
        default: return .failure(.unknownType("Unknown message type \"\(fields.type.prefix(40))\"."))
        }
    }

    private struct Envelope: Decodable { var type: String }

    private struct Fields: Decodable {
        var type: String
        var amount: AmountField?
        var requestId: String?
        var clientTime: Double? = nil
        var sinceSeq: Int64? = nil
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

    /// The small messages written by hand, keys in byte order: JSONSerialization with sorted keys
    /// compared the keys through ICU collation, and that was half of auctiond's CPU in the `storm`
    /// load test (perf), for objects of four or five keys. Values: String, Int, Int64, Double,
    /// Bool, NSNull and nested `[String: Any]`.
    static func json(_ value: [String: Any]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160)
        writeJSON(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func writeJSON(_ value: Any, to bytes: inout [UInt8]) {
        switch value {
        case let text as String:
            writeJSONString(text, to: &bytes)
        case let number as Int64:
            bytes += String(number).utf8
        case let number as Int:
            bytes += String(number).utf8
        case let number as Double:
            bytes += (number.isFinite ? number.description : "null").utf8
        case let flag as Bool:
            bytes += (flag ? "true" : "false").utf8
        case let object as [String: Any]:
            bytes.append(UInt8(ascii: "{"))
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                writeJSONString(key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                writeJSON(object[key]!, to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        default:
            bytes += "null".utf8
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259 §7), the rest
    /// as UTF-8, slashes as they are.
    private static func writeJSONString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\n"): bytes += "\\n".utf8
            case UInt8(ascii: "\r"): bytes += "\\r".utf8
            case UInt8(ascii: "\t"): bytes += "\\t".utf8
            case 0..<0x20:
                bytes += "\\u00".utf8
                bytes += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
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
