import AuctionCore
import AuctionProtocol
import AuctionRuntime
import AuctionStore
import AuctionTesting
import Foundation
import Locking
import Logging
import Synchronization
import Testing
import WebServer

@testable import AuctionServer

/// The order in which connections were handed a broadcast (shared by a test's connections).
private final class DeliveryLog: Sendable {
    let ids = Locked<[UInt64]>([])
}

/// A connection held in memory: what the channel sent it, and whether it closed it.
private final class MemoryConnection: LiveConnection {
    let id: UInt64
    let request: HTTPRequest
    let sent = Locked<[String]>([])
    let closedWith = Locked<CloseCode?>(nil)
    let deliveries: DeliveryLog

    init(id: UInt64, path: String, query: [(String, String)] = [], peer: String = "10.0.0.1", deliveries: DeliveryLog) {
        self.id = id
        request = HTTPRequest(method: .get, path: path, query: query.map { (name: $0.0, value: $0.1) }, peer: peer)
        self.deliveries = deliveries
    }

    func send(text: String) { sent.withLock { $0.append(text) } }
    func send(utf8: [UInt8]) { send(text: String(decoding: utf8, as: UTF8.self)) }
    func close(_ code: CloseCode, reason: String) { closedWith.withLock { $0 = code } }
    func broadcast(_ text: String, to connections: [any LiveConnection], handedOver: (@Sendable () -> Void)?) {
        for connection in connections {
            connection.send(text: text)
            deliveries.ids.withLock { $0.append(connection.id) }
        }
        handedOver?()
    }

    var messages: [ServerMessage] { sent.withLock { $0 }.compactMap { try? ServerMessage.decode($0) } }
    var types: [String] { messages.map(\.type) }
}

/// Bids judged by the test: each submission is kept, and answered with `verdict`.
private final class ScriptedGateway: BidGateway {
    let submissions = Locked<[BidSubmission]>([])
    let verdict: @Sendable (BidSubmission) -> Result<BidVerdict, AuctionStoreError>?

    init(verdict: @escaping @Sendable (BidSubmission) -> Result<BidVerdict, AuctionStoreError>?) { self.verdict = verdict }

    func submit(_ bid: BidSubmission, answer: @escaping StoreWorker.BidAnswer) -> Bool {
        submissions.withLock { $0.append(bid) }
        guard let verdict = verdict(bid) else { return false }
        answer(verdict)
        return true
    }
}

/// The live channel in process: connections and bids held in memory, no sockets, no Redis. The
/// same behaviour through lws and Redis is in LiveAuctionTests and BadInputTests.
@Suite struct LiveChannelTests {
    let tokens = ParticipationTokens(secrets: ["live-channel-test-secret"])
    fileprivate let deliveries = DeliveryLog()
    let planned: AuctionState

    init() throws {
        planned = try samplePlannedAuction(start: Timestamp(microseconds: RedisClock.hostMicroseconds() + 3_600_000_000))
    }

    private func channel(_ gateway: ScriptedGateway, limits: AuctionServiceSettings.Limits = .init()) -> LiveChannel {
        let live = LiveAuctions()
        live.insert(AuctionReplica(planned: planned))
        return LiveChannel(
            live: live, tokens: tokens, clock: RedisClock(), limits: limits, metrics: ServiceMetrics(), logger: Logger(label: "test"),
            bids: gateway)
    }

    private func connection(_ id: UInt64, bidder: Int? = nil, token: String? = nil, peer: String = "10.0.0.1") -> MemoryConnection {
        var query: [(String, String)] = []
        if let bidder {
            let bidId = planned.input.participants[bidder - 1].bidId
            query = [("key_for_bid", bidId), ("hash", token ?? tokens.token(auctionId: planned.input.auctionId, bidId: bidId))]
        }
        return MemoryConnection(id: id, path: "/ws/\(planned.input.auctionId)", query: query, peer: peer, deliveries: deliveries)
    }

    @Test func anObserverIsWelcomedWithTheStateAndItsBidIsRefusedWithoutReachingRedis() {
        let gateway = ScriptedGateway { _ in nil }
        let live = channel(gateway)
        let observer = connection(1)
        #expect(live.shouldUpgrade(observer.request) == .accept)
        live.opened(observer)
        #expect(observer.types == ["welcome", "state"])
        live.received(ClientMessage.bid(amount: .text("900.00"), requestId: "o-1").text, from: observer)
        #expect(observer.messages.last == .bidRejected(requestId: "o-1", code: "observer", message: BidRejection(.observer).message))
        #expect(gateway.submissions.withLock { $0.isEmpty })
    }

    @Test func aBidderWithABadLinkWatchesAsAnObserverAndIsTold() {
        let live = channel(ScriptedGateway { _ in nil })
        let forged = connection(1, bidder: 1, token: String(repeating: "0", count: 32))
        live.opened(forged)
        #expect(forged.types == ["welcome", "state", "error"])
        guard case .welcome(let welcome) = forged.messages.first, case .error(let code, _, _) = forged.messages.last else {
            Issue.record("\(forged.messages)")
            return
        }
        #expect(welcome.role == "observer" && welcome.bidder == nil)
        #expect(code == .invalidToken)
    }

    @Test func aBidGoesToTheGatewayAsTheBiddersAndItsVerdictIsAnswered() {
        let at = Timestamp(microseconds: 1_732_000_000_000_000)
        let gateway = ScriptedGateway { bid in .success(.accepted(seq: 1, amount: Money(kopiyky: 89_000), at: at)) }
        let live = channel(gateway)
        let bidder = connection(7, bidder: 2)
        live.opened(bidder)
        guard case .welcome(let welcome) = bidder.messages.first else {
            Issue.record("no welcome")
            return
        }
        #expect(welcome.role == "bidder" && welcome.bidder?.number == 2)
        live.received(ClientMessage.bid(amount: .text("890.00"), requestId: "r-1").text, from: bidder)
        let submitted = gateway.submissions.withLock { $0 }
        #expect(submitted.count == 1)
        #expect(
            submitted.first?.bidder == 2 && submitted.first?.requestId == "r-1"
                && submitted.first?.request == .place(Money(kopiyky: 89_000)))
        #expect(bidder.messages.last == .bidAccepted(requestId: "r-1", amount: "890.00", serverTime: at.milliseconds))
    }

    @Test func aFullQueueAndAStoreThatDoesNotAnswerAreUnavailableWithTheRequestId() {
        let refusing = channel(ScriptedGateway { _ in nil })
        let first = connection(1, bidder: 1)
        refusing.opened(first)
        refusing.received(ClientMessage.bid(amount: .text("890.00"), requestId: "busy").text, from: first)
        #expect(
            first.messages.last
                == .error(
                    code: .unavailable, message: "The service is busy and did not record the bid. Send it again with the same requestId.",
                    requestId: "busy"))
        let failing = channel(ScriptedGateway { _ in .failure(.unavailable(.connectionLost(address: "redis", reason: "gone"))) })
        let second = connection(2, bidder: 1)
        failing.opened(second)
        failing.received(ClientMessage.cancel(requestId: "lost").text, from: second)
        guard case .error(let code, _, let requestId) = second.messages.last else {
            Issue.record("\(second.messages)")
            return
        }
        #expect(code == .unavailable && requestId == "lost")
    }

    @Test func aFloodIsRateLimitedAndTheConnectionClosedAfterRepeatedViolations() {
        var limits = AuctionServiceSettings.Limits()
        limits.messagesPerSecond = 2
        limits.violationsBeforeClose = 2
        let live = channel(ScriptedGateway { _ in nil }, limits: limits)
        let flooder = connection(1)
        live.opened(flooder)
        for n in 0..<6 { live.received(ClientMessage.ping(clientTime: Double(n)).text, from: flooder) }
        let codes = flooder.messages.compactMap { message -> ServerMessage.ErrorCode? in
            if case .error(let code, _, _) = message { return code }
            return nil
        }
        #expect(codes == [.rateLimited, .rateLimited], "answers stop at the limit of violations")
        #expect(flooder.closedWith.withLock { $0 } == .policyViolation)
    }

    @Test func connectionsAreCappedPerAddressAndPerLinkAndUnknownAuctionsAre404() {
        var limits = AuctionServiceSettings.Limits()
        limits.maxConnectionsPerIP = 2
        limits.maxConnectionsPerLink = 1
        let live = channel(ScriptedGateway { _ in nil }, limits: limits)
        let unknown = HTTPRequest(method: .get, path: "/ws/no-such-auction")
        #expect(live.shouldUpgrade(unknown) == .reject(status: 404, message: "Unknown auction."))
        live.opened(connection(1, bidder: 1, peer: "10.0.0.5"))
        #expect(live.shouldUpgrade(connection(2, bidder: 1, peer: "10.0.0.6").request).status == 429, "one link, one connection")
        live.opened(connection(3, peer: "10.0.0.5"))
        #expect(live.shouldUpgrade(connection(4, peer: "10.0.0.5").request).status == 429, "two from one address")
        #expect(live.shouldUpgrade(connection(5, peer: "10.0.0.7").request) == .accept)
    }

    @Test func aBidGoesToTheBiddersOtherConnectionsAndAStateToEveryoneBiddersFirst() {
        let at = Timestamp(microseconds: 1_732_000_000_000_000)
        let live = channel(ScriptedGateway { _ in .success(.accepted(seq: 1, amount: Money(kopiyky: 98_000), at: at)) })
        let observer = connection(1)
        let ownTab = connection(2, bidder: 1)
        let otherTab = connection(3, bidder: 1)
        let otherBidder = connection(4, bidder: 2)
        for connection in [observer, ownTab, otherTab, otherBidder] { live.opened(connection) }
        live.received(ClientMessage.bid(amount: .text("980.00"), requestId: "tab-1").text, from: ownTab)
        let before = [observer, ownTab, otherTab, otherBidder].map { $0.sent.withLock { $0.count } }
        live.deliver(
            SequencedEvent(
                auctionId: planned.input.auctionId, seq: 1,
                event: .bidAccepted(stage: 1, bidder: 1, amount: Money(kopiyky: 98_000), at: at), requestId: "tab-1"))
        let after = [observer, ownTab, otherTab, otherBidder].map { $0.sent.withLock { $0.count } }
        #expect(zip(after, before).map { $0 - $1 } == [0, 0, 1, 0], "only the bidder's other tab hears of it from the feed")
        #expect(otherTab.messages.last == .bidAccepted(requestId: "tab-1", amount: "980.00", serverTime: at.milliseconds))
        deliveries.ids.withLock { $0.removeAll() }
        live.deliver(SequencedEvent(auctionId: planned.input.auctionId, seq: 2, event: .cancelled(at: at)))
        let order = deliveries.ids.withLock { $0 }
        #expect(Set(order) == [1, 2, 3, 4] && order.last == 1, "the observer last: \(order)")
        guard case .state(let seq, let auction) = observer.messages.last else {
            Issue.record("no state")
            return
        }
        #expect(seq == 2 && auction.status == .cancelled)
    }
}

extension UpgradeDecision {
    fileprivate var status: Int? {
        if case .reject(let status, _) = self { return status }
        return nil
    }
}
