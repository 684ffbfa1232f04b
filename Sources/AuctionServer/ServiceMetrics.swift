import Locking
import Metrics
import Synchronization

/// The service's metrics (swift-metrics; auctiond exports them at `/metrics` with swift-prometheus).
final class ServiceMetrics: Sendable {
    let httpRequests = Counter(label: "auctiond_http_requests_total")
    /// Requests and WebSocket handshakes answered 429 for their address's rate.
    let rateLimitedRequests = Counter(label: "auctiond_rate_limited_requests_total")
    let messagesIn = Counter(label: "auctiond_ws_messages_in_total")
    let messagesOut = Counter(label: "auctiond_ws_messages_out_total")
    let redisErrors = Counter(label: "auctiond_redis_errors_total")
    let bidLatency = Timer(label: "auctiond_bid_latency_seconds", preferredDisplayUnit: .seconds)
    /// From a public state's `serverTime` stamp until the lws thread has handed it to the last
    /// of its auction's connections: the server's part of what an observer waits for.
    let broadcast = Timer(label: "auctiond_broadcast_seconds", preferredDisplayUnit: .seconds)
    let observers = Meter(label: "auctiond_connections", dimensions: [("role", "observer")])
    let bidders = Meter(label: "auctiond_connections", dimensions: [("role", "bidder")])

    func bids(_ outcome: String) -> Counter { counter("auctiond_bids_total", "outcome", outcome) }

    func refused(_ code: String) -> Counter { counter("auctiond_ws_errors_total", "code", code) }

    /// Counters with a dimension, made once each: making one asks the metrics factory, under its
    /// lock, every time.
    private let counters = Locked<[String: Counter]>([:])
    private func counter(_ label: String, _ dimension: String, _ value: String) -> Counter {
        let key = label + "\u{0}" + value
        return counters.withLock { made in
            if let counter = made[key] { return counter }
            let counter = Counter(label: label, dimensions: [(dimension, value)])
            made[key] = counter
            return counter
        }
    }
}
