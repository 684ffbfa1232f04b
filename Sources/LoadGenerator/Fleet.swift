// The simulated people: B bidders and O observers per auction. The bidders are one fleet and the
// observers another, each on its own lws client thread, as they would be on their own machines:
// with one thread for all, a bidder's acknowledgement waited behind the observers' copies of every
// state that switched in the same moment, and the test measured its own queue.
// Bidders read every state's stages (they must know whose turn it is, and their own price);
// observers only scan the few fields the measurements need. Every answer is matched by requestId
// with what the script expected, and every acknowledgement is kept for the reconciliation with
// Redis and the API.
import AuctionCore
import AuctionProtocol
import AuctionStore
import AuctionTesting
import Foundation
import WebServer
import WebSocketClient

/// A bid the server acknowledged, as the bidder saw it.
struct Acknowledgement: Sendable {
    let auction: Int
    let bidder: Int
    let requestId: String
    /// nil for a cancel.
    let kopiyky: Int64?
    let serverTime: Int64
    /// When the bid was sent (µs since the epoch) and how long its answer took.
    var sentWall: Int64 = 0
    var latencyMicroseconds: Int64 = 0
}

final class Fleet: WebSocketClientDelegate, @unchecked Sendable {
    /// Which of an auction's people a fleet holds: its bidders, or every `of`-th of its observers
    /// from the `share`-th on.
    enum Crowd: Sendable, Equatable {
        case bidders
        case observers(share: Int, of: Int)
    }

    enum Expectation: Equatable {
        case accepted, cancelled, acceptedOrTurnOver, anything
        case rejected(Set<String>)
    }

    struct SentRequest {
        let connection: Int
        let sentAt: ContinuousClock.Instant
        /// The same instant on the wall clock, to compare with the script's.
        let sentWall: Int64
        let expectation: Expectation
        let text: String
        var firstAnswer: String?
        /// When it was sent again after a reconnect (wall clock, µs).
        var replayedWall: Int64?
    }

    /// Lives on the pool's thread only (closures carry it there and back).
    final class Connection: @unchecked Sendable {
        let auction: Int
        let bidderIndex: Int?
        let target: WebSocketTarget
        var open = false
        var connectStartedAt = ContinuousClock.now
        var welcomes = 0
        var number: Int?
        var lastSeq: Int64 = -1
        /// Set by each welcome: the state after it is the on-connect state, not a broadcast (after
        /// a reconnect its seq is newer, and its stage may have started while the bidder was away).
        var expectingConnectState = true
        var lastStage = Int.min
        var done = false
        var dropPlanned = false
        var played: Set<Int> = []
        var probed: Set<Int> = []
        var requests = 0
        var lastRequestId: String?
        var price: Int64 = 0
        var stormNext = ContinuousClock.now
        var stormActive = false

        init(auction: Int, bidderIndex: Int?, target: WebSocketTarget) {
            self.auction = auction
            self.bidderIndex = bidderIndex
            self.target = target
        }
    }

    final class AuctionTrack: @unchecked Sendable {
        let planned: PlannedAuction
        /// Stage → the server's stamp (ms) on the first broadcast that announced it.
        var switchStamps: [Int: Int64] = [:]
        /// Stage → when the last of this fleet's connections received it (wall µs).
        var lastDelivery: [Int: Int64] = [:]
        var bidIdByNumber: [Int: String] = [:]
        /// The stages of the last state read (by its seq): an auction's connections all get the
        /// same state, so they are scanned once for all of them.
        var parsedSeq: Int64 = -1
        var stages: [ServerMessageGlance.Stage] = []

        init(planned: PlannedAuction) { self.planned = planned }

        /// The planned start of stage `index` (Redis ms) if it starts on schedule: every stage but
        /// the announcement, which starts when the API has taken the results and the names are
        /// revealed, whenever that is.
        static func scheduledStart(_ index: Int, in stages: [ServerMessageGlance.Stage]) -> Int64? {
            stages.indices.contains(index) && stages[index].type != "announcement" ? stages[index].start : nil
        }

        /// When auctiond may switch to stage `index`: its start, and after a turn the bid grace
        /// later (`AuctionState.switchTime`: bids that arrived in time may still wait in a queue).
        static func switchDue(_ index: Int, in stages: [ServerMessageGlance.Stage]) -> Int64? {
            guard let start = scheduledStart(index, in: stages) else { return nil }
            return index > 0 && stages[index - 1].type == "bids" ? start + defaultMaxBidWaitMilliseconds : start
        }
    }

    let profile: Profile
    private(set) var pool: WebSocketClientPool!
    var connections: [Connection] = []
    var auctions: [AuctionTrack] = []
    var random: SeededGenerator
    let runStart = ContinuousClock.now

    /// What this fleet counted and timed (its thread only; copied out at the end).
    var tally = FleetTally()
    var second = ClientSecond()
    var openCount = 0
    var sent: [String: SentRequest] = [:]

    init(_ crowd: Crowd, profile: Profile, auctions planned: [PlannedAuction], webSocketPorts: [Int]) throws {
        self.profile = profile
        // Each fleet its own sequence, both from the profile's seed.
        var observerShare: (share: Int, of: Int)?
        if case .observers(let share, let of) = crowd { observerShare = (share, of) }
        random = SeededGenerator(seed: profile.seed &+ UInt64(observerShare.map { $0.share + 1 } ?? 0))
        var portIndex = 0
        let fleetNumber = observerShare.map { $0.share + 1 } ?? 0
        func target(_ url: String, query: Bool) throws -> WebSocketTarget {
            guard let parts = URLComponents(string: url), let port = parts.port, let id = parts.path.split(separator: "/").last else {
                throw LoadTestError("'\(url)' is not a link of the service")
            }
            var chosen = port
            if !webSocketPorts.isEmpty {
                chosen = webSocketPorts[portIndex % webSocketPorts.count]
                portIndex += 1
            }
            let path = "/ws/\(id)" + (query ? "?" + (parts.percentEncodedQuery ?? "") : "")
            return WebSocketTarget(
                host: parts.host ?? "127.0.0.1", port: chosen, path: path, tls: parts.scheme == "https",
                source: honestClientAddress(fleetNumber * 100_000 + connections.count))
        }
        for (index, auction) in planned.enumerated() {
            auctions.append(AuctionTrack(planned: auction))
            for (bidder, plannedBidder) in auction.bidders.enumerated() where crowd == .bidders {
                let connection = Connection(
                    auction: index, bidderIndex: bidder, target: try target(plannedBidder.participationURL, query: true))
                connection.price = plannedBidder.initialKopiyky
                connections.append(connection)
            }
            for _ in observerShare.map({ Array(stride(from: $0.share, to: profile.observersPerAuction, by: $0.of)) }) ?? [] {
                connections.append(Connection(auction: index, bidderIndex: nil, target: try target(auction.auctionURL, query: false)))
            }
        }
        pool = WebSocketClientPool(delegate: self)
    }

    // MARK: - Joining

    /// Opens every connection: all at once (rate 0), or `rate` a second.
    func connectAll(rate: Double) {
        let now = ContinuousClock.now
        for id in connections.indices {
            if rate > 0 {
                let at = now + .microseconds(Int64(1_000_000 * Double(id) / rate))
                pool.run(at: at) { [self] in open(id) }
            } else {
                pool.run { [self] in open(id) }
            }
        }
    }

    func open(_ id: Int) {
        connections[id].connectStartedAt = ContinuousClock.now
        pool.connect(id, to: connections[id].target)
    }

    var welcomedCount: Int { connections.reduce(0) { $0 + ($1.welcomes > 0 && $1.open ? 1 : 0) } }
    var doneCount: Int { connections.reduce(0) { $0 + ($1.done ? 1 : 0) } }

    // MARK: - Delegate

    func connected(_ id: Int) {
        connections[id].open = true
        openCount += 1
        tally.everOpened += 1
    }

    func disconnected(_ id: Int, reason: String?) {
        let connection = connections[id]
        if connection.open { openCount -= 1 }
        connection.open = false
        if let reason { tally.connectionErrors[reason, default: 0] += 1 }
        guard !connection.done, !stopping else { return }
        if connection.dropPlanned {
            connection.dropPlanned = false
        } else {
            tally.unexpectedCloses += 1
        }
        // Come back as the page does, after a short pause.
        pool.run(at: ContinuousClock.now + .milliseconds(Int64(200 + random.next() % 600))) { [self] in open(id) }
    }

    var stopping = false

    func received(_ message: UnsafeRawBufferPointer, on id: Int) {
        let now = RedisClock.hostMicroseconds()
        tally.totalMessages += 1
        tally.totalBytes += message.count
        second.messages += 1
        second.bytes += message.count
        let connection = connections[id]
        guard let glance = ServerMessageGlance(message) else { return note("a message without a type on connection \(id)") }
        switch glance.type {
        case "state":
            state(glance, message, connection, id, now)
        case "welcome":
            welcome(glance, connection, id)
        case "bidAccepted", "bidCancelled", "bidRejected":
            answer(glance, message, connection)
        case "error":
            tally.codes["error:" + (glance.code ?? "?"), default: 0] += 1
            // A bid the service could not take (its queue full, or Redis away): send it again.
            if glance.code == "unavailable" { tally.unavailableAt.append(now) }
        case "pong", "pendingBid":
            break
        default:
            note("unknown message type \(glance.type)")
        }
    }

    private func welcome(_ glance: ServerMessageGlance, _ connection: Connection, _ id: Int) {
        connection.welcomes += 1
        connection.expectingConnectState = true
        if connection.welcomes == 1 {
            tally.connectLatency.record(microseconds: (ContinuousClock.now - connection.connectStartedAt).wholeMicroseconds)
        }
        if let bidderIndex = connection.bidderIndex {
            guard let number = glance.bidderNumber else {
                return note("a participation link made an observer (auction \(connection.auction))")
            }
            connection.number = number
            auctions[connection.auction].bidIdByNumber[number] = auctions[connection.auction].planned.bidders[bidderIndex].bidId
            // After a reconnect, the last request again: the first answer must come back unchanged.
            if connection.welcomes > 1, let last = connection.lastRequestId, let request = sent[last] {
                tally.replays += 1
                sent[last]?.replayedWall = RedisClock.hostMicroseconds()
                pool.send(text: request.text, on: id)
            }
        }
        if connection.welcomes == 1, random.chance(profile.behaviour.reconnect) {
            let delay = random.uniform(0.2...0.8) * expectedRunSeconds
            pool.run(at: runStart + .milliseconds(Int64(delay * 1000))) { [self] in
                guard connection.open, !connection.done else { return }
                connection.dropPlanned = true
                pool.close(id)
            }
        }
    }

    /// From the creation of the tenders to the end of the last auction, as planned.
    var expectedRunSeconds: Double {
        let rounds = 3.0
        let bidders = Double(profile.biddersPerAuction)
        let (first, pause, turn) = profile.resource == "auctions" ? (300.0, 180.0, 180.0) : (300.0, 120.0, 120.0)
        return Double(profile.startAfterSeconds) + profile.startSpreadSeconds + (first + rounds * pause + rounds * bidders * turn)
            / Double(profile.accelerator)
    }

    private func state(_ glance: ServerMessageGlance, _ message: UnsafeRawBufferPointer, _ connection: Connection, _ id: Int, _ now: Int64)
    {
        guard let seq = glance.seq, let stage = glance.currentStage, let serverTime = glance.serverTime, let status = glance.status
        else { return note("a state without seq, currentStage, serverTime or status") }
        tally.stateCount += 1
        tally.stateBytes += message.count
        tally.largestState = max(tally.largestState, message.count)
        let track = auctions[connection.auction]
        if seq < connection.lastSeq { tally.seqWentBack += 1 }
        let firstAfterConnect = connection.expectingConnectState || seq <= connection.lastSeq
        connection.expectingConnectState = false
        connection.lastSeq = max(seq, connection.lastSeq)
        if track.parsedSeq != seq {
            guard let stages = glance.stages(in: message) else { return note("a state whose stages cannot be read") }
            track.parsedSeq = seq
            track.stages = stages
        }
        if connection.bidderIndex != nil { bidderState(current: Int(stage), status: status, connection, id, track) }
        if !firstAfterConnect {
            // A broadcast: from the server's stamp to this connection's receipt.
            let latency = now - serverTime * 1000
            tally.deliveries.record(microseconds: latency)
            if connection.bidderIndex != nil { tally.bidderDeliveries.record(microseconds: latency) }
            second.deliveries.record(microseconds: latency)
        }
        let index = Int(stage)
        if index > connection.lastStage {
            // Only a broadcast shows when the switch reached clients: an on-connect state is as
            // late as the connection.
            if !firstAfterConnect {
                track.lastDelivery[index] = max(track.lastDelivery[index] ?? 0, now)
                if track.switchStamps[index] == nil { track.switchStamps[index] = serverTime }
            }
            connection.lastStage = index
        }
        if ["finished", "announced", "cancelled", "rescheduled"].contains(status) {
            connection.done = true
            connection.stormActive = false
        }
    }

    /// A bidder reads the stages: whose turn it is, its own price, the schedule.
    private func bidderState(current: Int, status: String, _ connection: Connection, _ id: Int, _ track: AuctionTrack) {
        let stages = track.stages
        guard let number = connection.number, status == "active", stages.indices.contains(current) else { return }
        // Own price: the amount of this bidder's last finished turn, else its initial bid.
        var price = track.planned.bidders[connection.bidderIndex!].initialKopiyky
        for (index, stage) in stages.enumerated() where index < current && stage.type == "bids" && stage.bidder == number {
            if let text = stage.amount, let amount = ScriptedBidder.kopiyky(text) { price = amount }
        }
        connection.price = price
        let step = track.planned.stepKopiyky * (track.planned.rising ? 1 : -1)
        let stage = stages[current]
        let ownTurn = stage.type == "bids" && stage.bidder == number

        if profile.stormBidsPerSecond > 0 {
            if !connection.stormActive {
                connection.stormActive = true
                connection.stormNext = ContinuousClock.now
            }
            return
        }
        let end = stage.end
        // A state that arrives after its stage's scheduled end (the service fell behind) is stale:
        // the bid script judges by Redis time, so what a bid from it gets depends on how late it
        // is. Those bids are counted, not judged; `staleStates` says how many there were.
        let stale = end > 0 && RedisClock.hostMicroseconds() >= end * 1000
        if stale { tally.staleStates += 1 }
        if ownTurn, !connection.played.contains(current) {
            connection.played.insert(current)
            playTurn(connection, id, stage: current, price: price, step: step, end: end, stale: stale)
        } else if !ownTurn, stage.type == "bids", stage.bidder != nil, !connection.probed.contains(current) {
            connection.probed.insert(current)
            // Right after its own turn a bidder hears `turn_over`; later, `not_your_turn`.
            if random.chance(profile.behaviour.outOfTurn) {
                bid(connection, id, amount: price + step, expect: stale ? .anything : .rejected(["not_your_turn", "turn_over"]))
            }
        }
    }

    /// One turn of the script: probes that must be refused, the bid, then perhaps a replacement, a
    /// cancel, and a bid racing the end of the turn.
    private func playTurn(_ connection: Connection, _ id: Int, stage: Int, price: Int64, step: Int64, end: Int64, stale: Bool) {
        let behaviour = profile.behaviour
        let rising = step > 0
        func bid(_ connection: Connection, _ id: Int, amount: Int64, expect: Expectation) {
            self.bid(connection, id, amount: amount, expect: stale ? .anything : expect)
        }
        func bid(_ connection: Connection, _ id: Int, input: AmountInput, expect: Expectation) {
            self.bid(connection, id, input: input, expect: stale ? .anything : expect)
        }
        if random.chance(behaviour.tooHigh) { bid(connection, id, amount: price, expect: .rejected([rising ? "too_low" : "too_high"])) }
        if random.chance(behaviour.tooLow) {
            if rising {
                bid(connection, id, input: .text("12.345"), expect: .rejected(["invalid_amount"]))
            } else {
                bid(connection, id, amount: 0, expect: .rejected(["too_low"]))
            }
        }
        bid(connection, id, amount: price + step, expect: .accepted)
        if random.chance(behaviour.replace) { bid(connection, id, amount: price + 2 * step, expect: .accepted) }
        if random.chance(behaviour.cancel) {
            bid(connection, id, input: .number(-1), expect: .cancelled)
            if random.chance(0.5) { bid(connection, id, amount: price + step, expect: .accepted) }
        }
        if random.chance(behaviour.raceTurnEnd), end > 0 {
            let delay = end * 1000 - Int64(behaviour.raceMarginMilliseconds) * 1000 - RedisClock.hostMicroseconds()
            if delay > 0 {
                pool.run(at: ContinuousClock.now + .microseconds(delay)) { [self] in
                    guard connection.open else { return }
                    self.bid(connection, id, amount: price + 3 * step, expect: .acceptedOrTurnOver)
                }
            }
        }
    }

    /// Sends the storm's bids that are due: one step better than the own price, in turn or not.
    /// One bid per connection per tick at most, and a late tick does not catch up: the next bid is
    /// a whole interval after this one, so no second holds more than the rate (bursts would
    /// trip the server's per-connection limit and measure `rate_limited` instead of bids).
    func stormTick() {
        let now = ContinuousClock.now
        let interval = Duration.microseconds(Int64(1_000_000 / max(profile.stormBidsPerSecond, 0.001)))
        for (id, connection) in connections.enumerated() where connection.stormActive && connection.open && !connection.done {
            guard connection.stormNext <= now else { continue }
            let planned = auctions[connection.auction].planned
            bid(connection, id, amount: connection.price + planned.stepKopiyky * (planned.rising ? 1 : -1), expect: .anything)
            connection.stormNext = now + interval
        }
    }

    private func bid(_ connection: Connection, _ id: Int, amount: Int64, expect: Expectation) {
        bid(connection, id, input: .text(ScriptedBidder.text(amount)), expect: expect)
    }

    private func bid(_ connection: Connection, _ id: Int, input amount: AmountInput, expect: Expectation) {
        connection.requests += 1
        let requestId = "c\(id)-\(connection.requests)"
        let text = ClientMessage.bid(amount: amount, requestId: requestId).text
        sent[requestId] = SentRequest(
            connection: id, sentAt: ContinuousClock.now, sentWall: RedisClock.hostMicroseconds(), expectation: expect, text: text)
        connection.lastRequestId = requestId
        tally.bidsSent += 1
        pool.send(text: text, on: id)
    }

    private func answer(_ glance: ServerMessageGlance, _ message: UnsafeRawBufferPointer, _ connection: Connection) {
        guard let requestId = glance.requestId, var request = sent[requestId]
        else {
            return note("an answer to no request of this bidder: \(String(decoding: message, as: UTF8.self).prefix(120))")
        }
        let code = glance.type == "bidRejected" ? (glance.code ?? "?") : glance.type
        let amount = glance.amount
        let fingerprint = code + "|" + (amount ?? "")
        if let first = request.firstAnswer {
            // A replay after a reconnect: idempotent means the very same answer, unless it was
            // judged after the turn it was sent in had ended: in another turn of the bidder's the
            // id means another request (PROTOCOL.md: `request_id_reused`). The server judges a
            // bid when it reaches the bid (up to its wait bound later, more while a process
            // restarts), so a replay sent just before the end may be judged after it: the
            // answer's arrival, not the replay's sending, bounds when it was judged.
            let answeredAt = RedisClock.hostMicroseconds()
            let turnOver =
                request.replayedWall.map { _ in
                    let turn = auctions[connection.auction].stages.last { $0.start * 1000 <= request.sentWall }
                    return turn.map { answeredAt > $0.end * 1000 } ?? true
                } ?? false
            if first != fingerprint, !(code == "request_id_reused" && turnOver) {
                tally.replayMismatches += 1
                note("request \(requestId) answered \(first) first and \(fingerprint) on replay")
            }
            return
        }
        request.firstAnswer = fingerprint
        sent[requestId] = request
        let latency = (ContinuousClock.now - request.sentAt).wholeMicroseconds
        tally.bidAnswers.record(microseconds: latency)
        second.bidAnswers.record(microseconds: latency)
        tally.codes[code, default: 0] += 1
        let serverTime = glance.serverTime ?? 0
        if glance.type == "bidAccepted" {
            tally.acceptedAnswers.record(microseconds: latency)
            // serverTime is whole milliseconds: either part may read up to 1 ms short (never < 0).
            tally.toScript.record(microseconds: max(0, serverTime * 1000 - request.sentWall))
            tally.fromScript.record(microseconds: max(0, RedisClock.hostMicroseconds() - serverTime * 1000))
            tally.acknowledgements.append(
                Acknowledgement(
                    auction: connection.auction, bidder: connection.number ?? 0, requestId: requestId,
                    kopiyky: amount.flatMap(ScriptedBidder.kopiyky), serverTime: serverTime, sentWall: request.sentWall,
                    latencyMicroseconds: latency))
        } else if glance.type == "bidCancelled" {
            tally.acknowledgements.append(
                Acknowledgement(
                    auction: connection.auction, bidder: connection.number ?? 0, requestId: requestId, kopiyky: nil, serverTime: serverTime)
            )
        }
        let fits: Bool =
            switch request.expectation {
            case .anything: true
            case .accepted: code == "bidAccepted"
            case .cancelled: code == "bidCancelled"
            case .acceptedOrTurnOver: code == "bidAccepted" || code == "turn_over"
            case .rejected(let expected): expected.contains(code)
            }
        if !fits { note("request \(requestId) expected \(request.expectation), got \(code)") }
    }

    private func note(_ problem: String) {
        tally.unexpectedCount += 1
        if tally.unexpected.count < 50 { tally.unexpected.append(problem) }
    }
}

/// Each honest client comes from a loopback address of its own (127.1.0.1 onwards), as bidders and
/// observers on the Internet do, so that the service's per-address limits meet them as they would
/// meet real clients; the attack profile's hostile clients share `attack.sourceAddress`.
func honestClientAddress(_ n: Int) -> String { "127.\(1 + n / 62_500 % 254).\(n / 250 % 250).\(n % 250 + 1)" }
