// What clients send (PROTOCOL.md "Client → server"): read by the server, written by the page's
// counterparts in Swift (the load generator, the test client).
import AuctionCore
import Foundation

/// A client message.
public enum ClientMessage: Equatable, Sendable {
    case bid(amount: AmountInput?, requestId: String?)
    case cancel(requestId: String?)
    case ping(clientTime: Double?)
    case resync(sinceSeq: Int64?)

    /// Why a message could not be read, as the protocol's `error` codes.
    public enum ReadError: Error, Equatable, Sendable {
        case badJSON(String)
        case unknownType(String)
    }

    public static let maximumRequestIdLength = 64

    /// Reads a message: bids and cancels, flat objects of strings, without JSONDecoder; anything
    /// else through it.
    public static func read(_ text: String) -> Result<ClientMessage, ReadError> {
        read(text, fields: flatFields(text))
    }

    /// Without the flat fast path: what `read` must equal for every text (tested).
    public static func readWithDecoder(_ text: String) -> Result<ClientMessage, ReadError> {
        read(text, fields: nil)
    }

    /// The message as JSON text, keys in byte order.
    public var text: String {
        var writer = JSONObjectWriter()
        switch self {
        case .bid(let amount, let requestId):
            switch amount {
            case .text(let text)?: writer.string("amount", text)
            case .number(let number)?: writer.raw("amount", Self.number(number))
            case nil: break
            }
            if let requestId { writer.string("requestId", requestId) }
            writer.string("type", "bid")
        case .cancel(let requestId):
            if let requestId { writer.string("requestId", requestId) }
            writer.string("type", "cancel")
        case .ping(let clientTime):
            if let clientTime { writer.raw("clientTime", Self.number(clientTime)) }
            writer.string("type", "ping")
        case .resync(let sinceSeq):
            if let sinceSeq { writer.integer("sinceSeq", sinceSeq) }
            writer.string("type", "resync")
        }
        return writer.text
    }

    /// A whole number without a fraction, as JavaScript writes it.
    static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : (value.isFinite ? value.description : "null")
    }

    // MARK: - Reading

    /// nil (JSONDecoder decides) for anything but a flat object of strings, and for `clientTime`
    /// or `sinceSeq` given as strings: those are numbers, and JSONDecoder names the error.
    private static func flatFields(_ text: String) -> Fields? {
        guard let members = JSONScanner.flatStrings(text), let type = members["type"],
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
