// The server's side of the messages of AuctionProtocol: who a connection is, and the messages
// made from the service's own types.
import AuctionCore
import AuctionProtocol

extension ServerMessage {
    static func welcome(role: SessionRole, auctionId: String, serverTime: Int64, coefficient: String?) -> ServerMessage {
        .welcome(
            Welcome(
                role: role.name, auctionId: auctionId, serverTime: serverTime,
                bidder: role.bidderNumber.map { Welcome.Bidder(number: $0, coefficient: coefficient) }))
    }

    static func bidAccepted(requestId: String?, amount: Money, serverTime: Int64) -> ServerMessage {
        .bidAccepted(requestId: requestId, amount: amount.formatted, serverTime: serverTime)
    }

    static func bidRejected(requestId: String?, _ rejection: BidRejection) -> ServerMessage {
        .bidRejected(requestId: requestId, code: rejection.code.rawValue, message: rejection.message)
    }

    static func pendingBid(amount: Money) -> ServerMessage { .pendingBid(amount: amount.formatted) }

    static func error(_ code: ErrorCode, _ message: String, requestId: String? = nil) -> ServerMessage {
        .error(code: code, message: message, requestId: requestId)
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
