// What the server sends (PROTOCOL.md "Server → client"). `text` writes a message; Codable reads it
// (clients) and is the reference `text` is held to: the same bytes as JSONEncoder with sorted keys.
import AuctionCore
import Foundation

public enum ServerMessage: Sendable, Equatable {
    case welcome(Welcome)
    case state(seq: Int64, auction: PublicAuctionState)
    case bidAccepted(requestId: String?, amount: String, serverTime: Int64)
    case bidCancelled(requestId: String?, serverTime: Int64)
    case bidRejected(requestId: String?, code: String, message: String)
    case pendingBid(amount: String)
    case pong(clientTime: Double?, serverTime: Int64)
    /// `requestId`, when the error concerns one bid (`unavailable`), is an addition to the protocol.
    case error(code: ErrorCode, message: String, requestId: String?)

    public struct Welcome: Codable, Sendable, Equatable {
        public var role: String
        public var auctionId: String
        public var serverTime: Int64
        /// A bidder's own number, label and (MEAT) coefficient; absent for an observer.
        public var bidder: Bidder?

        public struct Bidder: Codable, Sendable, Equatable {
            public var number: Int
            public var label: String
            public var coefficient: String?

            public init(number: Int, coefficient: String?) {
                self.number = number
                label = "Bidder \(number)"
                self.coefficient = coefficient
            }
        }

        public init(role: String, auctionId: String, serverTime: Int64, bidder: Bidder?) {
            self.role = role
            self.auctionId = auctionId
            self.serverTime = serverTime
            self.bidder = bidder
        }
    }

    /// The `error` message codes. `unavailable` is an addition to the protocol's list: the bid's
    /// fate is unknown because Redis did not answer, or the bid was not taken because the service
    /// is busy; sending it again with the same requestId is safe.
    public enum ErrorCode: String, Codable, Sendable {
        case badJSON = "bad_json"
        case unknownType = "unknown_type"
        case tooLarge = "too_large"
        case rateLimited = "rate_limited"
        case invalidToken = "invalid_token"
        case unavailable
    }

    public var type: String {
        switch self {
        case .welcome: "welcome"
        case .state: "state"
        case .bidAccepted: "bidAccepted"
        case .bidCancelled: "bidCancelled"
        case .bidRejected: "bidRejected"
        case .pendingBid: "pendingBid"
        case .pong: "pong"
        case .error: "error"
        }
    }

    /// The message as JSON text, keys in byte order. The small ones, one per bid, are written by
    /// hand; a state, written once per change for everyone, by JSONEncoder.
    public var text: String {
        if case .state = self { return Self.canonical(self) }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// `text`'s UTF-8, made without a String: what a socket is given.
    public var utf8: [UInt8] {
        var writer = JSONObjectWriter()
        switch self {
        case .welcome(let welcome):
            writer.string("auctionId", welcome.auctionId)
            if let bidder = welcome.bidder {
                var inner = JSONObjectWriter()
                if let coefficient = bidder.coefficient { inner.string("coefficient", coefficient) }
                inner.string("label", bidder.label)
                inner.integer("number", Int64(bidder.number))
                writer.raw("bidder", inner.text)
            }
            writer.string("role", welcome.role)
            writer.integer("serverTime", welcome.serverTime)
        case .state:
            return Array(Self.canonical(self).utf8)
        case .bidAccepted(let requestId, let amount, let serverTime):
            writer.string("amount", amount)
            writer.string("requestId", requestId)
            writer.integer("serverTime", serverTime)
        case .bidCancelled(let requestId, let serverTime):
            writer.string("requestId", requestId)
            writer.integer("serverTime", serverTime)
        case .bidRejected(let requestId, let code, let message):
            writer.string("code", code)
            writer.string("message", message)
            writer.string("requestId", requestId)
        case .pendingBid(let amount):
            writer.string("amount", amount)
        case .pong(let clientTime, let serverTime):
            if let clientTime { writer.raw("clientTime", ClientMessage.number(clientTime)) } else { writer.null("clientTime") }
            writer.integer("serverTime", serverTime)
        case .error(let code, let message, let requestId):
            writer.string("code", code.rawValue)
            writer.string("message", message)
            if let requestId { writer.string("requestId", requestId) }
        }
        writer.string("type", type)
        return writer.utf8
    }

    /// The Codable path's text: JSONEncoder, keys sorted, slashes as they are.
    public static func canonical(_ message: ServerMessage) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(message)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Reads a message (clients).
    public static func decode(_ text: String) throws -> ServerMessage {
        try JSONDecoder().decode(ServerMessage.self, from: Data(text.utf8))
    }
}

extension ServerMessage: Codable {
    private enum Keys: String, CodingKey {
        case type, role, auctionId, serverTime, bidder, seq, auction, requestId, amount, code, message, clientTime
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "welcome":
            self = .welcome(
                Welcome(
                    role: try c.decode(String.self, forKey: .role), auctionId: try c.decode(String.self, forKey: .auctionId),
                    serverTime: try c.decode(Int64.self, forKey: .serverTime),
                    bidder: try c.decodeIfPresent(Welcome.Bidder.self, forKey: .bidder)))
        case "state":
            self = .state(seq: try c.decode(Int64.self, forKey: .seq), auction: try c.decode(PublicAuctionState.self, forKey: .auction))
        case "bidAccepted":
            self = .bidAccepted(
                requestId: try c.decodeIfPresent(String.self, forKey: .requestId), amount: try c.decode(String.self, forKey: .amount),
                serverTime: try c.decode(Int64.self, forKey: .serverTime))
        case "bidCancelled":
            self = .bidCancelled(
                requestId: try c.decodeIfPresent(String.self, forKey: .requestId), serverTime: try c.decode(Int64.self, forKey: .serverTime)
            )
        case "bidRejected":
            self = .bidRejected(
                requestId: try c.decodeIfPresent(String.self, forKey: .requestId), code: try c.decode(String.self, forKey: .code),
                message: try c.decode(String.self, forKey: .message))
        case "pendingBid":
            self = .pendingBid(amount: try c.decode(String.self, forKey: .amount))
        case "pong":
            self = .pong(
                clientTime: try c.decodeIfPresent(Double.self, forKey: .clientTime),
                serverTime: try c.decode(Int64.self, forKey: .serverTime))
        case "error":
            self = .error(
                code: try c.decode(ErrorCode.self, forKey: .code), message: try c.decode(String.self, forKey: .message),
                requestId: try c.decodeIfPresent(String.self, forKey: .requestId))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown server message type \(type)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(type, forKey: .type)
        switch self {
        case .welcome(let welcome):
            try c.encode(welcome.role, forKey: .role)
            try c.encode(welcome.auctionId, forKey: .auctionId)
            try c.encode(welcome.serverTime, forKey: .serverTime)
            try c.encodeIfPresent(welcome.bidder, forKey: .bidder)
        case .state(let seq, let auction):
            try c.encode(seq, forKey: .seq)
            try c.encode(auction, forKey: .auction)
        case .bidAccepted(let requestId, let amount, let serverTime):
            try c.encode(requestId, forKey: .requestId)
            try c.encode(amount, forKey: .amount)
            try c.encode(serverTime, forKey: .serverTime)
        case .bidCancelled(let requestId, let serverTime):
            try c.encode(requestId, forKey: .requestId)
            try c.encode(serverTime, forKey: .serverTime)
        case .bidRejected(let requestId, let code, let message):
            try c.encode(requestId, forKey: .requestId)
            try c.encode(code, forKey: .code)
            try c.encode(message, forKey: .message)
        case .pendingBid(let amount):
            try c.encode(amount, forKey: .amount)
        case .pong(let clientTime, let serverTime):
            // A whole number as an integer, as the client sent it.
            if let clientTime, clientTime.rounded() == clientTime, abs(clientTime) < 1e15 {
                try c.encode(Int64(clientTime), forKey: .clientTime)
            } else {
                try c.encode(clientTime, forKey: .clientTime)
            }
            try c.encode(serverTime, forKey: .serverTime)
        case .error(let code, let message, let requestId):
            try c.encode(code, forKey: .code)
            try c.encode(message, forKey: .message)
            try c.encodeIfPresent(requestId, forKey: .requestId)
        }
    }
}
