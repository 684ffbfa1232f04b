import AuctionCore
import AuctionProtocol
import Foundation

/// A bidder that follows its participation link over the live channel (PROTOCOL.md) and, in each
/// of its turns, improves its own price by `steps` minimal steps: down for lowestCost, up for
/// highestCost. For end-to-end tests and the demo.
public final class ScriptedBidder: @unchecked Sendable {
    public let auctionId: String
    public let port: Int
    private let path: String
    /// Kopiyky; negative for lowestCost (the price falls).
    private let change: Int64
    private var price: Int64
    public private(set) var number: Int?
    /// Kopiyky of every bid the server accepted, in order.
    public private(set) var accepted: [Int64] = []
    public private(set) var rejections: [String] = []
    public private(set) var finalStatus: String?

    /// - Parameters:
    ///   - participationURL: `{publicUrl}/tenders/{auctionId}?key_for_bid=…&hash=…`.
    ///   - initialKopiyky: the bid's own starting price (MEAT hides it from the public state).
    public init(participationURL: String, initialKopiyky: Int64, stepKopiyky: Int64, rising: Bool, steps: Int64 = 1) throws {
        guard let url = URLComponents(string: participationURL), let port = url.port, let query = url.percentEncodedQuery,
            let id = url.path.split(separator: "/").last
        else { throw SandboxTestError(description: "'\(participationURL)' is not a participation link") }
        self.port = port
        auctionId = String(id)
        path = "/ws/\(id)?\(query)"
        price = initialKopiyky
        change = (rising ? 1 : -1) * stepKopiyky * steps
    }

    /// One bidder per participation link in a private auction view (`GET …/auction`), for the
    /// tender or for lot `lotId`: starting from each bid's own price, stepping by the minimal step,
    /// upward for highestCost (DGF) and downward otherwise.
    public static func bidders(inAuctionView view: [String: Any], lotId: String? = nil) throws -> [ScriptedBidder] {
        let scope = lotId.flatMap { lot in (view["lots"] as? [[String: Any]])?.first { $0["id"] as? String == lot } } ?? view
        let step = kopiyky(jsonAmount: (scope["minimalStep"] as? [String: Any])?["amount"])
        let rising = view["awardCriteria"] as? String == "highestCost"
        var found: [ScriptedBidder] = []
        for bid in view["bids"] as? [[String: Any]] ?? [] {
            let offer = lotId.map { lot in (bid["lotValues"] as? [[String: Any]])?.first { $0["relatedLot"] as? String == lot } } ?? bid
            guard let offer, let url = offer["participationUrl"] as? String else { continue }
            let initial = kopiyky(jsonAmount: (offer["value"] as? [String: Any])?["amount"])
            found.append(try ScriptedBidder(participationURL: url, initialKopiyky: initial, stepKopiyky: step, rising: rising))
        }
        return found
    }

    /// A JSON number amount (at most 2 decimals) → kopiyky.
    public static func kopiyky(jsonAmount amount: Any?) -> Int64 {
        Int64((((amount as? NSNumber)?.doubleValue ?? 0) * 100).rounded())
    }

    /// Bids through the whole auction; returns once its results are posted (or it is cancelled or
    /// rescheduled), or with `untilLastTurn` as soon as the last turn has ended.
    public func run(timeout: Duration = .seconds(120), untilLastTurn: Bool = false) throws {
        let deadline = ContinuousClock.now + timeout
        let socket = try TestWebSocketClient(port: port, path: path, timeout: .seconds(10))
        var bidStages: Set<Int> = []
        while ContinuousClock.now < deadline {
            let message: ServerMessage
            do { message = try socket.receiveMessage() } catch { continue }
            switch message {
            case .welcome(let welcome):
                number = welcome.bidder?.number
                if number == nil { throw SandboxTestError(description: "\(auctionId): the link made an observer: \(message)") }
            case .bidAccepted(_, let text, _):
                if let amount = Self.kopiyky(text) {
                    accepted.append(amount)
                    price = amount
                }
            case .bidRejected(_, let code, _):
                rejections.append(code)
            case .state(_, let auction):
                if [.finished, .announced, .cancelled, .rescheduled].contains(auction.status) {
                    finalStatus = auction.status.rawValue
                    return
                }
                let current = auction.currentStage
                guard auction.stages.indices.contains(current) else { continue }
                let stage = auction.stages[current]
                if untilLastTurn, stage.type == .preAnnouncement {
                    finalStatus = auction.status.rawValue
                    return
                }
                guard stage.type == .bids, stage.bidder == number, !bidStages.contains(current) else { continue }
                bidStages.insert(current)
                try socket.send(ClientMessage.bid(amount: .text(Self.text(price + change)), requestId: "turn-\(current)"))
            default:
                continue
            }
        }
        throw SandboxTestError(description: "\(auctionId): bidder \(number ?? 0) saw no final state in time")
    }

    /// `"480.50"` → 48050.
    public static func kopiyky(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]) else { return nil }
        let cents = parts.count > 1 ? Int64(parts[1].padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0 : 0
        return whole * 100 + cents
    }

    public static func text(_ kopiyky: Int64) -> String {
        let cents = kopiyky % 100
        return "\(kopiyky / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}
