// What auctiond says of itself at `/metrics` once the auctions are over: the server's own part of
// the latencies the load generator measures from outside. The load generator shares the machine
// and reads every message on two threads (bidders, observers), so a latency seen by it can be mostly its own queueing;
// these say how much of it the server spent.
import AuctionTesting
import Foundation

/// One Prometheus histogram of durations, read in milliseconds.
public struct ServerHistogram: Codable, Sendable, Equatable {
    public var count = 0
    public var meanMilliseconds = 0.0
    /// The upper bound of the bucket that holds the 50th, 99th percentile; nil when it is past the
    /// last finite bucket (a histogram says no more than its buckets).
    public var p50AtMostMilliseconds: Double?
    public var p99AtMostMilliseconds: Double?

    /// "≤ 20 ms" style, for the report.
    public static func bound(_ milliseconds: Double?) -> String {
        milliseconds.map { "≤ \(Report.label($0)) ms" } ?? "past the last bucket"
    }
}

public struct ServerMetrics: Codable, Sendable, Equatable {
    /// State's `serverTime` stamp → handed to the last connection (`auctiond_broadcast_seconds`).
    public var broadcast: ServerHistogram?
    /// Bid message arrived → the bid script's verdict (`auctiond_bid_latency_seconds`).
    public var bidVerdict: ServerHistogram?
    /// Stage switch written, behind its planned start (`auctiond_stage_lag_seconds`).
    public var stageLag: ServerHistogram?

    /// The histograms read, each with the name the report and the digest give it.
    public var rows: [(name: String, histogram: ServerHistogram)] {
        [
            ("auctiond: stamp → last connection", broadcast), ("auctiond: bid arrived → verdict", bidVerdict),
            ("auctiond: stage switch written late", stageLag),
        ].compactMap { row in row.1.map { (row.0, $0) } }
    }

    /// Reads the three histograms from Prometheus' text format.
    public static func parse(_ text: String) -> ServerMetrics {
        ServerMetrics(
            broadcast: histogram("auctiond_broadcast_seconds", in: text),
            bidVerdict: histogram("auctiond_bid_latency_seconds", in: text),
            stageLag: histogram("auctiond_stage_lag_seconds", in: text))
    }

    /// Scrapes one auctiond (with several processes on one port, whichever the kernel picks); over
    /// https on a TLS port, through curl, taking the run's self-signed certificate.
    static func scrape(port: Int, tls: Bool = false) -> ServerMetrics? {
        guard tls else {
            guard let answer = blockingHTTP("GET", port: port, path: "/metrics"), answer.status == 200 else { return nil }
            return parse(answer.body)
        }
        guard
            let (status, text) = try? runProgram(
                "/usr/bin/curl", ["-sfk", "-m", "10", "https://127.0.0.1:\(port)/metrics"], includeErrors: false),
            status == 0
        else { return nil }
        return parse(text)
    }

    static func histogram(_ name: String, in text: String) -> ServerHistogram? {
        var buckets: [(bound: Double, cumulative: Int)] = []
        var sum: Double?
        var count: Int?
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[parts.count - 1]) else { continue }
            let key = parts[0]
            if key == "\(name)_sum" {
                sum = value
            } else if key == "\(name)_count" {
                count = Int(value)
            } else if key.hasPrefix("\(name)_bucket{"), let range = key.range(of: "le=\"") {
                let rest = key[range.upperBound...]
                guard let end = rest.firstIndex(of: "\"") else { continue }
                let bound = rest[..<end] == "+Inf" ? Double.infinity : Double(rest[..<end]) ?? .nan
                if !bound.isNaN { buckets.append((bound, Int(value))) }
            }
        }
        guard let count, let sum else { return nil }
        buckets.sort { $0.bound < $1.bound }
        func percentile(_ q: Double) -> Double? {
            guard count > 0 else { return nil }
            let rank = Int((q * Double(count)).rounded(.up))
            guard let bucket = buckets.first(where: { $0.cumulative >= rank }), bucket.bound.isFinite else { return nil }
            return bucket.bound * 1000
        }
        return ServerHistogram(
            count: count, meanMilliseconds: count > 0 ? sum / Double(count) * 1000 : 0,
            p50AtMostMilliseconds: percentile(0.5), p99AtMostMilliseconds: percentile(0.99))
    }
}
