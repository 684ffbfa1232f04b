// Correctness as part of the report: every acknowledgement the bidders received is looked up in
// the auction's Redis Stream (the service's truth), every accepted bid in the Stream is checked
// against its turn's deadline, and the final prices the tender API received are recomputed from
// the Stream. Lost, duplicated and late-accepted bids must all be 0.
import AuctionCore
import AuctionTesting
import Foundation
import RedisClient

public struct Correctness: Codable, Sendable {
    public var acknowledged = 0
    public var cancelsAcknowledged = 0
    /// Acknowledged, but not in the Stream (or there with another amount).
    public var lost = 0
    /// One request recorded more than once.
    public var duplicated = 0
    /// Accepted at or after its turn's end, or outside the bidder's own turn.
    public var lateAccepted = 0
    /// Accepted bids in the Stream that no bidder saw acknowledged (a connection dropped before
    /// the answer arrived: not an error, but counted).
    public var unacknowledgedInStream = 0
    public var auctionsChecked = 0
    /// Auctions whose schedule an outage moved (the service missed its heartbeat): their bids are
    /// judged by the Stream's order, as the live timeline no longer shows the ends they met.
    public var auctionsWithOutages = 0
    /// Auctions whose results reached the API exactly once, with prices equal to the Stream's.
    public var resultsMatching = 0
    public var resultsMismatched = 0
    public var resultsMissing = 0
    public var resultPostsAccepted = 0
    public var problems: [String] = []

    public var passed: Bool {
        lost == 0 && duplicated == 0 && lateAccepted == 0 && resultsMismatched == 0 && resultsMissing == 0
    }
}

struct Reconciler {
    let redis: RedisEndpoint
    let sandbox: SandboxTenders

    func check(_ auctions: [Fleet.AuctionTrack], acknowledgements: [Acknowledgement]) throws -> Correctness {
        var report = Correctness()
        let connection = try redis.connectForCommands(timeout: .seconds(10))
        let posts = sandbox.acceptedResultPosts()
        var acksByAuction: [Int: [Acknowledgement]] = [:]
        for ack in acknowledgements { acksByAuction[ack.auction, default: []].append(ack) }
        for (index, track) in auctions.enumerated() {
            report.auctionsChecked += 1
            let id = track.planned.auctionId
            let keys = "auction:{\(id)}"
            let log = try connection.execute("XRANGE", keys + ":log", "-", "+").array ?? []
            let timeline = try timelineOf(connection, keys)
            var byRequest: [String: [[String: String]]] = [:]
            var pending: [Int: [Int: Int64]] = [:]  // stage → bidder → amount
            // In Stream order: the latest stage started so far, and whether an outage moved the
            // schedule (then the live hash's timeline is the moved one, not the one a bid met).
            var stageStarted = -1
            var outageBeforeEnd = false
            var entries: [[String: String]] = []
            for entry in log {
                guard let pair = entry.array, pair.count == 2, let flat = pair[1].array else { continue }
                var fields: [String: String] = [:]
                for i in stride(from: 0, to: flat.count - 1, by: 2) {
                    if let key = flat[i].string, let value = flat[i + 1].string { fields[key] = value }
                }
                entries.append(fields)
            }
            let outages = entries.filter { $0["type"] == "outageRecovered" }.count
            if outages > 0 { report.auctionsWithOutages += 1 }
            for fields in entries {
                guard let type = fields["type"] else { continue }
                if type == "stageStarted", let index = fields["stage"].flatMap(Int.init) {
                    stageStarted = max(stageStarted, index)
                    continue
                }
                if type == "outageRecovered" { outageBeforeEnd = true }
                guard type == "bidAccepted" || type == "bidCancelled",
                    let stage = fields["stage"].flatMap(Int.init), let bidder = fields["bidder"].flatMap(Int.init)
                else { continue }
                if let requestId = fields["requestId"] { byRequest["\(bidder):\(requestId)", default: []].append(fields) }
                if type == "bidAccepted" {
                    pending[stage, default: [:]][bidder] = fields["amount"].flatMap { Int64($0) }
                    let at = fields["at"].flatMap { Int64($0) } ?? 0
                    // Late: recorded after a later stage had started, or (when no outage moved the
                    // schedule) at or after its turn's end; out of turn: not the turn's bidder.
                    var late = stage < stageStarted
                    if timeline.indices.contains(stage) {
                        let turn = timeline[stage]
                        if turn.bidder != bidder { late = true }
                        if !outageBeforeEnd && outages == 0 && (at >= turn.end || at < turn.start) { late = true }
                    } else {
                        late = true
                    }
                    if late {
                        report.lateAccepted += 1
                        problem(
                            &report,
                            "\(id): bid of bidder \(bidder) accepted at \(at) µs in stage \(stage) after stage \(stageStarted) had started, or outside [\(timeline.indices.contains(stage) ? "\(timeline[stage].start), \(timeline[stage].end)" : "?"))"
                        )
                    }
                } else {
                    pending[stage]?[bidder] = nil
                }
            }
            // Every acknowledgement is in the Stream, once, with its amount.
            var seen: Set<String> = []
            for ack in acksByAuction[index] ?? [] {
                if ack.kopiyky == nil { report.cancelsAcknowledged += 1 } else { report.acknowledged += 1 }
                let key = "\(ack.bidder):\(ack.requestId)"
                seen.insert(key)
                let entries = byRequest[key] ?? []
                let wanted = ack.kopiyky == nil ? "bidCancelled" : "bidAccepted"
                let matching = entries.filter { $0["type"] == wanted && (ack.kopiyky == nil || $0["amount"] == String(ack.kopiyky!)) }
                if matching.isEmpty {
                    report.lost += 1
                    problem(&report, "\(id): \(wanted) \(ack.requestId) of bidder \(ack.bidder) acknowledged but not in the Stream")
                } else if entries.count > 1 {
                    report.duplicated += 1
                    problem(&report, "\(id): request \(ack.requestId) of bidder \(ack.bidder) is in the Stream \(entries.count) times")
                }
            }
            report.unacknowledgedInStream +=
                byRequest.filter { !seen.contains($0.key) && $0.value.contains { $0["type"] == "bidAccepted" } }.count

            // The results the API received: each bidder's last standing bid, else its initial one.
            report.resultPostsAccepted += posts[track.planned.tenderId] ?? 0
            var expected: [Int: Int64] = [:]
            for stage in pending.keys.sorted() { for (bidder, amount) in pending[stage]! { expected[bidder] = amount } }
            guard posts[track.planned.tenderId] == 1,
                let view = sandbox.publicTender(resource: track.planned.resource, tenderId: track.planned.tenderId)
            else {
                report.resultsMissing += 1
                problem(&report, "\(id): \(posts[track.planned.tenderId] ?? 0) results POSTs accepted by the API (1 expected)")
                continue
            }
            var matches = true
            for bid in view["bids"] as? [[String: Any]] ?? [] {
                guard let bidId = bid["id"] as? String else { continue }
                let number = track.bidIdByNumber.first { $0.value == bidId }?.key
                let initial = track.planned.bidders.first { $0.bidId == bidId }?.initialKopiyky
                let want = number.flatMap { expected[$0] } ?? initial
                let got = ScriptedBidder.kopiyky(jsonAmount: (bid["value"] as? [String: Any])?["amount"])
                if want != got {
                    matches = false
                    problem(&report, "\(id): the API holds \(got) for bid \(bidId), the Stream says \(want.map(String.init) ?? "?")")
                }
            }
            if matches { report.resultsMatching += 1 } else { report.resultsMismatched += 1 }
        }
        return report
    }

    struct Turn {
        let start: Int64
        let end: Int64
        let bidder: Int
    }

    /// The bid script's own timeline (µs), from the live hash: `[kind, start, end, bidder]`.
    private func timelineOf(_ connection: any RedisCommands, _ keys: String) throws -> [Turn] {
        guard let text = try connection.execute("HGET", keys + ":live", "timeline").string,
            let entries = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[Any]]
        else { return [] }
        return entries.map { entry in
            func int(_ i: Int) -> Int64 { i < entry.count ? ((entry[i] as? NSNumber)?.int64Value ?? 0) : 0 }
            return Turn(start: int(1), end: int(2) < 0 ? Int64.max : int(2), bidder: Int(int(3)))
        }
    }

    private func problem(_ report: inout Correctness, _ text: String) {
        if report.problems.count < 50 { report.problems.append(text) }
    }
}
