// The WebSocket channel `/ws/{auctionId}` (PROTOCOL.md): connect, messages, and the fan-out of
// events from the feed. A thin adapter over the runtime: its connections are `LiveConnection`s
// (lws WebSockets in the service) and its bids go to a `BidGateway` (the store workers), so it is
// tested in process (LiveChannelTests) beside the live tests. Callbacks from WebServer run on the
// lws thread and must not block.
import AuctionCore
import AuctionProtocol
import AuctionRuntime
import AuctionStore
import Foundation
import Logging
import WebServer

/// One live connection as the channel sees it.
protocol LiveConnection: AnyObject, Sendable {
    var id: UInt64 { get }
    var request: HTTPRequest { get }
    func send(text: String)
    /// Sends text already in UTF-8 (a server message written without a String).
    func send(utf8: [UInt8])
    func close(_ code: CloseCode, reason: String)
    /// Writes one text to `connections` (of this one's kind), serialised once; `handedOver` runs
    /// when the last is handed to its socket.
    func broadcast(_ text: String, to connections: [any LiveConnection], handedOver: (@Sendable () -> Void)?)
}

extension WebSocket: LiveConnection {
    func send(utf8: [UInt8]) { send(OutgoingFrame(utf8)) }

    func broadcast(_ text: String, to connections: [any LiveConnection], handedOver: (@Sendable () -> Void)?) {
        WebSocket.send(OutgoingFrame(text: text), to: connections.compactMap { $0 as? WebSocket }, handedOver: handedOver)
    }
}

/// Where a bid goes to be judged: the auction's store worker in the service.
protocol BidGateway: Sendable {
    /// Queues `bid`; `answer` comes on another thread. False, and nothing queued, when the
    /// auction's queue is full.
    func submit(_ bid: BidSubmission, answer: @escaping StoreWorker.BidAnswer) -> Bool
}

final class LiveChannel: Sendable {
    let live: LiveAuctions
    let tokens: ParticipationTokens
    let clock: RedisClock
    let limits: AuctionServiceSettings.Limits
    let metrics: ServiceMetrics
    let logger: Logger
    let bids: any BidGateway

    init(
        live: LiveAuctions, tokens: ParticipationTokens, clock: RedisClock, limits: AuctionServiceSettings.Limits, metrics: ServiceMetrics,
        logger: Logger, bids: any BidGateway
    ) {
        self.live = live
        self.tokens = tokens
        self.clock = clock
        self.limits = limits
        self.metrics = metrics
        self.logger = logger
        self.bids = bids
    }

    func shouldUpgrade(_ request: HTTPRequest) -> UpgradeDecision {
        guard case .webSocket(let id) = Route(path: request.path), live.contains(id) else {
            return .reject(status: 404, message: "Unknown auction.")
        }
        return live.withContents { contents in
            if contents.sessions.count >= limits.maxConnections {
                return .reject(status: 503, message: "The server is at its connection limit.")
            }
            if contents.connectionsPerPeer[request.peer, default: 0] >= limits.maxConnectionsPerIP {
                return .reject(status: 429, message: "Too many connections from your address.")
            }
            // One bidder's link cannot take the connections of many (a leaked or shared link).
            if let replica = contents.auctions[id]?.replica, case .bidder(let number) = role(of: request, in: replica).0,
                contents.connectionsPerLink[LiveAuctions.linkKey(id, number), default: 0] >= limits.maxConnectionsPerLink
            {
                return .reject(
                    status: 429, message: "Too many connections with this participation link (at most \(limits.maxConnectionsPerLink)).")
            }
            return .accept
        }
    }

    func opened(_ socket: any LiveConnection) {
        guard case .webSocket(let id) = Route(path: socket.request.path) else {
            return socket.close(.policyViolation, reason: "no auction")
        }
        let now = clock.now.milliseconds
        live.withContents { contents in
            guard var auction = contents.auctions[id] else {
                socket.close(.policyViolation, reason: "unknown auction")
                return
            }
            let (role, presentedBadToken) = role(of: socket.request, in: auction.replica)
            contents.sessions[socket.id] = Session(socket: socket, auctionId: id, role: role)
            contents.connectionsPerPeer[socket.request.peer, default: 0] += 1
            if let number = role.bidderNumber { contents.connectionsPerLink[LiveAuctions.linkKey(id, number), default: 0] += 1 }
            auction.sockets.insert(socket.id)
            contents.auctions[id] = auction
            let state = auction.replica.state
            var coefficient: String?
            if let number = role.bidderNumber, state.input.isMEAT { coefficient = state.participants[number - 1].coefficient.description }
            send(ServerMessage.welcome(role: role, auctionId: id, serverTime: now, coefficient: coefficient), to: socket)
            send(
                ServerMessage.state(
                    seq: auction.replica.seq, auction: auction.replica.publicView(serverTime: Timestamp(milliseconds: now))),
                to: socket)
            if presentedBadToken {
                send(
                    ServerMessage.error(.invalidToken, "The participation link is not valid: you are watching as an observer."), to: socket)
                logger.notice("invalid participation token", metadata: ["auction": "\(id)", "peer": "\(socket.request.peer)"])
            }
            if let number = role.bidderNumber, let pending = state.pendingBid(of: number) {
                send(ServerMessage.pendingBid(amount: pending.amount), to: socket)
            }
            (role == .observer ? metrics.observers : metrics.bidders).increment(by: 1)
        }
    }

    func closed(_ socket: any LiveConnection) {
        live.withContents { contents in
            guard let session = contents.sessions.removeValue(forKey: socket.id) else { return }
            contents.auctions[session.auctionId]?.sockets.remove(socket.id)
            let peer = socket.request.peer
            let left = contents.connectionsPerPeer[peer, default: 1] - 1
            contents.connectionsPerPeer[peer] = left > 0 ? left : nil
            if let number = session.role.bidderNumber {
                let key = LiveAuctions.linkKey(session.auctionId, number)
                let links = contents.connectionsPerLink[key, default: 1] - 1
                contents.connectionsPerLink[key] = links > 0 ? links : nil
            }
            (session.role == .observer ? metrics.observers : metrics.bidders).decrement(by: 1)
        }
    }

    func receivedTooLarge(from socket: any LiveConnection) {
        metrics.messagesIn.increment()
        violation(socket, .tooLarge, "A message may be at most 4 KiB.")
    }

    func received(_ text: String, from socket: any LiveConnection) {
        metrics.messagesIn.increment()
        guard let session = admit(socket) else { return }
        switch ClientMessage.read(text) {
        case .failure(.badJSON(let message)):
            refuse(socket, .badJSON, message)
        case .failure(.unknownType(let message)):
            refuse(socket, .unknownType, message)
        case .success(.ping(let clientTime)):
            send(ServerMessage.pong(clientTime: clientTime, serverTime: clock.now.milliseconds), to: socket)
        case .success(.resync):
            guard let replica = live.replica(session.auctionId) else { return }
            send(ServerMessage.state(seq: replica.seq, auction: replica.publicView(serverTime: clock.now)), to: socket)
        case .success(.bid(let amount, let requestId)):
            let request: BidRequest = amount.map { BidRequest(readBidIntent($0)) } ?? .invalid
            bid(request, requestId: requestId, session: session)
        case .success(.cancel(let requestId)):
            bid(.cancel, requestId: requestId, session: session)
        }
    }

    // MARK: - Bids

    private func bid(_ request: BidRequest, requestId: String?, session: Session) {
        let socket = session.socket
        guard case .bidder(let bidder) = session.role else {
            metrics.bids("observer").increment()
            return send(ServerMessage.bidRejected(requestId: requestId, BidRejection(.observer)), to: socket)
        }
        // Without a client id the bid still gets one, unique, so the script can record it.
        let scriptRequestId = requestId ?? "server-\(UUID().uuidString)"
        live.withContents { $0.sessions[socket.id]?.remember(scriptRequestId) }
        let received = ContinuousClock.now
        let submission = BidSubmission(
            auctionId: session.auctionId, bidder: bidder, request: request, requestId: scriptRequestId, arrivedAt: clock.now)
        let queued = bids.submit(submission) { outcome in
            self.metrics.bidLatency.recordNanoseconds((ContinuousClock.now - received).wholeNanoseconds)
            switch outcome {
            case .success(.accepted(_, let amount, let at)):
                self.metrics.bids("accepted").increment()
                self.send(ServerMessage.bidAccepted(requestId: requestId, amount: amount, serverTime: at.milliseconds), to: socket)
            case .success(.cancelled(_, let at)):
                self.metrics.bids("cancelled").increment()
                self.send(ServerMessage.bidCancelled(requestId: requestId, serverTime: at.milliseconds), to: socket)
            case .success(.rejected(let code, _)):
                self.metrics.bids(code.rawValue).increment()
                self.send(ServerMessage.bidRejected(requestId: requestId, BidRejection(code)), to: socket)
            case .failure(.outagePending):
                self.metrics.bids("outage").increment()
                self.send(
                    ServerMessage.error(
                        .unavailable,
                        "The auction is recovering from an outage and its timeline is being moved; nothing was recorded. Send the bid again with the same requestId.",
                        requestId: requestId),
                    to: socket)
            case .failure(.notReplicated(_, let replicas, let needed)):
                self.metrics.bids("unreplicated").increment()
                self.logger.warning(
                    "bid not acknowledged: too few Redis replicas have it",
                    metadata: ["auction": "\(session.auctionId)", "replicas": "\(replicas)", "needed": "\(needed)"])
                self.send(
                    ServerMessage.error(
                        .unavailable,
                        "The bid is not yet safe from a storage failover, so it is not confirmed. Send it again with the same requestId.",
                        requestId: requestId),
                    to: socket)
            case .failure(let error):
                self.metrics.redisErrors.increment()
                self.logger.error(
                    "bid not recorded", metadata: ["auction": "\(session.auctionId)", "bidder": "\(bidder)", "error": "\(error)"])
                self.send(
                    ServerMessage.error(
                        .unavailable,
                        "The bid could not be confirmed because storage did not answer. Send it again with the same requestId.",
                        requestId: requestId),
                    to: socket)
            }
        }
        if !queued {
            metrics.bids("busy").increment()
            send(
                ServerMessage.error(
                    .unavailable, "The service is busy and did not record the bid. Send it again with the same requestId.",
                    requestId: requestId),
                to: socket)
        }
    }

    // MARK: - Fan-out

    /// An event from the feed (the feed's thread, in `seq` order per auction): fold it into the
    /// replica, then tell the connections it concerns. A public change is serialised once and
    /// written to every connection of the auction; a bid goes only to its bidder's connections.
    func deliver(_ event: SequencedEvent) {
        // What to send is decided under the lock; the public state is serialised after it, so the
        // lws thread never waits for JSON encoding.
        enum Outgoing {
            case text(String)
            case state(seq: Int64, AuctionReplica)
        }
        let (outgoing, targets): (Outgoing?, [any LiveConnection]) = live.withContents { contents in
            guard var auction = contents.auctions[event.auctionId] else { return (nil, []) }
            do {
                guard try auction.replica.apply(event) == .applied else { return (nil, []) }
            } catch {
                logger.error("event does not apply", metadata: ["auction": "\(event.auctionId)", "error": "\(error)"])
                return (nil, [])
            }
            contents.auctions[event.auctionId] = auction
            func bidderSockets(_ bidder: Int) -> [any LiveConnection] {
                auction.sockets.compactMap { contents.sessions[$0] }.filter { session in
                    session.role.bidderNumber == bidder && !(event.requestId.map(session.ownRequestIds.contains) ?? false)
                }.map(\.socket)
            }
            switch event.event {
            case .bidAccepted(_, let bidder, let amount, let at):
                return (
                    .text(ServerMessage.bidAccepted(requestId: event.requestId, amount: amount, serverTime: at.milliseconds).text),
                    bidderSockets(bidder)
                )
            case .bidCancelled(_, let bidder, let at):
                return (
                    .text(ServerMessage.bidCancelled(requestId: event.requestId, serverTime: at.milliseconds).text), bidderSockets(bidder)
                )
            default:
                let sessions = auction.sockets.compactMap { contents.sessions[$0] }
                return (
                    .state(seq: auction.replica.seq, auction.replica),
                    biddersFirst(sessions) { $0.role.bidderNumber != nil }.map(\.socket)
                )
            }
        }
        guard let outgoing, !targets.isEmpty else { return }
        metrics.messagesOut.increment(by: Int64(targets.count))
        switch outgoing {
        case .text(let text):
            targets[0].broadcast(text, to: targets, handedOver: nil)
        case .state(let seq, let replica):
            let stamped = ContinuousClock.now
            let message = ServerMessage.state(seq: seq, auction: replica.publicView(serverTime: clock.now)).text
            targets[0].broadcast(message, to: targets) { [metrics] in
                metrics.broadcast.recordNanoseconds((ContinuousClock.now - stamped).wholeNanoseconds)
            }
        }
    }

    // MARK: - Helpers

    /// The session of `socket` if its message is within the rate limit; otherwise answers
    /// `rate_limited` (and closes the connection after repeated violations).
    private func admit(_ socket: any LiveConnection) -> Session? {
        let second = RedisClock.hostMicroseconds() / 1_000_000
        let limit = limits.messagesPerSecond
        let outcome: (session: Session?, limited: Bool) = live.withContents { contents in
            guard var session = contents.sessions[socket.id] else { return (nil, false) }
            if session.windowStart != second {
                if session.messagesInWindow <= limit { session.violations = 0 }
                session.windowStart = second
                session.messagesInWindow = 0
            }
            session.messagesInWindow += 1
            contents.sessions[socket.id] = session
            return (session, session.messagesInWindow > limit)
        }
        guard let session = outcome.session else { return nil }
        if outcome.limited {
            violation(socket, .rateLimited, "At most \(limit) messages a second.")
            return nil
        }
        return session
    }

    /// Answers a violation of a limit with its error, and closes the connection with 1008 when
    /// the client keeps on.
    private func violation(_ socket: any LiveConnection, _ code: ServerMessage.ErrorCode, _ message: String) {
        let limit = limits.violationsBeforeClose
        let violations: Int = live.withContents { contents in
            contents.sessions[socket.id]?.violations += 1
            return contents.sessions[socket.id]?.violations ?? 0
        }
        // Past the limit the answers stop; the close follows once.
        if violations <= limit { refuse(socket, code, message) }
        if violations == limit {
            logger.notice(
                "closing a connection that keeps breaking the limits",
                metadata: ["code": "\(code.rawValue)", "peer": "\(socket.request.peer)"])
            socket.close(.policyViolation, reason: code.rawValue)
        }
    }

    private func refuse(_ socket: any LiveConnection, _ code: ServerMessage.ErrorCode, _ message: String) {
        metrics.refused(code.rawValue).increment()
        send(ServerMessage.error(code, message), to: socket)
    }

    func send(_ message: ServerMessage, to socket: any LiveConnection) {
        metrics.messagesOut.increment()
        socket.send(utf8: message.utf8)
    }

    /// Who the request is: a bidder with a valid link, or an observer (and whether it presented a
    /// link that does not verify). The token itself is never logged.
    private func role(of request: HTTPRequest, in replica: AuctionReplica) -> (SessionRole, Bool) {
        let bidId = request.queryValue("key_for_bid")
        let token = request.queryValue("hash")
        guard bidId != nil || token != nil else { return (.observer, false) }
        guard let bidId, let token,
            let index = replica.state.participants.firstIndex(where: { $0.bidId == bidId }),
            tokens.verify(token, auctionId: replica.auctionId, bidId: bidId)
        else { return (.observer, true) }
        return (.bidder(number: index + 1), false)
    }
}
