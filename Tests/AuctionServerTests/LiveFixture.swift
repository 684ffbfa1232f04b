import AuctionCore
import AuctionRuntime
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import Locking
import Synchronization

/// Redis, one planned auction in it, and an auctiond process serving it.
final class LiveFixture: @unchecked Sendable {
    let redis: RedisServer
    let store: AuctionStore
    let planned: AuctionState
    let daemon: AuctiondProcess
    let tokens = ParticipationTokens(secrets: [AuctiondProcess.hashSecret])
    var auctionId: String { planned.input.auctionId }

    init(
        amounts: [Double] = [900, 950], offset: Int64 = 1000, firstPause: Int64 = 500, pause: Int64 = 300, turn: Int64 = 600,
        environment: [String: String] = [:], appendOnly: Bool = false, redisArguments: [String] = []
    ) throws {
        redis = try RedisServer(appendOnly: appendOnly, extraArguments: redisArguments)
        store = AuctionStore(endpoint: redis.endpoint)
        planned = try samplePlannedAuction(
            amounts: amounts, start: store.now().adding(milliseconds: offset), firstPause: firstPause, pause: pause, turn: turn)
        try store.create(planned)
        daemon = try AuctiondProcess(redisURL: redis.url, environment: environment)
        guard daemon.waitForAuction(auctionId) else { throw LiveTestError(description: "auction never loaded:\n\(daemon.log)") }
    }

    /// The WebSocket path of bidder `number` (their participation link's query).
    func bidderPath(_ number: Int, token: String? = nil) -> String {
        let bidId = planned.participants[number - 1].bidId
        return "/ws/\(auctionId)?key_for_bid=\(bidId)&hash=\(token ?? tokens.token(auctionId: auctionId, bidId: bidId))"
    }

    func observer(on daemon: AuctiondProcess? = nil) throws -> TestWebSocketClient {
        try (daemon ?? self.daemon).webSocket("/ws/\(auctionId)")
    }
    func bidder(_ number: Int, on daemon: AuctiondProcess? = nil) throws -> TestWebSocketClient {
        try (daemon ?? self.daemon).webSocket(bidderPath(number))
    }
}

extension TestWebSocketClient {
    /// Reads JSON messages until one of `type` arrives (others are returned too, in order).
    func receive(until type: String, limit: Int = 200) throws -> [[String: Any]] {
        var messages: [[String: Any]] = []
        for _ in 0..<limit {
            let message = try receiveJSON()
            messages.append(message)
            if message["type"] as? String == type { return messages }
        }
        throw LiveTestError(description: "no \(type) in \(limit) messages")
    }

    /// Sends a bid, and again with the same `requestId` while it is answered `unavailable` (as
    /// the page does), for up to `patience`: the answer that is not `unavailable`, or the last.
    func bidUntilAnswered(_ amount: String, requestId: String, patience: Duration = .seconds(30)) throws -> [String: Any] {
        let deadline = ContinuousClock.now + patience
        while true {
            try sendJSON(["type": "bid", "amount": amount, "requestId": requestId])
            let answer = try receiveReply()
            guard answer["code"] as? String == "unavailable", ContinuousClock.now < deadline else { return answer }
            Thread.sleep(forTimeInterval: 0.3)
        }
    }

    /// The next message that is not a `state` broadcast (the clock may switch stages meanwhile).
    func receiveReply() throws -> [String: Any] {
        while true {
            let message = try receiveJSON()
            if message["type"] as? String != "state" { return message }
        }
    }

    /// The auction of the first `state` broadcast whose auction satisfies `condition`; earlier
    /// states (a stage the clock switched to just before) are skipped, anything else is an error.
    func receiveAuction(where condition: ([String: Any]) -> Bool, limit: Int = 50) throws -> [String: Any] {
        for _ in 0..<limit {
            let message = try receiveJSON()
            guard message["type"] as? String == "state", let auction = message["auction"] as? [String: Any] else {
                throw LiveTestError(description: "expected a state, got \(message)")
            }
            if condition(auction) { return auction }
        }
        throw LiveTestError(description: "no matching state in \(limit) messages")
    }

    func sendJSON(_ value: [String: Any]) throws {
        try send(text: String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self))
    }
}

/// Collects values from any thread.
final class Collected<Value: Sendable>: Sendable {
    private let values = Locked<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

func stageOf(_ state: [String: Any]) -> [String: Any]? {
    guard let auction = state["auction"] as? [String: Any], let current = auction["currentStage"] as? Int,
        let stages = auction["stages"] as? [[String: Any]], stages.indices.contains(current)
    else { return nil }
    return stages[current]
}

struct LiveTestError: Error, CustomStringConvertible {
    let description: String
}
